"""Shell completion: task numbers with titles, tags, projects, user names, inline words.

Completion runs as a fresh `todo` process on every Tab, so it must answer within SPEC's
budget (p95 ≤ 80 ms, and nothing at all past 150 ms) and import nothing heavy: no
SQLAlchemy, SQLModel, pydantic or settings machinery, and not even `json` or `sqlite3`
until a callback needs them. What it shows belongs to the acting user alone.

Where the data comes from:
- SQLite: the database file itself, opened read-only with the standard library's
  `sqlite3` (`file:…?mode=ro`), with a progress handler that gives up at the deadline.
- PostgreSQL: never the server (a cold Neon takes seconds), but a per-user cache file
  (0600, in a 0700 directory under `$XDG_CACHE_HOME/todo/`) that task commands refresh
  after they change something (`remember`, hooked into `acting_user`). Its name is a
  digest of the URL without its password and of the user's id.

The SQL below is the only SQL completion runs; tests/test_completion_sql.py runs it on
freshly migrated databases of both backends and checks every table and column it names
against the models, so a schema change cannot silently break Tab.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer import _completion_classes

if TYPE_CHECKING:
    import sqlite3
    import uuid
    from collections.abc import Callable, Iterable

    from sqlmodel import Session

    from todo_cli.config import DatabaseURL
    from todo_cli.models import User

_T = TypeVar("_T")
# Past this, counted from the start of the process, completion offers nothing. Tests on
# a loaded machine widen it with this variable (in milliseconds), as Typer's own tests
# use `_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION`.
BUDGET_SECONDS = 0.150
BUDGET_VARIABLE = "_TODO_COMPLETION_BUDGET_MS"
APP_NAME = "todo"
CACHE_VERSION = 1
# zsh and fish show a title after the number; long ones are cut to keep a menu readable.
TITLE_SHOWN = 60

# --- the SQL (kept in step with the models by tests/test_completion_sql.py) --------------

TASKS_SQL = "SELECT number, title, is_completed FROM tasks WHERE user_id = :user_id"
# Bash shows no descriptions: the numbers alone, without reading a title.
TASK_NUMBERS_SQL = "SELECT number, '', is_completed FROM tasks WHERE user_id = :user_id"
TAGS_SQL = "SELECT tag FROM task_tags WHERE user_id = :user_id GROUP BY tag"
PROJECTS_SQL = (
    "SELECT project FROM tasks WHERE user_id = :user_id AND project IS NOT NULL GROUP BY project"
)
USERS_SQL = "SELECT id, name FROM users"
# The cache's first filling, in one round trip: every task, tag and project of the user,
# and the user names (later writes update it from the session, see `remember`).
_REFRESH_TASKS = (
    "SELECT 'task' AS kind, CAST(id AS VARCHAR(36)) AS id, number, title AS text, "
    "is_completed FROM tasks WHERE user_id = :user_id"
)
_REFRESH_REST = (
    " UNION ALL SELECT 'tag', NULL, NULL, tag, NULL FROM task_tags"
    " WHERE user_id = :user_id GROUP BY tag"
    " UNION ALL SELECT 'project', NULL, NULL, project, NULL FROM tasks"
    " WHERE user_id = :user_id AND project IS NOT NULL GROUP BY project"
    " UNION ALL SELECT 'user', CAST(id AS VARCHAR(36)), NULL, name, NULL FROM users"
)
REFRESH_ALL_SQL = _REFRESH_TASKS + _REFRESH_REST
# The rows of some tasks only (`:ids`, expanded), for a change the session cannot tell.
CHANGED_SQL = (
    _REFRESH_TASKS
    + " AND id IN :ids"
    + " UNION ALL SELECT 'tag', NULL, NULL, tag, NULL FROM task_tags"
    " WHERE user_id = :user_id AND task_id IN :ids GROUP BY tag"
    " UNION ALL SELECT 'project', NULL, NULL, project, NULL FROM tasks"
    " WHERE user_id = :user_id AND id IN :ids AND project IS NOT NULL GROUP BY project"
)


def _plain_help(text: str) -> str:
    return text


# Typer runs each zsh/fish description through Rich to strip markup, importing Rich
# (~130 ms) on every Tab; this app's help has no markup (plain help), and a task title is
# text to show as it is, brackets included.
_completion_classes._sanitize_help_text = _plain_help


# --- the callbacks (wired with `autocompletion=` in the command modules) ---------------


def task_refs(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]] | list[str]:
    """Task numbers with their titles: pending ones for done/edit/note, completed ones for
    reopen, every task for show/rm/log. After `3,` or `3-` the next number follows."""
    head, _, typed = _split_ref(incomplete)
    if typed and not typed.isdigit():
        return []
    given = {str(ref) for ref in (ctx.params.get("refs") or ())}
    given.update(part for part in head.replace("-", ",").split(",") if part)
    wanted = {"done": False, "edit": False, "note": False, "reopen": True}.get(
        ctx.info_name or "", None
    )
    titles = os.environ.get("_TODO_COMPLETE") != "complete_bash"

    def numbers(data: _Data) -> list[tuple[int, str]]:
        return [
            (number, title)
            for number, title, done in data.tasks(titles=titles)
            if (wanted is None or done == wanted)
            and str(number).startswith(typed)
            and str(number) not in given
        ]

    if not titles:
        return [f"{head}{number}" for number, _ in _guarded(numbers, ctx)]
    return [(f"{head}{number}", _shown(title)) for number, title in _guarded(numbers, ctx)]


def tags(ctx: typer.Context, incomplete: str) -> list[str]:
    """The acting user's tags (`--tag`, `--untag`)."""
    return _guarded(lambda data: [tag for tag in data.tags() if tag.startswith(incomplete)], ctx)


def projects(ctx: typer.Context, incomplete: str) -> list[str]:
    """The acting user's projects (`--project`)."""
    return _guarded(
        lambda data: [name for name in data.projects() if name.startswith(incomplete)], ctx
    )


def user_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """User names (`--user`, `todo user rm`), as `todo user list` shows them to anyone."""
    return _guarded(
        lambda data: sorted(name for name in data.user_names() if name.startswith(incomplete)),
        ctx,
        needs_user=False,
    )


def inline_words(ctx: typer.Context, incomplete: str) -> list[str]:
    """`+tag`, `project:NAME`, `due:WHEN`, `wait:WHEN`, `pri:H` in the words of add/edit,
    and `-tag` (a tag to remove) in those of edit.

    Bash splits `due:f` at the colon (COMP_WORDBREAKS), so there the word being completed
    may be `:` or just `f`, with the key among the words before it.
    """
    words = [str(word).lstrip("\x00") for word in (ctx.params.get("title") or ())]
    words += [str(word).lstrip("\x00") for word in (ctx.params.get("words") or ())]
    if _after_double_dash():
        return []  # after --, every word is title text
    if incomplete.startswith("-"):
        return _removed_tags(ctx, incomplete)
    if incomplete.startswith("+"):
        return _guarded(
            lambda data: [f"+{tag}" for tag in data.tags() if f"+{tag}".startswith(incomplete)],
            ctx,
        )
    # Inline words (cli/_words.py KEYS): each attribute's keys, and what may follow them.
    # Imported here: `todo --help` loads this module, and must not load the service's.
    from todo_cli.service.attributes import BY_KEY  # standard library only

    key, colon, value = incomplete.partition(":")
    prefix = f"{key}:"
    if incomplete == ":" and words[-1:] and words[-1] in BY_KEY:
        key, prefix = words[-1], ":"  # bash: `due`, then `:`
    elif not colon and len(words) >= 2 and words[-1] == ":" and words[-2] in BY_KEY:
        key, prefix, value = words[-2], "", incomplete  # bash: `due`, `:`, then `f`
    elif not colon:
        if not incomplete:
            return []
        return [f"{name}:" for name in BY_KEY if name.startswith(incomplete)]
    attribute = BY_KEY.get(key)
    if attribute is None:
        return []
    if attribute.is_date:
        return [f"{prefix}{word}" for word in _date_words() if word.startswith(value)]
    if attribute.choices:
        return [f"{prefix}{choice}" for choice in attribute.choices if choice.startswith(value)]
    if attribute.name == "project":  # the user's own, from the database
        return _guarded(
            lambda data: [f"{prefix}{name}" for name in data.projects() if name.startswith(value)],
            ctx,
        )
    return []


def _removed_tags(ctx: typer.Context, incomplete: str) -> list[str]:
    """`-tag` for each of the acting user's tags, in `todo edit` (which removes it).

    The user's tags rather than the task's: the PostgreSQL cache keeps no tags per task,
    and Tab must offer the same on both backends. Not after an option that takes a value
    (`--title -`), where the word is that value. (A tag never starts with `-`, so no
    `--x` is offered, which would read as an option.)
    """
    if ctx.info_name != "edit":
        return []  # elsewhere a leading dash is no tag word (a filter's `-word` is "not")
    if ctx.params.get("ref") is None and ctx.params.get("filter") is None:
        return []  # the task's reference comes first: `todo edit -home` names no task
    before = _words_before()
    valued = {
        name
        for param in ctx.command.params
        if getattr(param, "param_type_name", "") == "option"
        and not getattr(param, "is_flag", False)
        for name in param.opts
    }
    if before and before[-1] in valued:
        return []
    return _guarded(
        lambda data: [f"-{tag}" for tag in data.tags() if f"-{tag}".startswith(incomplete)],
        ctx,
    )


def _after_double_dash() -> bool:
    """Whether a `--` came before the word being completed (Click takes it out of args)."""
    return "--" in _words_before()


def _words_before() -> list[str]:
    """The words of the command line before the one being completed, as the shell gave
    them (Click's parsed args have lost `--` and keep no order of options and words)."""
    from typer._click.shell_completion import split_arg_string

    if "COMP_WORDS" in os.environ:  # bash: the words, and which one is being completed
        words = split_arg_string(os.environ["COMP_WORDS"])
        return words[: int(os.environ.get("COMP_CWORD", len(words)))]
    # zsh, fish: the line up to the cursor, the word being completed last
    line = os.environ.get("_TYPER_COMPLETE_ARGS", "")
    words = split_arg_string(line)
    return words if line.endswith(" ") else words[:-1]


def _date_words() -> tuple[str, ...]:
    from todo_cli.service.dates import WORDS  # standard library only

    return WORDS


def _split_ref(incomplete: str) -> tuple[str, str, str]:
    """`3,5-1` → ("3,5-", "-", "1"): what is kept, and the number being typed."""
    cut = max(incomplete.rfind(","), incomplete.rfind("-"))
    if cut < 0:
        return "", "", incomplete
    return incomplete[: cut + 1], incomplete[cut], incomplete[cut + 1 :]


def _shown(title: str) -> str:
    # One line, no control characters: zsh evaluates what Typer prints. (Titles refuse
    # control characters already, so the character-by-character path is all but unused.)
    flat = title if title.isprintable() else "".join(c if c.isprintable() else " " for c in title)
    return flat if len(flat) <= TITLE_SHOWN else flat[: TITLE_SHOWN - 1] + "…"


def _guarded(
    answer: Callable[[_Data], list[_T]], ctx: typer.Context, *, needs_user: bool = True
) -> list[_T]:
    """`answer(data)` within the deadline, or nothing: a Tab must never show a traceback
    or wait for a locked or missing database."""
    deadline = _deadline()
    try:
        data = _open(ctx, deadline, needs_user=needs_user)
        if data is None:
            return []
        try:
            found = answer(data)
        finally:
            data.close()
    except Exception:  # a broken setting, a missing file, an aborted query: offer nothing
        return []
    return found if time.monotonic() < deadline else []


def _deadline() -> float:
    """The monotonic time at which this process has used up its budget."""
    now = time.monotonic()
    budget = BUDGET_SECONDS
    if os.environ.get(BUDGET_VARIABLE, "").isdigit():
        budget = int(os.environ[BUDGET_VARIABLE]) / 1000
    try:
        with open("/proc/self/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # clock ticks since boot
        elapsed = time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        elapsed = 0.0  # no /proc: count from here
    return now + budget - max(0.0, elapsed)


# --- where the data comes from ---------------------------------------------------------


class _Data:
    """What completion reads, from the SQLite file or from the PostgreSQL cache."""

    def tasks(self, *, titles: bool = True) -> Iterable[tuple[int, str, bool]]:
        raise NotImplementedError

    def tags(self) -> list[str]:
        raise NotImplementedError

    def projects(self) -> list[str]:
        raise NotImplementedError

    def user_names(self) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        return None


class _SQLite(_Data):
    def __init__(self, connection: sqlite3.Connection, user_id: str | None) -> None:
        self.connection = connection
        self.user_id = user_id

    def _rows(self, sql: str) -> list[Any]:
        return self.connection.execute(sql, {"user_id": self.user_id}).fetchall()

    def tasks(self, *, titles: bool = True) -> Iterable[tuple[int, str, bool]]:
        rows = self._rows(TASKS_SQL if titles else TASK_NUMBERS_SQL)
        return [(number, title, bool(done)) for number, title, done in rows]

    def tags(self) -> list[str]:
        return [row[0] for row in self._rows(TAGS_SQL)]

    def projects(self) -> list[str]:
        return [row[0] for row in self._rows(PROJECTS_SQL)]

    def user_names(self) -> list[str]:
        return [row[1] for row in self._rows(USERS_SQL)]

    def close(self) -> None:
        self.connection.close()


class _Cached(_Data):
    def __init__(self, users: dict[str, str], content: dict[str, Any] | None) -> None:
        self.users = users
        self.content = content or {}

    def tasks(self, *, titles: bool = True) -> Iterable[tuple[int, str, bool]]:
        return sorted(
            (number, title, bool(done)) for number, title, done in self.content["tasks"].values()
        )

    def tags(self) -> list[str]:
        return list(self.content["tags"])

    def projects(self) -> list[str]:
        return list(self.content["projects"])

    def user_names(self) -> list[str]:
        return list(self.users.values())


def _open(ctx: typer.Context, deadline: float, *, needs_user: bool) -> _Data | None:
    url = database_url()
    if url is None:
        return None
    ref = acting_ref(ctx, sqlite=url.startswith("sqlite"))
    if needs_user and not ref:
        return None
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        return None if path is None else _open_sqlite(path, ref, deadline)
    users = _read_cache(cache_dir(), users_file(url))
    if users is None:
        return None
    names: dict[str, str] = dict(users["users"])
    if not needs_user:
        return _Cached(names, None)
    user_id = _resolve(ref or "", names)
    if user_id is None:
        return None
    content = _read_cache(cache_dir(), tasks_file(url, user_id))
    return None if content is None else _Cached(names, content)


def _open_sqlite(path: str, ref: str | None, deadline: float) -> _Data | None:
    import sqlite3
    from urllib.parse import quote

    if not os.path.isfile(path):
        return None  # read-only mode would not create it, but say nothing either way
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=left)
    connection.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    user_id: str | None = None
    if ref:
        names = {row[0]: row[1] for row in connection.execute(USERS_SQL)}
        user_id = _resolve(ref, names)
        if user_id is None:
            connection.close()
            return None
    return _SQLite(connection, user_id)


def _resolve(ref: str, users: dict[str, str]) -> str | None:
    """The id (32 hex digits) of the user `ref` names: a UUID, or a name in any case."""
    wanted = ref.strip()
    as_hex = wanted.replace("-", "").lower()
    folded = wanted.lower()
    for user_id, name in users.items():
        plain = user_id.replace("-", "").lower()
        if plain == as_hex or name.lower() == folded:
            return plain
    return None


# --- settings, read as `config.Settings` reads them, without pydantic -------------------


def _setting(name: str) -> str:
    """TODO_<NAME>: the environment (names in any case; empty is unset), then `.env`."""
    from todo_cli.warm.client import dotenv_value  # the entry point: loaded already

    variable = f"TODO_{name}"
    for key, value in os.environ.items():
        if key.upper() == variable and value.strip():
            return value.strip()
    return dotenv_value(variable).strip()


def database_url() -> str | None:
    """The database URL as the settings choose it (None: none that completion can use)."""
    raw = _setting("DATABASE_URL") or os.environ.get("DATABASE_URL", "").strip()
    if not raw:
        return f"sqlite:///{default_sqlite_path()}"
    scheme = raw.partition(":")[0].lower()
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return raw
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return raw
    return None


def default_sqlite_path() -> str:
    """`config.default_sqlite_url`'s file, without importing platformdirs (~15 ms)."""
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        base = os.path.join(home, "Library", "Application Support")
    elif sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        base = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.join(home, ".local", "share")
    else:
        from platformdirs import user_data_path

        return str(user_data_path(APP_NAME, appauthor=False) / "todo.db")
    return os.path.join(base, APP_NAME, "todo.db")


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL, by `config.DatabaseURL`'s rules (None: not a file)."""
    _, separator, rest = url.partition("://")
    if not separator:
        return None
    location = rest.partition("?")[0]
    if not location.startswith("/"):
        return None  # a host part: refused by the settings too
    path = location[1:]
    if not path or path == ":memory:":
        return None
    return os.path.expanduser(path) if path.startswith("~") else path


def acting_ref(ctx: typer.Context, *, sqlite: bool) -> str | None:
    """Who completion acts for: `--user`/`TODO_USER`, `.env`, else (SQLite) the login."""
    given = ctx.params.get("user")
    if isinstance(given, str):
        return given.strip() or None  # a blank --user acts for nobody
    ref = _setting("USER")
    if ref:
        return ref
    if sqlite:
        from todo_cli.cli._common import login_name

        return login_name()
    return None


# --- the PostgreSQL cache ----------------------------------------------------------------


def cache_dir() -> str:
    """`$XDG_CACHE_HOME/todo` (else ~/.cache/todo; ~/Library/Caches/todo on macOS)."""
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", APP_NAME)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not os.path.isabs(base):
        base = os.path.join(home, ".cache")
    return os.path.join(base, APP_NAME)


def url_key(url: str) -> str:
    """The URL as a cache key: scheme spelling, password and host case left out."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    user = parts.username or ""
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"))
    return urlunsplit(("postgresql", f"{user}@{host}{port}", parts.path, query, ""))


def _digest(*parts: str) -> str:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # no OpenSSL to load
    except ImportError:
        from hashlib import sha256
    digest: str = sha256("\0".join(parts).encode()).hexdigest()
    return digest[:32]


def users_file(url: str) -> str:
    return f"users-{_digest(url_key(url))}.json"


def tasks_file(url: str, user_id: str) -> str:
    return f"tasks-{_digest(url_key(url), user_id.replace('-', '').lower())}.json"


def _read_cache(directory: str, name: str) -> dict[str, Any] | None:
    """A cache file's content, if it is this user's own and private (else None)."""
    import json
    import stat

    try:
        fd = os.open(os.path.join(directory, name), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if info.st_uid != os.getuid() or info.st_mode & 0o077 or not stat.S_ISREG(info.st_mode):
            return None
        content = json.loads(file.read())
    if not isinstance(content, dict) or content.get("version") != CACHE_VERSION:
        return None
    return content


def _write_cache(directory: str, name: str, content: dict[str, Any]) -> None:
    """Write atomically, 0600, into a 0700 directory of this user's (or not at all)."""
    import json

    from todo_cli.warm.client import unsafe_dir

    os.makedirs(os.path.dirname(directory), mode=0o700, exist_ok=True)
    if unsafe_dir(directory) is not None:
        return
    path = os.path.join(directory, name)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump({**content, "version": CACHE_VERSION}, file, ensure_ascii=False)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def remember(session: Session, url: DatabaseURL, user: User) -> None:
    """After a task command on PostgreSQL changed something: bring the acting user's
    cache up to date.

    The first time, one query reads the user's tasks, tags and projects and the user
    names. After that no query at all: the tasks the committed change touched are in the
    session, as the change left them (a deleted one is gone from it), and their tags and
    projects join those already cached (one no longer used stays offered until the cache
    is rebuilt). A command that only read writes nothing, so `list --json` stays a stream.
    A cache that cannot be refreshed stays as it was; the command itself has succeeded.
    """
    if url.backend != "postgresql":
        return  # completion reads SQLite directly
    from todo_cli import service

    committed = service.last_committed(session)
    if committed is None:
        return
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    user_id = user.id
    old = _read_cache(cache_dir(), tasks_file(url.reveal(), user_id.hex))
    try:
        if old is None:
            rows = session.execute(text(REFRESH_ALL_SQL), {"user_id": user_id}).all()
            _store(url, user_id, rows, None, None)
        else:
            changed = _changed_rows(session, user_id, committed.task_ids)
            _store(url, user_id, changed, old, committed.task_ids)
    except (OSError, SQLAlchemyError, ValueError):
        return


def _changed_rows(
    session: Session, user_id: uuid.UUID, task_ids: frozenset[uuid.UUID]
) -> list[tuple[Any, ...]]:
    """Rows as REFRESH_ALL_SQL gives them, of the changed tasks: from the session when it
    holds them as the change left them (`add`, `done`: no query), else from the database
    (an import, an undo: tasks written without ORM objects, or deleted)."""
    from todo_cli.models import Task

    rows: list[tuple[Any, ...]] = []
    unseen: list[uuid.UUID] = []
    for task_id in task_ids:
        task = session.identity_map.get(session.identity_key(Task, (user_id, task_id)))
        if not isinstance(task, Task) or task in session.deleted:
            unseen.append(task_id)
            continue
        rows.append(("task", task.id, task.number, task.title, task.is_completed))
        rows.extend(("tag", None, None, tag, None) for tag in task.tags)
        if task.project is not None:
            rows.append(("project", None, None, task.project, None))
    if unseen:
        from sqlalchemy import bindparam, text

        statement = text(CHANGED_SQL).bindparams(bindparam("ids", expanding=True))
        for start in range(0, len(unseen), 1000):
            batch = unseen[start : start + 1000]
            rows.extend(session.execute(statement, {"user_id": user_id, "ids": batch}).all())
    return rows


def _store(
    url: DatabaseURL,
    user_id: uuid.UUID,
    rows: Iterable[Any],
    old: dict[str, Any] | None,
    changed: frozenset[uuid.UUID] | None,
) -> None:
    tasks: dict[str, list[Any]] = dict(old["tasks"]) if old is not None else {}
    for task_id in changed or ():
        tasks.pop(task_id.hex, None)  # deleted unless the query found it again
    found: dict[str, list[Any]] = {"tag": [], "project": [], "user": []}
    for kind, row_id, number, text, done in rows:
        if kind == "task":
            tasks[str(row_id).replace("-", "")] = [number, text, bool(done)]
        else:
            found[kind].append([str(row_id).replace("-", ""), text] if kind == "user" else text)
    directory = cache_dir()
    if old is None:
        _write_cache(directory, users_file(url.reveal()), {"users": found["user"]})
    else:  # tags and projects of the changed tasks, added to those known already
        found["tag"] = list({*old.get("tags", []), *found["tag"]})
        found["project"] = list({*old.get("projects", []), *found["project"]})
    _write_cache(
        directory,
        tasks_file(url.reveal(), user_id.hex),
        {"tasks": tasks, "tags": sorted(found["tag"]), "projects": sorted(found["project"])},
    )
