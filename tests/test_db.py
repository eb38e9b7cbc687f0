"""Engines, connection failures and the schema check."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy.exc
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

from todo_cli import db
from todo_cli.config import DatabaseURL
from todo_cli.errors import DatabaseUnavailable, SchemaOutOfDate

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
