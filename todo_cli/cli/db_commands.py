"""`todo db …`: the Alembic migrations shipped inside the package."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from todo_cli.cli._common import PLAIN_HELP, JsonOption, LeanCommand, LeanGroup

if TYPE_CHECKING:
    from todo_cli.config import DatabaseURL

db_app = typer.Typer(
    cls=LeanGroup,
    rich_markup_mode=PLAIN_HELP,
    help="Manage the database schema. Example: todo db upgrade",
    no_args_is_help=True,
)


@db_app.command("upgrade", cls=LeanCommand)
def upgrade(
    revision: Annotated[
        str,
        typer.Argument(
            metavar="REVISION",
            show_default=False,
            help="Target revision (default: head, the latest). Example: todo db upgrade head",
        ),
    ] = "head",
    json: JsonOption = False,
) -> None:
    """Bring the schema up to REVISION (the latest by default); safe to run twice.

    Runs on TODO_DATABASE_URL_DIRECT when set (Neon: the unpooled endpoint).

    Example: todo db upgrade
    """
    from todo_cli import db
    from todo_cli.config import get_settings

    settings = get_settings()
    url = settings.migration_url()
    db.upgrade(url, revision, connect_timeout=settings.connect_timeout)
    _report(url, json)


@db_app.command("downgrade", cls=LeanCommand)
def downgrade(
    revision: Annotated[
        str,
        typer.Argument(
            metavar="REVISION",
            show_default=False,
            help="Target revision; 'base' removes every table. Example: -1",
        ),
    ],
    json: JsonOption = False,
) -> None:
    """Take the schema back to REVISION (data in dropped tables is lost).

    Example: todo db downgrade base
    """
    from todo_cli import db
    from todo_cli.config import get_settings

    settings = get_settings()
    url = settings.migration_url()
    db.downgrade(url, revision, connect_timeout=settings.connect_timeout)
    _report(url, json)


@db_app.command("current", cls=LeanCommand)
def current(json: JsonOption = False) -> None:
    """Show the schema revision of the database and the one this todo needs.

    Example: todo db current --json
    """
    from todo_cli.config import get_settings

    settings = get_settings()
    _report(settings.migration_url(), json)


def _report(url: DatabaseURL, as_json: bool) -> None:
    from todo_cli import db, output
    from todo_cli.config import get_settings

    revision = db.revision_of(url, connect_timeout=get_settings().connect_timeout)
    if as_json:
        output.print_json({"revision": revision, "head": db.HEAD_REVISION, "database": url.masked})
        return
    state = "up to date" if revision == db.HEAD_REVISION else f"head is {db.HEAD_REVISION}"
    output.print_message(f"{url.masked}: revision {revision or 'none'} ({state})")
