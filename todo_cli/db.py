"""The database runtime (`Database`), engines, the schema check, errors, migrations.

`Database` is the one runtime the CLI, the API and the warm server share: an engine and
its session factories made on first use, the schema checked once, and `database_error`
the one place where a driver's exception becomes a `TodoError`.

SQLAlchemy, the driver and Alembic are imported inside the functions that need them, so
importing this module costs nothing: `todo --help` never pays for a database.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from todo_cli.config import DatabaseURL, redact
from todo_cli.errors import (
    ConfigError,
    DatabaseUnavailable,
    SchemaOutOfDate,
    TodoError,
    ValidationError,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlmodel import Session

    from todo_cli.async_reads import AsyncReads
    from todo_cli.config import Settings

# Every Alembic revision in order, oldest first; the last is the head this code needs.
# Checking the schema means reading one row of `alembic_version` and comparing it with
# this tuple, which is much cheaper than loading Alembic. A test keeps it in step with
# the migration scripts.
SCHEMA_REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006")
HEAD_REVISION = SCHEMA_REVISIONS[-1]

SQLITE_BUSY_TIMEOUT_MS = 30_000
# The advisory lock that serialises migrations on PostgreSQL. Any constant will do; it
# only has to be the same for every `todo db upgrade`.
MIGRATION_LOCK_KEY = 0x70D0_0001
# How long a schema check is trusted by a long-lived runtime (the warm server's, the
# API's): a schema upgraded or downgraded meanwhile by another machine is noticed within
# this time, at the cost of one round trip a minute.
SCHEMA_CHECK_MAX_AGE = 60.0
# A pooled PostgreSQL connection idle for longer than this is pinged before it is handed
# out (one round trip); one used more recently is only checked for a server's goodbye
# (see `_checkout`), which costs none.
PING_AFTER_IDLE = 1.0
# How long connecting may take before `make_engine`'s `on_slow_connect` is called.
SLOW_CONNECT_SECONDS = 1.0
# Connection failures worth another attempt: no answer at all, or a server that is
# starting, stopping or full (a Neon compute waking up). libpq reports connection
# failures as text without a SQLSTATE, so the server's answer is recognised by its words.
_RETRYABLE_SQLSTATES = {"57P03", "53300", "53400"}
_RETRYABLE_ANSWERS = (
    "starting up",
    "shutting down",
    "in recovery mode",
    "not yet accepting connections",
    "too many connections",  # a role's or database's own limit
    "too many clients",  # the server's max_connections ("sorry, too many clients already")
    "remaining connection slots",
    # Neon's proxy while the compute wakes ("Couldn't connect to compute node", …)
    "connect to compute",
    "compute node",
)
# A host name that does not resolve is a typo, not a cold start (psycopg 3.2+ resolves
# names itself and says "failed to resolve host"; libpq says "could not translate host
# name"), unless the resolver itself is only temporarily failing.
_UNRESOLVED_HOST = ("failed to resolve host", "could not translate host name")
# Connection failures that no attempt can cure: the URL (or the server's set-up) is
# wrong. Each is recognised by libpq's or the server's own words (a failed connection
# has no SQLSTATE) and told as its cause, which "cannot reach" would hide. `{0}` is the
# first group of the pattern.
_PERMANENT_FAILURES: tuple[tuple[str, str], ...] = (
    (
        r"server does not support SSL, but SSL was required",
        "the server does not support TLS, but the URL requires it (sslmode)",
    ),
    (
        r"channel binding (?:is )?required",
        "the URL requires channel binding (channel_binding=require), which the server did not use",
    ),
    (
        r'password authentication failed for user "([^"]*)"',
        "the server refused the password of user {0}",
    ),
    (r"no password supplied", "the server asks for a password and the URL gives none"),
    (r'database "([^"]*)" does not exist', "the server has no database named {0}"),
    (r'role "([^"]*)" does not exist', "the server has no user (role) named {0}"),
    (r"no pg_hba\.conf entry", "the server does not admit this user to this database"),
    (r"permission denied for database", "this user may not connect to that database"),
    (r"is not currently accepting connections", "that database accepts no connections"),
    (r"certificate verify failed", "the server's TLS certificate cannot be verified"),
    (r"root certificate file", "the root certificate (sslrootcert) cannot be read"),
    (r"invalid (\w+) value", "the URL's {0} option has a value libpq does not know"),
    (r'invalid connection option "([^"]*)"', "the URL has an option libpq does not know: {0}"),
)


class Database:
    """One database's engine and session factories, made lazily and thread-safely.

    Nothing connects until the first session is asked for; then the schema is checked
    and the result kept for `SCHEMA_CHECK_MAX_AGE` seconds (a failed check, database
    down or schema out of date, is tried again on the next session). An embedded SQLite
    file is created or upgraded on the spot; PostgreSQL only ever by `todo db upgrade`.
    Sessions carry their `origin` (`cli`, `api`), which the change log records for every
    write made through them.
    """

    def __init__(
        self,
        url: DatabaseURL,
        *,
        origin: str,
        connect_timeout: float = 5.0,
        pool_size: int = 5,
        max_overflow: int = 10,
        on_slow_connect: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.origin = origin
        self._engine_options: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "on_slow_connect": on_slow_connect,
        }
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._sessions: Callable[[], Session] | None = None
        self._read_sessions: Callable[[], Session] | None = None
        self._schema_checked_at: float | None = None
        self._async_reads: AsyncReads | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, origin: str, **options: Any) -> Database:
        return cls(
            settings.db_url(),
            origin=origin,
            connect_timeout=settings.connect_timeout,
            **options,
        )

    @property
    def ready(self) -> bool:
        """Whether a new session costs no I/O: the engine exists, the schema is checked."""
        checked = self._schema_checked_at
        return checked is not None and time.monotonic() - checked < SCHEMA_CHECK_MAX_AGE

    def session(self, *, read_only: bool = False) -> Session:
        """A new session on a database known to be at the right schema.

        The first call (and every call until the schema check succeeds) connects.
        `read_only` sessions are for work that only reads (see `make_session_factory`);
        a write through one would not be one transaction.
        """
        from todo_cli.models import ORIGIN_KEY

        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.url, **self._engine_options)
                info = {ORIGIN_KEY: self.origin}
                self._sessions = make_session_factory(self._engine, info=info)
                self._read_sessions = make_session_factory(self._engine, read_only=True, info=info)
            engine, sessions, read_sessions = self._engine, self._sessions, self._read_sessions
        assert sessions is not None and read_sessions is not None
        if not self.ready:
            # Outside the lock: while the database is down, every caller fails on its own
            # connect timeout instead of queueing behind the others' attempts. Concurrent
            # first checks are harmless: reading the revision changes nothing, and SQLite
            # migrations take the database's write lock.
            started = time.monotonic()
            ensure_schema(engine, self.url)
            self._schema_checked_at = started
        return read_sessions() if read_only else sessions()

    @property
    def async_reads(self) -> AsyncReads | None:
        """Reads on the event loop (`async_reads`), on PostgreSQL once a session has
        checked the schema (and while that check is trusted); None otherwise."""
        if self.url.backend != "postgresql" or not self.ready:
            return None
        if self._async_reads is None:
            from todo_cli.async_reads import AsyncReads

            with self._lock:
                assert self._engine is not None
                if self._async_reads is None:
                    self._async_reads = AsyncReads(
                        self._engine,
                        self.url,
                        size=self._engine_options["pool_size"],
                        connect_timeout=self._engine_options["connect_timeout"],
                    )
        return self._async_reads

    def error(self, exc: BaseException) -> TodoError | None:
        """The user-facing error for a failure on this database, or None if it is a bug."""
        return database_error(exc, self.url)

    async def aclose(self) -> None:
        """Close the event loop's connections (`async_reads`), then the pool's."""
        reads, self._async_reads = self._async_reads, None
        if reads is not None:
            await reads.close()
        self.dispose()

    def dispose(self) -> None:
        """Close every pooled connection; the next session connects afresh."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()


def make_engine(
    url: DatabaseURL,
    *,
    connect_timeout: float = 5.0,
    migrating: bool = False,
    pool_size: int = 5,
    max_overflow: int = 10,
    on_slow_connect: Callable[[], None] | None = None,
) -> Engine:
    """An engine tuned for the backend.

    SQLite: WAL, foreign keys enforced (except while migrating, when batch mode copies
    and drops tables and must not cascade), a busy timeout, and `BEGIN IMMEDIATE` for
    transactions marked as writes (`models.WRITE_TRANSACTION`, and every migration), so
    that concurrent writers queue on the lock instead of failing with "database is
    locked" when a read transaction tries to become a write. Reads begin deferred: a
    WAL snapshot that never blocks a writer, however long a streamed listing takes.

    PostgreSQL: the dialect (`pg_dialect`, but the stock one while migrating) connects
    without asking the server anything and sends a BEGIN only with the first statement
    that needs one; a pooled connection is pinged before use only when it sat idle for
    more than `PING_AFTER_IDLE` or the server has said something on it
    (`_ping_when_stale`). A connect timeout, and connection attempts retried with
    backoff for up to `connect_timeout` seconds in all (a Neon compute that scaled to
    zero takes a moment to wake); once that budget has run out, later attempts are not
    retried until one succeeds, so an outage costs each request one attempt. Behind a
    transaction-mode pooler, psycopg never prepares statements server-side, because the
    next transaction may run on another server connection. `on_slow_connect` is called
    (once per connection, from another thread) when connecting takes more than
    `SLOW_CONNECT_SECONDS`: the CLI tells a person at a terminal why nothing happens yet.
    This module never prints.
    """
    from sqlalchemy import create_engine, event

    from todo_cli.models import WRITE_TRANSACTION

    if url.backend == "sqlite":
        path = url.sqlite_path
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, or no permission
                raise ConfigError(
                    f"Cannot create the directory {path.parent} for the database file "
                    f"{url.masked}: {exc.strerror or exc}."
                ) from None
        engine = create_engine(
            url.reveal(), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )

        @event.listens_for(engine, "connect")
        def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions start in "begin" below
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA foreign_keys = {'OFF' if migrating else 'ON'}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            writing = migrating or connection.get_execution_options().get(WRITE_TRANSACTION)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

        return engine

    connect_args = pg_connect_args(url)
    target: Any = url.reveal()
    if not migrating:
        # Alembic reflects and migrates with the stock dialect; every other engine uses the
        # one whose set-up and transactions cost few round trips (see pg_dialect).
        from sqlalchemy.dialects import registry
        from sqlalchemy.engine import make_url

        from todo_cli import pg_dialect

        registry.register(pg_dialect.NAME, "todo_cli.pg_dialect", "TodoPsycopgDialect")
        target = make_url(target).set(drivername=pg_dialect.DRIVERNAME)
    engine = create_engine(
        target,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=max(connect_timeout, 1.0),
    )
    _ping_when_stale(engine)

    # Set once a connection attempt has used up its whole budget: the database is down,
    # and until a connection succeeds again each attempt is made once, without retrying.
    # Otherwise every request of an outage would hold one of the server's few threads
    # for the whole budget, and clients would queue behind them for minutes.
    down = threading.Event()

    @event.listens_for(engine, "do_connect")
    def _connect_with_retry(
        dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        def attempt(timeout: int) -> Any:
            # A connect_timeout given in the URL itself wins over ours.
            return dialect.connect(*cargs, **{"connect_timeout": timeout, **cparams})

        try:
            connection = _retrying(
                attempt,
                budget=0 if down.is_set() else connect_timeout,
                on_slow=on_slow_connect,
            )
        except Exception:
            down.set()
            raise
        down.clear()
        return connection

    return engine


def pg_connect_args(url: DatabaseURL) -> dict[str, Any]:
    """What every psycopg connection of this runtime is opened with, on top of the URL."""
    connect_args: dict[str, Any] = {"application_name": "todo"}
    if url.pooler:
        connect_args["prepare_threshold"] = None
    return connect_args


def _ping_when_stale(engine: Engine) -> None:
    """Ping a pooled connection on checkout only if it may have died while idle.

    SQLAlchemy's `pool_pre_ping` costs a round trip on every checkout, several per
    command. A connection used less than `PING_AFTER_IDLE` ago is handed out as it is,
    unless its socket has something to read: an idle connection hears from the server
    only when it is being closed (a restart, `pg_terminate_backend`, an idle timeout) or
    for a notice, so that case is pinged too. A ping that finds the connection dead
    invalidates the whole pool, as `pool_pre_ping` does (after a restart every pooled
    connection is dead); the pool then connects afresh.
    """
    import select

    from sqlalchemy import event
    from sqlalchemy import exc as sa_exc

    last_used = "todo.last_used"

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[last_used] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        used = record.info.get(last_used)
        if used is None:  # a fresh connection
            return
        if time.monotonic() - used <= PING_AFTER_IDLE and not dbapi_connection.closed:
            try:
                # poll(), not select(): select refuses descriptors above 1,023, which a
                # server with a thousand clients has.
                poller = select.poll()
                poller.register(dbapi_connection.fileno(), select.POLLIN)
                heard = bool(poller.poll(0))
            except (OSError, ValueError):
                heard = True
            if not heard:
                return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise sa_exc.InvalidatePoolError() from error
            raise


def _retrying(
    connect: Callable[[int], Any],
    *,
    budget: float,
    on_slow: Callable[[], None] | None = None,
) -> Any:
    """Call `connect(timeout)` until it succeeds or `budget` seconds have passed.

    Only failures that another attempt could cure are retried; a wrong password or a
    missing database fails at once. `on_slow` is called once, from another thread, if
    connecting is still going on after `SLOW_CONNECT_SECONDS` (a cold start): whoever
    waits can be told why.
    """
    import psycopg

    notice = threading.Timer(SLOW_CONNECT_SECONDS, on_slow) if on_slow is not None else None
    if notice is not None:
        notice.daemon = True
        notice.start()
    deadline = time.monotonic() + budget
    delay = 0.1
    try:
        while True:
            remaining = deadline - time.monotonic()
            try:
                # libpq counts whole seconds and treats anything below 2 as 2.
                return connect(max(2, math.ceil(remaining)))
            except psycopg.OperationalError as exc:
                if not _worth_retrying(exc) or time.monotonic() + delay >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    finally:
        if notice is not None:
            notice.cancel()


def _worth_retrying(exc: Exception) -> bool:
    message = str(exc)
    if permanent_cause(message) is not None:
        return False
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _RETRYABLE_SQLSTATES
    if "FATAL:" not in message and "ERROR:" not in message:
        return True  # no answer from a server: refused, timed out, unreachable
    return any(answer in message for answer in _RETRYABLE_ANSWERS)


def permanent_cause(message: str) -> str | None:
    """What is wrong, in a user's words, if a connection failure is one no retry cures.

    The whole message is read: libpq tries every address of a host in turn and reports
    each, so the cause may follow a line about another address.
    """
    import re

    for pattern, cause in _PERMANENT_FAILURES:
        found = re.search(pattern, message)
        if found is not None:
            return cause.format(*found.groups())
    if any(words in message for words in _UNRESOLVED_HOST) and "Temporary failure" not in message:
        return "the host name does not resolve (is it spelled right?)"
    return None


def make_session_factory(
    engine: Engine, *, read_only: bool = False, info: dict[str, Any] | None = None
) -> Callable[[], Session]:
    """Sessions whose objects stay readable after commit (entry points render them).

    `read_only` sessions are for requests that only read. On PostgreSQL every session
    already reads without a transaction (the dialect begins one only for a write; see
    `pg_dialect`), so they are the same sessions; the flag says what the caller means.
    SQLite keeps its usual sessions (its transactions are local and its connections are
    set up for them).
    """
    from sqlalchemy.orm import sessionmaker
    from sqlmodel import Session

    del read_only  # the same sessions on both backends, see above
    return sessionmaker(engine, class_=Session, expire_on_commit=False, info=info or {})


def in_batches(
    session: Session,
    query: Any,
    entity: Any,
    keys: tuple[str, ...],
    *,
    limit: int | None = None,
    size: int = 500,
    fetch: Callable[[Any], Sequence[Any]] | None = None,
) -> Iterator[Any]:
    """The rows of `query`, ordered by `keys` descending (unique together), `size` at a time.

    Each batch is a query of its own, after the last row of the one before (keyset
    paging), so memory stays flat for any count, as with a server-side cursor, without
    what a cursor costs: a transaction, and on PostgreSQL a DECLARE, a describe and a
    FETCH per batch for the query and for each relationship loaded with it. A listing
    of up to `size` rows is one round trip, and no transaction at all. `query` must have
    no limit of its own; `limit` caps the rows in all. `fetch` runs one batch's query
    (by default, as the session's objects); what it returns must have the `keys`.
    """
    from sqlalchemy import tuple_

    columns = tuple_(*(getattr(entity, key) for key in keys))
    after: tuple[Any, ...] | None = None
    remaining = limit
    while remaining is None or remaining > 0:
        take = size if remaining is None else min(size, remaining)
        page = query if after is None else query.where(columns < after)
        limited = page.limit(take)
        rows = list(session.exec(limited)) if fetch is None else fetch(limited)
        yield from rows
        if len(rows) < take:
            return
        if remaining is not None:
            remaining -= take
        after = tuple(getattr(rows[-1], key) for key in keys)


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database, or None if it has no schema.

    One statement: reading the table and taking "no such table" for "no schema" costs
    one round trip, where asking the catalog first costs two (on Neon, each is a trip
    across the network, on every command).
    """
    from sqlalchemy import exc, text

    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except exc.DBAPIError as error:
            if _is_missing_table(error):
                return None
            raise


def _is_missing_table(error: Exception) -> bool:
    original = getattr(error, "orig", None)
    if getattr(original, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
        return True
    return original is not None and "no such table" in str(original)


def check_schema(engine: Engine) -> None:
    """Raise `SchemaOutOfDate` unless the database is at the revision this code needs.

    A database that records no revision but already has tables of todo's names is
    refused for what it is (another application's, or todo's of unknown revision), not
    sent to `todo db upgrade`, which would refuse it too.
    """
    revision = current_revision(engine)
    if revision == HEAD_REVISION:
        return
    if revision is None:
        with engine.connect() as connection:
            refusal = _unrecorded_tables_refusal(connection)
        if refusal is not None:
            raise refusal
        raise SchemaOutOfDate("The database has no todo schema yet; run `todo db upgrade`.")
    if revision in SCHEMA_REVISIONS:
        raise SchemaOutOfDate(
            f"The database schema is at revision {revision} but this todo needs "
            f"{HEAD_REVISION}; run `todo db upgrade`."
        )
    raise _newer_schema(revision)


def _newer_schema(revision: str) -> SchemaOutOfDate:
    # An Alembic revision todo never had is a newer todo's, or another Alembic user's.
    return SchemaOutOfDate(
        f"The database schema (revision {revision}) is newer than this todo knows; upgrade "
        "todo, or if the database is another application's, point todo at one of its own."
    )


def _unrecorded_tables_refusal(connection: Connection) -> TodoError | None:
    """Why a database that records no todo revision must not be touched, or None.

    Without a revision, todo's first migration would create `users` and `tasks`: over
    another application's tables of those names it would fail halfway or, worse, a
    later migration would alter them. Tables whose columns are all todo's are todo's
    own with the `alembic_version` row lost; anything else belongs to someone else.
    Either way nothing is created, migrated or written.
    """
    from sqlalchemy import inspect

    from todo_cli.models import Task

    inspector = inspect(connection)
    ours = Task.metadata.tables
    present = sorted(set(inspector.get_table_names()) & set(ours))
    if not present:
        return None
    quoted = [f"`{name}`" for name in present]
    named = " and ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)
    listed = f"a table named {named}" if len(present) == 1 else f"tables named {named}"
    foreign = [
        name
        for name in present
        if {column["name"] for column in inspector.get_columns(name)} - set(ours[name].c.keys())
    ]
    if foreign:
        return ConfigError(
            f"The database already has {listed} that todo did not create (their "
            "columns are not todo's), and todo will not touch another application's "
            "tables; point TODO_DATABASE_URL at a database of todo's own."
        )
    return SchemaOutOfDate(
        f"The database has {listed} as todo's, but no schema revision in "
        "`alembic_version`, so todo cannot tell which migrations have run and changes "
        "nothing; restore the `alembic_version` row or use a new database."
    )


def ensure_schema(engine: Engine, url: DatabaseURL) -> None:
    """Check the schema; an embedded SQLite database is brought to the head instead.

    A local SQLite file belongs to the person running `todo`, so creating or upgrading
    it is what they expect. PostgreSQL is shared: nothing is created implicitly there.
    """
    try:
        check_schema(engine)
    except SchemaOutOfDate:
        if url.backend != "sqlite" or current_revision(engine) not in (None, *SCHEMA_REVISIONS):
            raise
        upgrade(url)


# --- migrations -------------------------------------------------------------------------


def migrations_dir() -> Path:
    return Path(str(files("todo_cli.migrations")))


def _alembic_config(url: DatabaseURL, connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolates '%'; the path is escaped, and the URL (which may hold
    # a '%' in its password) never goes through the parser at all.
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    config.attributes["url"] = url
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_connection(url: DatabaseURL, connect_timeout: float) -> Iterator[Connection]:
    """One transaction on the migration URL; failures are named with that URL."""
    from sqlalchemy import text

    engine = make_engine(url, connect_timeout=connect_timeout, migrating=True)
    try:
        with translated_errors(url), engine.begin() as connection:
            if url.backend == "postgresql":
                # Before the schema is looked at: another upgrade may be creating the
                # tables, and between reading that there is no revision yet and listing
                # the tables it would commit both (SQLite's migrations take its write
                # lock as their transaction begins).
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            _refuse_unknown_revision(connection)
            yield connection
    finally:
        engine.dispose()


def _refuse_unknown_revision(connection: Connection) -> None:
    """A schema newer than this code: only a newer todo may migrate it, up or down. No
    revision at all, with tables of todo's names there already: nobody may."""
    from sqlalchemy import inspect, text

    revision = None
    if inspect(connection).has_table("alembic_version"):
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if revision is None:
        refusal = _unrecorded_tables_refusal(connection)
        if refusal is not None:
            raise refusal
    elif revision not in SCHEMA_REVISIONS:
        raise _newer_schema(revision)


def revision_of(url: DatabaseURL, *, connect_timeout: float = 5.0) -> str | None:
    """The schema revision of the database at `url` (`todo db current`)."""
    engine = make_engine(url, connect_timeout=connect_timeout)
    try:
        with translated_errors(url):
            return current_revision(engine)
    finally:
        engine.dispose()


@contextmanager
def translated_errors(url: DatabaseURL) -> Iterator[None]:
    """Database failures raised as the user-facing errors they stand for, naming `url`.

    For code that talks to another database than the settings' main URL (migrations run
    on the direct endpoint), so that the message names, and masks, the right one.
    """
    from sqlalchemy import exc as sa_exc

    try:
        yield
    except sa_exc.DBAPIError as exc:
        error = database_error(exc, url)
        if error is None:
            raise
        raise error from exc


@contextmanager
def _revision_errors() -> Iterator[None]:
    """Alembic's complaint about a revision argument is a usage error, not a crash."""
    from alembic.util import CommandError

    try:
        yield
    except CommandError as exc:
        raise ValidationError(f"{str(exc).rstrip('.')}.", details={"field": "revision"}) from None


def upgrade(url: DatabaseURL, revision: str = "head", *, connect_timeout: float = 5.0) -> None:
    """Bring the schema to `revision` in one transaction; running it twice is harmless."""
    from alembic import command

    with _migration_connection(url, connect_timeout) as connection, _revision_errors():
        command.upgrade(_alembic_config(url, connection), revision)


def downgrade(url: DatabaseURL, revision: str, *, connect_timeout: float = 5.0) -> None:
    from alembic import command

    with _migration_connection(url, connect_timeout) as connection, _revision_errors():
        command.downgrade(_alembic_config(url, connection), revision)


def check_models_match(url: DatabaseURL, *, connect_timeout: float = 5.0) -> None:
    """Raise if the models and the migrated schema differ (`alembic check`)."""
    from alembic import command

    with _migration_connection(url, connect_timeout) as connection:
        command.check(_alembic_config(url, connection))


# --- errors -----------------------------------------------------------------------------


def database_error(exc: BaseException, url: DatabaseURL) -> TodoError | None:
    """The user-facing error for a database failure, or None if it is a bug.

    The driver's message is cut to its first line and stripped of the password.
    """
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, TodoError):
        return exc
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    original = exc.orig if exc.orig is not None else exc
    lines = str(original).strip().splitlines()
    reason = redact(lines[0] if lines else type(original).__name__, *url.secrets).rstrip(".")
    if url.backend == "sqlite":
        if "locked" in reason or "busy" in reason:
            return DatabaseUnavailable(
                "The database is busy (another todo is writing to it); try again."
            )
        if "unable to open" in reason:
            return ConfigError(f"Cannot open the database file {url.masked}: {reason}.")
        if "not a database" in reason:  # "file is not a database" (or "…encrypted or …")
            return ConfigError(
                f"The file {url.sqlite_path} is not a SQLite database; point "
                "TODO_DATABASE_URL at a todo database, or at a new file."
            )
        if "no such table" in reason:
            return SchemaOutOfDate("The database has no todo schema yet; run `todo db upgrade`.")
        return None
    sqlstate: str | None = getattr(original, "sqlstate", None)
    cause = permanent_cause(str(original)) if sqlstate is None else None
    if cause is not None:
        return ConfigError(
            f"Cannot connect to the database at {url.masked}: {redact(cause, *url.secrets)}."
        )
    if exc.connection_invalidated or sqlstate is None or sqlstate[:2] in {"08", "53", "57"}:
        return DatabaseUnavailable(f"Cannot reach the database at {url.masked}: {reason}.")
    if sqlstate in {"40P01", "40001"}:  # deadlock detected / serialization failure
        # Two writers of one user's tasks took their locks in opposite orders (an import
        # locks the user first, an edit its tasks): one was rolled back, nothing of it kept.
        return DatabaseUnavailable(
            "Another change to the same tasks ran at the same moment, so this one was "
            "rolled back and nothing was changed; try again."
        )
    if sqlstate in {"42P01", "42703"}:  # undefined table / column
        return SchemaOutOfDate(
            f"The database schema is missing or out of date ({reason}); run `todo db upgrade`."
        )
    return None
