"""`todo db …`: the Alembic migrations shipped inside the package."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from todo_cli.cli._common import PLAIN_HELP, JsonOption, LeanCommand, LeanGroup
from todo_cli.errors import ValidationError

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

    Says what it did: "Upgraded 0001 → 0003 on …" or "Already at 0003 on …".
    Runs on TODO_DATABASE_URL_DIRECT when set (Neon: the unpooled endpoint).

    Example: todo db upgrade
    """
    from todo_cli import db
    from todo_cli.config import get_settings

    settings = get_settings()
    url = settings.migration_url()
    before = db.revision_of(url, connect_timeout=settings.connect_timeout)
    db.upgrade(url, revision, connect_timeout=settings.connect_timeout)
    _report_change("Upgraded", url, before, json)


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
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Do not ask for confirmation. Example: todo db downgrade base --yes"
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Take the schema back to REVISION (data in dropped tables is lost).

    Asks first on a terminal; without one (a script), --yes is required. Answering no, or
    no --yes without a terminal, changes nothing (exit 2).

    Example: todo db downgrade base
    """
    from todo_cli import db
    from todo_cli.config import get_settings

    settings = get_settings()
    url = settings.migration_url()
    before = db.revision_of(url, connect_timeout=settings.connect_timeout)
    # Nothing to lose, nothing to ask: an empty database, or the revision it is at. A
    # schema newer than this todo is refused by the downgrade itself, with its reason.
    if not yes and before in db.SCHEMA_REVISIONS and revision != before:
        _confirm_downgrade(url, before, revision)
    db.downgrade(url, revision, connect_timeout=settings.connect_timeout)
    _report_change("Downgraded", url, before, json)


def _confirm_downgrade(url: DatabaseURL, current: str | None, target: str) -> None:
    from todo_cli.cli import users
    from todo_cli.output import printable

    what = printable(f"the schema of {url.masked} from {current} back to {target}")
    if not users.can_ask():
        raise ValidationError(
            f"Taking {what} can drop tables and their data, so it needs confirmation; pass --yes.",
            details={"field": "yes"},
        )
    if not users.ask(f"Take {what}? Tables it drops lose their data."):
        raise ValidationError(
            f"Not confirmed; the schema was left at {current}.", details={"field": "yes"}
        )


@db_app.command("current", cls=LeanCommand)
def current(json: JsonOption = False) -> None:
    """Show the schema revision of the database and the one this todo needs.

    Example: todo db current --json
    """
    from todo_cli.config import get_settings

    settings = get_settings()
    _report(settings.migration_url(), json)


def _report_change(verb: str, url: DatabaseURL, before: str | None, as_json: bool) -> None:
    """What a migration did, from the revisions read before and after it."""
    from todo_cli import db, output
    from todo_cli.config import get_settings

    after = db.revision_of(url, connect_timeout=get_settings().connect_timeout)
    if as_json:
        output.print_json({"revision": after, "head": db.HEAD_REVISION, "database": url.masked})
        return
    if before == after:
        message = f"Already at {after or 'none'} on {url.masked}"
    else:
        message = f"{verb} {before or 'none'} → {after or 'none'} on {url.masked}"
    if after is not None and after != db.HEAD_REVISION:
        message += f" (head is {db.HEAD_REVISION})"
    output.print_message(message)


def _report(url: DatabaseURL, as_json: bool) -> None:
    from todo_cli import db, output
    from todo_cli.config import get_settings

    revision = db.revision_of(url, connect_timeout=get_settings().connect_timeout)
    if as_json:
        output.print_json({"revision": revision, "head": db.HEAD_REVISION, "database": url.masked})
        return
    state = "up to date" if revision == db.HEAD_REVISION else f"head is {db.HEAD_REVISION}"
    output.print_message(f"{url.masked}: revision {revision or 'none'} ({state})")
