"""Test harness: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from TODO_TEST_DATABASE_URL (any database on the server; it is only
used to create and drop others), else the local server on 127.0.0.1:5432. Each test run
creates its own database and drops it at the end. If the server cannot be reached the
PostgreSQL half is skipped, unless TODO_REQUIRE_POSTGRES=1, which makes it an error, so
CI can never pass with PostgreSQL silently missing.

No test reads the developer's environment, `.env` or data directory: every test runs in
its own working directory with TODO_* unset and XDG_DATA_HOME pointing at a temporary
directory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.servers import PgBouncer, PrivatePostgres, pg_binary
from todo_cli import db, service
from todo_cli.config import DatabaseURL, Settings, get_settings
from todo_cli.models import User

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

BACKENDS = ("sqlite", "postgresql")
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_required() -> bool:
    return os.environ.get("TODO_REQUIRE_POSTGRES", "") not in ("", "0", "false")


# Read once, before any test's environment is cleaned.
ADMIN_CONNINFO = os.environ.get("TODO_TEST_DATABASE_URL", DEFAULT_ADMIN_URL).replace(
    "postgresql+psycopg://", "postgresql://", 1
)


class PostgresServer:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.run_id = uuid.uuid4().hex[:8]
        self._created: list[str] = []

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)

    def create_database(self, label: str = "db") -> DatabaseURL:
        name = f"todo_test_{self.run_id}_{label}_{len(self._created)}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.append(name)
        return self.url_for(name)

    def url_for(self, name: str) -> DatabaseURL:
        info = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        info["dbname"] = name
        user = info.get("user", "postgres")
        password = f":{info['password']}" if info.get("password") else ""
        host = info.get("host", "127.0.0.1")
        port = info.get("port", 5432)
        return DatabaseURL.parse(f"postgresql://{user}{password}@{host}:{port}/{name}")

    def drop_database(self, url: DatabaseURL) -> None:
        name = url.reveal().rsplit("/", 1)[1].split("?")[0]
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self._created:
            self._created.remove(name)

    def drop_all(self) -> None:
        for name in list(self._created):
            self.drop_database(self.url_for(name))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer(ADMIN_CONNINFO)
    try:
        server._admin().close()
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable ({str(exc).splitlines()[0]})"
        if postgres_required():
            pytest.fail(f"{message} and TODO_REQUIRE_POSTGRES=1", pytrace=False)
        pytest.skip(message)
    yield server
    server.drop_all()


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No test sees the developer's settings, `.env` or data directory."""
    for name in list(os.environ):
        if name.startswith("TODO_") and name not in ("TODO_REQUIRE_POSTGRES",):
            monkeypatch.delenv(name)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # `todo` subprocesses run in-process unless a test starts its own warm server
    # (tests/test_warm_*.py), so that no test leaves a server behind.
    monkeypatch.setenv("TODO_DAEMON", "0")
    monkeypatch.delenv("TODO_TEST_DATABASE_URL", raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))  # the completion cache
    monkeypatch.chdir(home)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def new_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], DatabaseURL]]:
    """A factory of empty databases on either backend, dropped after the test."""
    made: list[DatabaseURL] = []

    def make(backend: str) -> DatabaseURL:
        if backend == "sqlite":
            url = DatabaseURL.parse(f"sqlite:///{tmp_path / f'empty{len(made)}.db'}")
        else:
            server: PostgresServer = request.getfixturevalue("postgres_server")
            url = server.create_database("empty")
        made.append(url)
        return url

    yield make
    for url in made:
        if url.backend == "postgresql":
            request.getfixturevalue("postgres_server").drop_database(url)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseURL]:
    """A database at the schema head, one per backend for the whole run."""
    if request.param == "sqlite":
        url = DatabaseURL.parse(f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'todo.db'}")
    else:
        url = request.getfixturevalue("postgres_server").create_database("main")
    db.upgrade(url)
    yield url


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> DatabaseURL:
    """A PostgreSQL database at the schema head, for behaviour only PostgreSQL has."""
    url = postgres_server.create_database("pg")
    db.upgrade(url)
    return url


@pytest.fixture(scope="session")
def _engines() -> Iterator[dict[str, Engine]]:
    engines: dict[str, Engine] = {}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def engine(database_url: DatabaseURL, _engines: dict[str, Engine]) -> Engine:
    """The backend's engine, with every table emptied before the test."""
    engine = _engines.get(database_url.reveal())
    if engine is None:
        engine = db.make_engine(database_url, pool_size=25, max_overflow=5)
        _engines[database_url.reveal()] = engine
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM tasks"))
        connection.execute(text("DELETE FROM users"))
    return engine


@pytest.fixture
def backend(database_url: DatabaseURL) -> str:
    return database_url.backend


@pytest.fixture
def session_factory(engine: Engine) -> Callable[[], Session]:
    return db.make_session_factory(engine)


@pytest.fixture
def session(session_factory: Callable[[], Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def use_database(
    database_url: DatabaseURL, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> DatabaseURL:
    """Point the application's settings (TODO_DATABASE_URL) at the test database."""
    monkeypatch.setenv("TODO_DATABASE_URL", database_url.reveal())
    get_settings.cache_clear()
    return database_url


# --- data every layer's tests share -------------------------------------------------------

# SPEC's task object, its fields in SPEC's order.
TASK_FIELDS = (
    "id",
    "user_id",
    "number",
    "title",
    "description",
    "is_completed",
    "version",
    "created_at",
    "updated_at",
    # Release 2 (SPEC → Task attributes)
    "due",
    "due_date",
    "wait",
    "priority",
    "project",
    "tags",
    "completed_at",
    "status",
    "notes",
    "extra",
)


@pytest.fixture
def alice(session: Session) -> User:
    """A user of the test database (CLI modules override it to act as her)."""
    return service.create_user(session, name="alice")


@pytest.fixture
def bob(session: Session) -> User:
    return service.create_user(session, name="bob")


# --- servers the reliability tests start themselves --------------------------------------


def _require_tool(name: str, found: bool) -> None:
    if not found:
        message = f"{name} is not installed (CI installs it: see .ci/run)"
        if postgres_required():
            pytest.fail(f"{message} and TODO_REQUIRE_POSTGRES=1", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def pgbouncer(postgres_server: PostgresServer) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of the test server (Neon's pooler)."""
    import shutil

    _require_tool(
        "pgbouncer", bool(shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists())
    )
    bouncer = PgBouncer(psycopg.conninfo.conninfo_to_dict(postgres_server.conninfo))  # type: ignore[arg-type]
    bouncer.start()
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def private_postgres(postgres_server: PostgresServer) -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this run's own, which fault tests may stop and start."""
    _require_tool("PostgreSQL server binaries (initdb, pg_ctl)", pg_binary("initdb") is not None)
    cluster = PrivatePostgres()
    cluster.start()
    yield cluster
    cluster.destroy()


# --- API fixtures -----------------------------------------------------------------------
# For tests/test_api_*.py. FastAPI and PyJWT are imported inside, so the rest of the suite
# does not depend on the `api` extra.

API_SECRET = "a-test-secret-of-more-than-32-bytes-0123456789"


def bearer(user_id: uuid.UUID, *, secret: str = API_SECRET, ttl_seconds: int = 3600) -> str:
    """A valid `Authorization` header value for `user_id`."""
    from datetime import timedelta

    from todo_cli import tokens

    token, _ = tokens.mint_token(
        secret.encode(), user_id=user_id, ttl=timedelta(seconds=ttl_seconds)
    )
    return f"Bearer {token}"


@pytest.fixture
def api_secret() -> str:
    """The `TODO_API_SECRET` of the test apps."""
    return API_SECRET


@pytest.fixture
def token_for() -> Callable[[uuid.UUID], str]:
    """`token_for(user_id)`: a valid `Authorization` header value for that user."""
    return bearer


@pytest.fixture
def api_settings(database_url: DatabaseURL, engine: Engine) -> Settings:
    """Settings for an API app on the backend's test database (emptied by `engine`)."""
    return Settings(_env_file=None, database_url=database_url.reveal(), api_secret=API_SECRET)


@pytest.fixture
def api_client(api_settings: Settings) -> Iterator[TestClient]:
    """A client of a fresh app (authentication on) on the test database.

    Requests to `/users/{uuid}/…` carry a valid token of that user unless the test sets
    `Authorization` itself, so route tests read as plain requests while the server runs
    exactly as in production. The app's lifespan runs around the client.
    """
    import httpx
    from fastapi.testclient import TestClient

    from todo_cli.api import create_app

    class TokenOfThePathsUser(httpx.Auth):
        def auth_flow(
            self, request: httpx.Request
        ) -> Generator[httpx.Request, httpx.Response, None]:
            parts = request.url.path.split("/")
            if len(parts) > 2 and parts[1] == "users" and "Authorization" not in request.headers:
                try:
                    request.headers["Authorization"] = bearer(uuid.UUID(parts[2]))
                except ValueError:
                    pass  # not a UUID: the request goes without a token
            yield request

    with TestClient(create_app(api_settings)) as client:
        client.auth = TokenOfThePathsUser()
        yield client
