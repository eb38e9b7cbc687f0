"""`todo serve`: the HTTP API under uvicorn (needs the `api` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from todo_cli.errors import ConfigError

INSTALL_HINT = 'pip install "todo-cli[api]"'


def require_api_extra(*modules: str) -> None:
    """A friendly error, instead of a traceback, when the `api` extra is not installed."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise ConfigError(
                f"This needs the api extra ({name} is not installed); "
                f"install it with: {INSTALL_HINT}"
            ) from None


def serve(
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; the default accepts local connections only."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each with its own connection pool).")
    ] = 1,
) -> None:
    """Serve the HTTP API (the same operations as the CLI) with uvicorn.

    Example: todo serve --port 8000, then curl http://127.0.0.1:8000/docs
    """
    require_api_extra("fastapi", "uvicorn")
    from todo_cli.config import get_settings

    # Fail now, in the terminal, on a malformed database URL; an unreachable database is
    # not checked: the server starts and answers 503 until the database is back.
    get_settings().db_url()

    import uvicorn

    # An import string and a factory, so that every worker process builds its own app
    # (and its own engine) from the same environment.
    uvicorn.run("todo_cli.api:create_app", factory=True, host=host, port=port, workers=workers)
