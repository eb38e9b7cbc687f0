"""The optional HTTP API (`pip install "todo-shared-tasks[api]"`): `create_app()` builds it.

Importing this package loads FastAPI; the CLI imports it only inside `todo serve`.
"""

from todo_cli.api.app import create_app

__all__ = ["create_app"]
