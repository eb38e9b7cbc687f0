"""What every command shares: the `--json` option, settings, and error translation.

Nothing heavy is imported here: SQLAlchemy and friends load inside the command that
needs them, so `todo --help` and shell completion stay fast.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from todo_cli.errors import TodoError

_JSON_KEY = "todo.json"


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    # ctx.meta is shared by the whole context chain, so the root group's error handler
    # can tell that this command's errors must come out as JSON.
    if value:
        ctx.meta[_JSON_KEY] = True
    return value


JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print JSON on stdout (errors as JSON on stderr). Example: --json | jq .",
        callback=_remember_json,
    ),
]


def wants_json(ctx: typer.Context) -> bool:
    return bool(ctx.meta.get(_JSON_KEY))


def debug_enabled() -> bool:
    """TODO_DEBUG, read without the settings machinery (which may be what failed)."""
    try:
        from todo_cli.config import get_settings

        return get_settings().debug
    except Exception:
        return os.environ.get("TODO_DEBUG", "").lower() in {"1", "true", "yes", "on"}


def as_user_error(exc: Exception) -> TodoError | None:
    """The `TodoError` a failure stands for, or None if it is a bug.

    Database exceptions can only exist once SQLAlchemy is loaded, so a command that never
    touched the database never imports it here either.
    """
    if isinstance(exc, TodoError):
        return exc
    import sys

    if "sqlalchemy" not in sys.modules:
        return None
    from todo_cli import db
    from todo_cli.config import get_settings

    try:
        url = get_settings().db_url()
    except TodoError:
        return None
    return db.database_error(exc, url)
