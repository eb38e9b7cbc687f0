"""Engines, connection failures and the schema check."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy.exc
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import postgres_required
from tests.servers import PrivatePostgres, pg_binary
from todo_cli import db
from todo_cli.config import DatabaseURL
from todo_cli.errors import ConfigError, DatabaseUnavailable, SchemaOutOfDate

SECRET = "s3cr%t-pa55"


def _closed_port_url() -> DatabaseURL:
    import socket

    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return DatabaseURL.parse(f"postgresql://todo:s3cr%25t-pa55@127.0.0.1:{port}/todo")


def test_closed_port_fails_within_the_budget_without_the_password() -> None:
    url = _closed_port_url()
    engine = db.make_engine(url, connect_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        engine.connect()
    elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 10  # retried with backoff, then gave up
    error = db.database_error(caught.value, url)
    assert isinstance(error, DatabaseUnavailable)
    assert error.exit_code == 5 and error.http_status == 503
    assert error.message.startswith("Cannot reach the database at postgresql+psycopg://todo:***@")
    assert SECRET not in error.message and "s3cr%25t" not in error.message
    assert "\n" not in error.message


def test_once_the_budget_has_run_out_attempts_are_not_retried_until_one_succeeds() -> None:
    """In an outage each request costs one attempt, not the whole budget (a server's
    few threads would otherwise all wait, and its clients queue behind them)."""
    import socket
    import threading

    attempts = 0
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def hang_up() -> None:  # a server that accepts and closes: worth another attempt
        nonlocal attempts
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            attempts += 1
            connection.close()

    threading.Thread(target=hang_up, daemon=True).start()
    engine = db.make_engine(
        DatabaseURL.parse(f"postgresql://todo@127.0.0.1:{port}/todo"), connect_timeout=1.0
    )
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError):
            engine.connect()
        assert attempts > 1  # the first failure is retried for the whole budget
        for _ in range(3):
            before = attempts
            with pytest.raises(sqlalchemy.exc.OperationalError):
                engine.connect()
            assert attempts == before + 1
    finally:
        listener.close()
        engine.dispose()


def test_server_errors_that_retrying_cannot_fix_fail_at_once(postgres_url: DatabaseURL) -> None:
    missing = DatabaseURL.parse(postgres_url.reveal().rsplit("/", 1)[0] + "/no_such_database")
    engine = db.make_engine(missing, connect_timeout=30)
    started = time.monotonic()
    with pytest.raises(sqlalchemy.exc.OperationalError):
        engine.connect()
    assert time.monotonic() - started < 5


def test_pooled_connections_never_prepare_statements(postgres_url: DatabaseURL) -> None:
    pooled = DatabaseURL.parse(postgres_url.reveal(), pooler=True)
    for url, expected in ((pooled, None), (postgres_url, 5)):
        engine = db.make_engine(url)
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None
            assert raw.prepare_threshold == expected
        engine.dispose()


def test_sqlite_is_configured_for_concurrent_use(tmp_path: Path) -> None:
    engine = db.make_engine(DatabaseURL.parse(f"sqlite:///{tmp_path / 'nested' / 'x.db'}"))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    assert (tmp_path / "nested" / "x.db").exists()


def test_schema_revisions_match_the_migration_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(db.migrations_dir()))
    script = ScriptDirectory.from_config(config)
    history = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert tuple(history) == db.SCHEMA_REVISIONS
    assert script.get_current_head() == db.HEAD_REVISION


def test_schema_check(new_database: Callable[[str], DatabaseURL], backend: str) -> None:
    url = new_database(backend)
    engine = db.make_engine(url)
    with pytest.raises(SchemaOutOfDate, match="todo db upgrade") as caught:
        db.check_schema(engine)
    assert caught.value.exit_code == 5
    db.upgrade(url)
    db.check_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    with pytest.raises(SchemaOutOfDate, match="newer than this todo"):
        db.check_schema(engine)
    engine.dispose()


def test_ensure_schema_creates_sqlite_but_never_postgresql(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    url = new_database(backend)
    engine = db.make_engine(url)
    if backend == "sqlite":
        db.ensure_schema(engine, url)
        assert db.current_revision(engine) == db.HEAD_REVISION
    else:
        with pytest.raises(SchemaOutOfDate):
            db.ensure_schema(engine, url)
        assert db.current_revision(engine) is None
    engine.dispose()


def test_missing_table_becomes_a_schema_error(engine: Engine, database_url: DatabaseURL) -> None:
    with pytest.raises(sqlalchemy.exc.DBAPIError) as caught, engine.connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table"))
    assert isinstance(db.database_error(caught.value, database_url), SchemaOutOfDate)


def test_bugs_are_not_translated(database_url: DatabaseURL, engine: Engine) -> None:
    assert db.database_error(KeyError("x"), database_url) is None
    # A task without a user: a violated constraint is a bug, not a database outage.
    with pytest.raises(sqlalchemy.exc.IntegrityError) as caught, engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tasks (user_id, id, number, title, is_completed, created_at,"
                " updated_at, version) VALUES (:u, :i, 1, 't', false, :now, :now, 1)"
            ),
            {"u": _uuid_param(engine), "i": _uuid_param(engine), "now": "2026-01-01 00:00:00"},
        )
    assert db.database_error(caught.value, database_url) is None


def _uuid_param(engine: Engine) -> str:
    value = uuid.uuid4()
    return value.hex if engine.dialect.name == "sqlite" else str(value)


@pytest.mark.parametrize(
    ("message", "retry"),
    [
        ('connection to server at "h", port 5432 failed: Connection refused', True),
        ('connection to server at "h", port 5432 failed: timeout expired', True),
        ("FATAL:  the database system is starting up", True),
        ("FATAL:  sorry, too many clients already; too many connections", True),
        # The server's own words when max_connections is reached (PostgreSQL 15).
        (
            'connection to server at "127.0.0.1", port 5432 failed: '
            "FATAL:  sorry, too many clients already",
            True,
        ),
        ('FATAL:  too many connections for role "u"', True),
        ("ERROR:  could not connect to compute node (Neon waking up)", True),
        ('FATAL:  password authentication failed for user "u"', False),
        ('FATAL:  database "nope" does not exist', False),
        ('could not translate host name "typo.example" to address', False),
        # psycopg 3.3's own wording, from a real call (see the test below)
        ("failed to resolve host 'typo.invalid': [Errno -2] Name or service not known", False),
        ("failed to resolve host 'h': [Errno -3] Temporary failure in name resolution", True),
        ('FATAL:  password authentication failed for user "compute_app"', False),
        # psycopg 3.3's words, from real calls (see the tests below): no FATAL in them,
        # but no server answer either that another attempt could change.
        (
            'connection failed: connection to server at "h", port 5432 failed: '
            "server does not support SSL, but SSL was required",
            False,
        ),
        (
            'connection failed: connection to server at "h", port 5432 failed: '
            "channel binding required, but server authenticated client without channel binding",
            False,
        ),
        ('connection is bad: invalid sslmode value: "bogus"', False),
        # The first address refused, the second named the cause.
        (
            'connection to server at "::1", port 5432 failed: Connection refused\n'
            'connection to server at "127.0.0.1", port 5432 failed: '
            'FATAL:  database "nope" does not exist',
            False,
        ),
    ],
)
def test_only_failures_another_attempt_could_cure_are_retried(message: str, retry: bool) -> None:
    import psycopg

    assert db._worth_retrying(psycopg.OperationalError(message)) is retry


def test_a_host_that_does_not_resolve_fails_at_once() -> None:
    """The real driver's wording, not a made-up one: a typo is not retried for 30 s."""
    url = DatabaseURL.parse("postgresql://u:pw@no-such-host.invalid/db")
    engine = db.make_engine(url, connect_timeout=30)
    started = time.monotonic()
    with pytest.raises(sqlalchemy.exc.OperationalError):
        engine.connect()
    assert time.monotonic() - started < 10


# --- failures that no retry can cure: at once, and named for what they are ------------


def _with(
    url: DatabaseURL, *, user: str | None = None, dbname: str | None = None, options: str = ""
) -> DatabaseURL:
    """`url` with another user, database or query options."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.reveal())
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}@{netloc.rpartition('@')[2]}"
    path = f"/{dbname}" if dbname is not None else parts.path
    return DatabaseURL.parse(urlunsplit(parts._replace(netloc=netloc, path=path, query=options)))


def _fails_at_once(url: DatabaseURL) -> ConfigError:
    """Connect with a 30 s budget; the failure must come without a single retry."""
    slow: list[float] = []
    engine = db.make_engine(url, connect_timeout=30, on_slow_connect=lambda: slow.append(1))
    started = time.monotonic()
    try:
        with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
            engine.connect()
    finally:
        engine.dispose()
    assert time.monotonic() - started < db.SLOW_CONNECT_SECONDS
    assert slow == []
    error = db.database_error(caught.value, url)
    assert isinstance(error, ConfigError), error
    assert error.exit_code == 5 and error.http_status == 503
    assert error.message.startswith(f"Cannot connect to the database at {url.masked}: ")
    assert "Cannot reach" not in error.message and "\n" not in error.message
    return error


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        (
            {"options": "sslmode=require"},
            "the server does not support TLS, but the URL requires it",
        ),
        ({"options": "channel_binding=require"}, "requires channel binding"),
        ({"options": "sslmode=bogus"}, "sslmode option has a value libpq does not know"),
        ({"options": "sslmode=require&frobnicate=1"}, "option libpq does not know: frobnicate"),
        ({"dbname": "no_such_database_4f1c"}, "no database named no_such_database_4f1c"),
        ({"user": "no_such_role_4f1c"}, "no user (role) named no_such_role_4f1c"),
    ],
)
def test_permanent_connection_failures_fail_at_once_naming_the_cause(
    postgres_url: DatabaseURL, change: dict[str, str], cause: str
) -> None:
    """Provoked for real on the test server, which has no TLS and trusts every user."""
    error = _fails_at_once(_with(postgres_url, **change))
    assert cause in error.message


@pytest.fixture(scope="module")
def password_server() -> Iterator[PrivatePostgres]:
    """A private cluster where the role `todo_pw` must give its password (SCRAM)."""
    if pg_binary("initdb") is None:
        if postgres_required():
            pytest.fail("initdb is not installed and TODO_REQUIRE_POSTGRES=1", pytrace=False)
        pytest.skip("initdb is not installed")
    cluster = PrivatePostgres()
    cluster.start()
    try:
        with psycopg.connect(cluster.conninfo, autocommit=True) as admin:
            admin.execute("CREATE ROLE todo_pw LOGIN PASSWORD 'the-right-one'")
            row = admin.execute("SHOW hba_file").fetchone()
            assert row is not None
            hba = Path(row[0])
            hba.write_text("host all todo_pw 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
            admin.execute("SELECT pg_reload_conf()")
        yield cluster
    finally:
        cluster.destroy()


@pytest.mark.parametrize(
    ("credentials", "cause"),
    [
        ("todo_pw:wrong-password", "the server refused the password of user todo_pw"),
        ("todo_pw", "the server asks for a password and the URL gives none"),
    ],
)
def test_a_wrong_or_missing_password_fails_at_once_naming_the_cause(
    password_server: PrivatePostgres, credentials: str, cause: str
) -> None:
    url = DatabaseURL.parse(f"postgresql://{credentials}@127.0.0.1:{password_server.port}/postgres")
    error = _fails_at_once(url)
    assert cause in error.message and "wrong-password" not in error.message
    right = DatabaseURL.parse(
        f"postgresql://todo_pw:the-right-one@127.0.0.1:{password_server.port}/postgres"
    )
    engine = db.make_engine(right)
    with engine.connect() as connection:  # the set-up is right: only the password was wrong
        assert connection.exec_driver_sql("SELECT current_user").scalar() == "todo_pw"
    engine.dispose()


def test_a_slow_connect_is_reported_once_and_a_fast_one_never() -> None:
    calls: list[str] = []
    engine = db.make_engine(
        _closed_port_url(),
        connect_timeout=db.SLOW_CONNECT_SECONDS + 1.5,
        on_slow_connect=lambda: calls.append(threading.current_thread().name),
    )
    with pytest.raises(sqlalchemy.exc.OperationalError):
        engine.connect()  # refused, retried with backoff for the whole budget
    assert len(calls) == 1
    engine.dispose()


def test_a_connect_that_succeeds_in_time_is_never_reported(postgres_url: DatabaseURL) -> None:
    calls: list[str] = []
    engine = db.make_engine(postgres_url, on_slow_connect=lambda: calls.append("slow"))
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    time.sleep(db.SLOW_CONNECT_SECONDS + 0.3)  # the notice was cancelled, not just late
    assert calls == []
    engine.dispose()
