"""Neon's pooled endpoint, emulated: PgBouncer in transaction mode.

In transaction mode each transaction may run on a different server connection, so a
statement prepared server-side in one transaction is missing (or already present) in the
next. `todo` therefore never prepares statements when it talks to a pooler. This module
runs the whole service-layer suite through PgBouncer, then a concurrent load, and shows
that the same load does fail when prepared statements are left on — so the test would
notice if the protection were lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.conftest import PostgresServer
from tests.servers import PgBouncer
from tests.test_service_concurrency import *  # noqa: F403 - rerun through the pooler
from tests.test_service_isolation import *  # noqa: F403
from tests.test_service_tasks import *  # noqa: F403
from tests.test_service_users import *  # noqa: F403
from todo_cli import db, service
from todo_cli.config import DatabaseURL
from todo_cli.models import TaskCreate


@pytest.fixture(scope="module")
def pooled_database(postgres_server: PostgresServer, pgbouncer: PgBouncer) -> Iterator[str]:
    direct = postgres_server.create_database("pooled")
    db.upgrade(direct)
    yield direct.reveal().rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def database_url(pooled_database: str, pgbouncer: PgBouncer) -> DatabaseURL:  # noqa: F811
    """Overrides the two-backend fixture: every test here goes through PgBouncer."""
    return DatabaseURL.parse(pgbouncer.url(pooled_database), pooler=True)


def _mixed_load(url: DatabaseURL, threads: int = 8, rounds: int = 25) -> list[str]:
    engine = db.make_engine(url, pool_size=threads)
    sessions = db.make_session_factory(engine)
    with sessions() as session:
        user_id = service.ensure_user(session, name=f"load{threading.get_ident()}").id
    errors: list[str] = []

    def work() -> None:
        try:
            for i in range(rounds):
                with sessions() as session:
                    task = service.create_task(
                        session, user_id=user_id, task=TaskCreate(title=f"t{i}")
                    )
                    service.list_tasks(session, user_id=user_id, limit=10)
                    service.get_task(session, user_id=user_id, ref=str(task.id))
                    service.complete_tasks(session, user_id=user_id, refs=[str(task.number)])
                with engine.begin() as connection:
                    connection.execute(text("SELECT :n + 1"), {"n": i}).scalar()
        except Exception as exc:  # collected for the assertion
            errors.append(str(exc).splitlines()[0])

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    engine.dispose()
    return errors


def test_concurrent_load_through_the_pooler_has_no_prepared_statement_errors(
    database_url: DatabaseURL,
) -> None:
    assert _mixed_load(database_url) == []


def test_the_same_load_fails_with_prepared_statements_on(database_url: DatabaseURL) -> None:
    """The control: proves PgBouncer really is in transaction mode for these tests."""
    unprotected = DatabaseURL.parse(database_url.reveal(), pooler=False)
    errors = _mixed_load(unprotected)
    assert any("prepared statement" in error for error in errors), errors
