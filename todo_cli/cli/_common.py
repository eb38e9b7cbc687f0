"""What every command shares: options, the database session, the acting user, errors.

Nothing heavy is imported here: SQLAlchemy and friends load inside the command that
needs them, so `todo --help` and shell completion stay fast.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from todo_cli._startup import resume_gc
from todo_cli.cli import _complete
from todo_cli.errors import ExitCode, TodoError, ValidationError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

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

# `-h` is `--help` on every command (SPEC); subcommands inherit it from the root's context.
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

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
        with _sensible_usage_errors(self, ctx):
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


class LeanCommand(TyperCommand):
    """A command whose help speaks in words and whose usage errors make sense to a person.

    Typer's plain help labels every argument with its Python type (`TITLE <list[str]>`)
    and writes a required one as `{TITLE}`; here arguments read as Click's do (`TITLE…`,
    `[REVISION]`), and options name their value by metavar (a test checks that each has
    one). An unknown option suggests only options that look like it, and an option that
    takes one value is refused when given twice instead of silently keeping the last.
    Every command is registered with `cls=LeanCommand`.
    """

    def get_params(self, ctx: typer.Context) -> list[Any]:  # type: ignore[override]
        params: list[Any] = super().get_params(ctx)
        for param in params:
            if type(param) is TyperArgument:
                # Same object, two display methods replaced; Typer offers no hook for them.
                param.__class__ = _WordArgument
            elif type(param) is TyperOption:
                param.__class__ = _LeanOption
        return params

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        with _sensible_usage_errors(self, ctx):
            return super().parse_args(ctx, args)

    def make_parser(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        parser: Any = super().make_parser(ctx)  # its parse_args is wrapped, not replaced
        parse = parser.parse_args

        def parse_once(args: list[str]) -> Any:
            opts, rest, order = parse(args=args)
            _refuse_repeated_values(ctx, order)
            return opts, rest, order

        parser.parse_args = parse_once
        return parser


class _LeanOption(TyperOption):
    """An option whose value shell completion takes as typed (see `_WordArgument`)."""

    def process_value(self, ctx: typer.Context, value: Any) -> Any:  # type: ignore[override]
        return value if ctx.resilient_parsing else super().process_value(ctx, value)


class _WordArgument(TyperArgument):
    """An argument shown by its name alone: `TITLE…` in help and usage, no Python type."""

    def _name_in_words(self) -> str:
        return self.display_name_raw + ("…" if self.nargs != 1 else "")

    def _rich_display_name(self) -> str:
        return self._name_in_words()

    def _usage_display_name(self) -> str:
        return self._name_in_words() if self.required else f"[{self._name_in_words()}]"

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def process_value(self, ctx: typer.Context, value: Any) -> Any:  # type: ignore[override]
        # Shell completion takes the words as typed: Typer's coercion would import pydantic
        # (~60 ms) on every Tab, and the completion callbacks need only the text.
        return value if ctx.resilient_parsing else super().process_value(ctx, value)


class _GivenTwice(typer.BadParameter):
    """A usage error (exit 2) worded as a whole sentence, not "Invalid value for …"."""

    def format_message(self) -> str:
        return self.message


def _refuse_repeated_values(ctx: typer.Context, order: Iterable[Any]) -> None:
    """`-d a -d b` would keep only `b`: refuse it, so no text is silently dropped."""
    seen: set[str] = set()
    for param in order:
        if not isinstance(param, TyperOption) or param.multiple or param.count:
            continue
        if param.is_flag:  # `--json --json` asks for the same thing twice: harmless
            continue
        name = param.name or ""
        if name in seen:
            spelled = " / ".join(param.opts + param.secondary_opts)
            raise _GivenTwice(
                f"Option {spelled} was given more than once; it takes one value, so give it once "
                "(quote a value that has spaces).",
                ctx=ctx,
                param=param,
            )
        seen.add(name)


@contextmanager
def _sensible_usage_errors(command: Any, ctx: typer.Context) -> Iterator[None]:
    """Reword Click's unknown-option error: suggest only options that look like the typo.

    Click lists any option whose spelling is loosely similar, so `todo add --due x` used
    to say "Possible options: --user". Here a suggestion must share a prefix or most of
    its letters with what was typed; otherwise the error only says the option is unknown
    (the usage line and `--help` pointer follow it anyway).
    """
    try:
        yield
    except typer.TyperException as exc:
        typed = getattr(exc, "option_name", None)
        if isinstance(typed, str) and hasattr(exc, "possibilities"):
            known = [
                name
                for param in command.get_params(ctx)
                for name in (*param.opts, *getattr(param, "secondary_opts", ()))
                if name.startswith("--")
            ]
            close = close_options(typed, known)
            exc.possibilities = None
            exc.message = f"{exc.message.rstrip('.')}." + (
                f" Did you mean {' or '.join(close)}?" if close else ""
            )
        raise


def close_options(typed: str, known: Iterable[str]) -> list[str]:
    """Options that look like a mistyped one: a prefix of it, or most of its letters."""
    import difflib  # only on this error path

    word = typed.split("=", 1)[0].lstrip("-").lower()
    found = []
    for name in known:
        candidate = name.lstrip("-")
        if len(word) >= 2 and candidate.startswith(word):
            found.append(name)
        elif difflib.SequenceMatcher(None, word, candidate).ratio() >= 0.75:
            found.append(name)
    return sorted(set(found))


def whole_number(*, minimum: int, maximum: int | None = None) -> Callable[[str | int], int]:
    """A parser for an integer option that says what is wrong in words.

    Typer's own coercion answers in pydantic's words ("unable to parse string as an
    integer") and shows ranges as `[x>=0]`; this checks the same things and says
    "'many' is not a whole number; give one of 0 or more".
    """
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of {minimum} or more"

    def parse(text: str | int) -> int:
        if isinstance(text, int):  # the option's default, which Typer passes through too
            return text
        cleaned = text.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", cleaned):
            raise typer.BadParameter(f"{text!r} is not a whole number; give one {bounds}.")
        value = int(cleaned)
        if value < minimum or (maximum is not None and value > maximum):
            raise typer.BadParameter(f"{value} is out of range; give a whole number {bounds}.")
        return value

    return parse


# Put before a word that starts with one `-` but is no option of the command (`-errand`,
# a tag to remove), so that Click reads it as a word instead of a cluster of short
# options (`-e -r -r -a -n -d`, where `-d` would take the rest as a description). An
# argument can never hold a NUL, so the mark can never come from a command line.
WORD_MARK = "\x00"


class WordsCommand(LeanCommand):
    """A command whose arguments are words that may start with `-` (`todo edit 3 -home`)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        names = {name for param in self.params for name in (*param.opts, *param.secondary_opts)}
        names.update(ctx.help_option_names)
        valued = {
            name
            for param in self.params
            if getattr(param, "param_type_name", "") == "option" and not param.is_flag  # type: ignore[attr-defined]
            for name in param.opts
        }
        marked: list[str] = []
        takes_value = False
        for position, arg in enumerate(args):
            if takes_value:
                marked.append(arg)
                takes_value = False
            elif arg == "--":
                marked.extend(args[position:])
                break
            elif (
                arg.startswith("-") and not arg.startswith("--") and arg != "-" and arg not in names
            ):
                marked.append(WORD_MARK + arg)
            else:
                marked.append(arg)
                takes_value = arg in valued
        return super().parse_args(ctx, marked)

    def shell_complete(self, ctx: typer.Context, incomplete: str) -> list[Any]:  # type: ignore[override]
        """Option names, and for a word with one leading `-` also the words that start
        with it (`todo edit 3 -er` → `-errand`): Click hands any word that begins with a
        dash to the command's option names and never asks the words argument."""
        offered: list[Any] = super().shell_complete(ctx, incomplete)
        if not incomplete.startswith("-") or incomplete.startswith("--"):
            return offered
        words = next((param for param in self.get_params(ctx) if param.name == "words"), None)
        if words is None:
            return offered
        names = {name for param in self.params for name in (*param.opts, *param.secondary_opts)}
        names.update(ctx.help_option_names)
        # A word spelled like an option (`-t`) is read as that option, so is never offered.
        return offered + [
            item for item in words.shell_complete(ctx, incomplete) if item.value not in names
        ]


def unmarked(words: list[str]) -> list[str]:
    """The words of a `WordsCommand` as they were typed."""
    return [word.removeprefix(WORD_MARK) for word in words]


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
        autocompletion=_complete.user_names,
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
    if keep is not None:
        runtime = keep(settings)
    else:
        runtime = db.Database.from_settings(
            settings,
            origin="cli",
            # A cold start (Neon scaled to zero) keeps a terminal waiting for seconds: say
            # why.
            on_slow_connect=(
                (lambda: typer.echo("Waiting for the database (it may be waking up)…", err=True))
                if typer.get_text_stream("stderr").isatty()
                else None
            ),
        )
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
        # After the command, and only if it succeeded: a refused command changes nothing.
        if user.time_zone is None:
            _fill_time_zone(session, user)
        _complete.remember(session, url, user)  # the PostgreSQL completion cache


def _fill_time_zone(session: Session, user: User) -> None:
    """Give a user without a stored zone this machine's (`TODO_TZ`, else the OS's), once,
    so that the API can tell what "today" is for them."""
    from todo_cli import service
    from todo_cli.config import get_settings
    from todo_cli.service.dates import local_zone, resolve_zone

    name = get_settings().tz
    try:
        zone = resolve_zone(name) if name else local_zone()
    except ValidationError:  # a bad TODO_TZ: the command that reads dates says so
        return
    if zone is not None:
        service.fill_time_zone(session, user_id=user.id, name=zone.key)


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


# --- dates ---------------------------------------------------------------------------------

TzOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Read and show dates in this IANA time zone (default: TODO_TZ, else the "
        "system's). Example: --tz Europe/Paris",
    ),
]


def cli_zone(option: str | None, user: User | None) -> ZoneInfo:
    """The zone dates are read and shown in: `--tz`, `TODO_TZ`, the OS's, the user's, UTC.

    `user` is None for a command that acts as nobody (`todo user list`): it shows its
    times on this machine's clock, as the others do.
    """
    from zoneinfo import ZoneInfo

    from todo_cli.config import get_settings
    from todo_cli.service.dates import local_zone, resolve_zone

    name = option or get_settings().tz
    if name:
        return resolve_zone(name)
    stored = user.time_zone if user is not None else None
    return local_zone() or (resolve_zone(stored) if stored else ZoneInfo("UTC"))
