"""What every command shares: options, the database session, the acting user, errors.

Nothing heavy is imported here: SQLAlchemy and friends load inside the command that
needs them, so `todo --help` and shell completion stay fast.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer
from typer.core import TyperGroup

from todo_cli._startup import resume_gc
from todo_cli.errors import ExitCode, TodoError, ValidationError

if TYPE_CHECKING:
    from sqlmodel import Session

    from todo_cli.config import DatabaseURL, Settings
    from todo_cli.db import Database
    from todo_cli.models import User

_JSON_KEY = "todo.json"
_NOT_A_NAME_CHARACTER = re.compile(r"[^A-Za-z0-9._@+-]+")
# Used when the operating system cannot tell who is logged in (a container without an
# /etc/passwd entry for the uid, no USER/LOGNAME): still a working first run.
FALLBACK_USER_NAME = "me"


# Help is Click's plain formatter, not Typer's Rich one: Typer's Rich help imports Rich's
# tables, panels, Markdown (markdown-it) and syntax highlighting (Pygments) before it
# prints a line, which nearly doubles the time of `todo --help` and of every usage error
# (about 1.9× `import typer` against 1.0× plain). Help is read once; commands are run
# all day. Task output (tables, colours) is Rich as ever.
PLAIN_HELP = None

_COMPLETION_EXAMPLES = {
    "install_completion": "Example: todo --install-completion",
    "show_completion": "Example: todo --show-completion >> ~/.bashrc",
}


class LeanGroup(TyperGroup):
    """A command group that costs nothing to pass through on the way to a subcommand.

    Typer coerces every parameter value that is not already a bool through a pydantic
    TypeAdapter, and a flag that was not given arrives as None: merely passing through a
    group on the way to `todo add --help` or a shell completion would import pydantic
    (about 100 ms). Giving the group's own flags a False default keeps that path light.
    Typer's completion options also get an example here, like every other option.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            # The help on stdout, with the usage exit code: as Typer's Rich help did. Click's
            # plain formatter would send it to stderr as an error instead.
            typer.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(ExitCode.USAGE)
        return super().parse_args(ctx, args)

    def get_params(self, ctx: typer.Context) -> list[Any]:  # type: ignore[override]
        params: list[Any] = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_bool_flag", False) and not isinstance(param.default, bool):
                param.default = False
            example = _COMPLETION_EXAMPLES.get(param.name or "")
            if example is not None and example not in (param.help or ""):
                param.help = f"{param.help or ''} {example}".strip()
        return params


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

UserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        envvar="TODO_USER",
        show_envvar=True,
        metavar="NAME_OR_UUID",
        help="Act as this user (name or UUID). Default on SQLite: your login name. "
        "Example: -u alice",
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


# --- the database and the acting user -----------------------------------------------------


# Installed by the warm server (`todo_cli.warm.server`): the runtime to use for these
# settings, kept alive across commands so that connections are reused. None (a plain
# process) means a runtime of the command's own, disposed at its end.
kept_runtime: Callable[[Settings], Database] | None = None


@contextmanager
def database() -> Iterator[Session]:
    """One session for this command, from the database runtime (`db.Database`).

    The runtime checks the schema first; a SQLite database is created or upgraded on the
    spot, PostgreSQL only ever by `todo db upgrade`. In a plain process it is disposed on
    the way out, so every connection is closed before the process exits; the warm server
    keeps one runtime per database instead (`kept_runtime`).
    """
    from todo_cli import db
    from todo_cli.config import get_settings

    keep = kept_runtime
    settings = get_settings()
    runtime = keep(settings) if keep else db.Database.from_settings(settings, origin="cli")
    try:
        with runtime.session() as session:
            resume_gc()  # everything the command needs is loaded by now
            yield session
    finally:
        if keep is None:
            runtime.dispose()


class Acting(NamedTuple):
    """A task command's session and the user it acts for."""

    session: Session
    user: User


@contextmanager
def acting_user(ref: str | None) -> Iterator[Acting]:
    """The session and acting user of a task command (`--user`, `TODO_USER`, or default).

    Who acts, in order: `--user`/`TODO_USER` (a `.env` file counts), which must name an
    existing user; otherwise, on SQLite, the login name, created on first use; otherwise
    (PostgreSQL, shared) a usage error, decided before connecting.
    """
    from todo_cli import service
    from todo_cli.config import get_settings

    settings = get_settings()
    url = settings.db_url()
    if ref is not None and not ref.strip():
        # `-u "$WHO"` with WHO unset: acting as TODO_USER or the login name instead would
        # read or change someone else's tasks.
        raise ValidationError(
            "--user (or TODO_USER) is blank; give a user name or UUID.", details={"field": "user"}
        )
    ref = (ref or settings.user or "").strip()
    if not ref:
        _require_default_user(url)
    with database() as session:
        if ref:
            user = service.get_user(session, ref=ref)
        else:
            user = service.ensure_user(session, name=login_name())
        yield Acting(session, user)


def _require_default_user(url: DatabaseURL) -> None:
    if url.backend != "sqlite":
        raise ValidationError(
            "No user given: pass --user NAME or set TODO_USER (on PostgreSQL there is no "
            "default user; create one with `todo user add NAME`).",
            details={"field": "user"},
        )


def login_name() -> str:
    """The default user on SQLite: the login name, trimmed to the allowed characters.

    `DOMAIN\\Jane Doe` becomes `DOMAIN-Jane-Doe`; a name with nothing usable left (or no
    login name at all) becomes `me`.
    """
    import getpass

    try:
        raw = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry for this uid
        raw = ""
    name = _NOT_A_NAME_CHARACTER.sub("-", raw).strip("-")[:64]
    return name or FALLBACK_USER_NAME


def default_user(settings: Settings) -> str | None:
    """Who a task command acts as when neither `--user` nor `TODO_USER` is given."""
    return login_name() if settings.db_url().backend == "sqlite" else None
