"""Database faults: connections killed mid-transaction, servers stopped and restarted.

What must hold: a write that was acknowledged is never lost, a write that was not is
either wholly there or wholly absent, and the next operation after the fault works
again without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from todo_cli import db, service
from todo_cli.config import DatabaseURL
from todo_cli.errors import DatabaseUnavailable
from todo_cli.models import TaskCreate, TaskUpdate


def _terminate(url: DatabaseURL, pid: int) -> None:
    """Kill a backend and wait until it is gone: `pg_terminate_backend` only signals it,
    and a statement sent before the backend has said goodbye on its socket would test
    that race instead of a connection that died while idle."""
    conninfo = url.reveal().replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} outlived its termination"
            time.sleep(0.01)


@pytest.fixture
def pg_sessions(postgres_url: DatabaseURL) -> Iterator[Callable[[], Session]]:
    engine = db.make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM tasks"))
        connection.execute(text("DELETE FROM users"))
    yield db.make_session_factory(engine)
    engine.dispose()


@pytest.mark.parametrize("operation", ["create", "update", "complete", "delete"])
def test_connection_killed_before_commit_leaves_nothing_half_done(
    postgres_url: DatabaseURL, pg_sessions: Callable[[], Session], operation: str
) -> None:
    with pg_sessions() as session:
        user = service.create_user(session, name="ann")
        for title in ("one", "two"):
            service.create_task(session, user_id=user.id, task=TaskCreate(title=title))
        before = [
            (t.number, t.title, t.is_completed, t.version)
            for t in service.list_tasks(session, user_id=user.id, status="all")
        ]

    calls: dict[str, Callable[[Session], object]] = {
        "create": lambda s: service.create_task(s, user_id=user.id, task=TaskCreate(title="three")),
        "update": lambda s: service.update_task(
            s, user_id=user.id, ref="1", changes=TaskUpdate(title="changed", description="d")
        ),
        "complete": lambda s: service.complete_tasks(s, user_id=user.id, refs=["1", "2"]),
        "delete": lambda s: service.delete_tasks(s, user_id=user.id, refs=["1", "2"]),
    }
    with pg_sessions() as session:
        # Kill the server process of this session once its writes are sent, just before
        # COMMIT: the transaction is cut in the middle.
        @event.listens_for(session, "before_commit")
        def _kill(s: OrmSession) -> None:
            session.flush()
            pid = s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            assert isinstance(pid, int)
            _terminate(postgres_url, pid)

        with pytest.raises(DBAPIError) as caught:
            calls[operation](session)
    error = db.database_error(caught.value, postgres_url)
    assert isinstance(error, DatabaseUnavailable)

    # Nothing half-done, and the very next operation works (the pool replaces the dead
    # connection) and takes the number the failed create would have taken.
    with pg_sessions() as session:
        after = [
            (t.number, t.title, t.is_completed, t.version)
            for t in service.list_tasks(session, user_id=user.id, status="all")
        ]
        assert after == before
        assert (
            service.create_task(session, user_id=user.id, task=TaskCreate(title="next")).number == 3
        )


def test_acknowledged_writes_survive_killed_connections(
    postgres_url: DatabaseURL, pg_sessions: Callable[[], Session]
) -> None:
    with pg_sessions() as session:
        user = service.create_user(session, name="ann")
        created = [
            service.create_task(session, user_id=user.id, task=TaskCreate(title=f"t{i}")).id
            for i in range(5)
        ]
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert isinstance(pid, int)
    # The connection is back in the pool, idle, when the server kills it.
    _terminate(postgres_url, pid)
    with pg_sessions() as session:
        stored = {t.id for t in service.list_tasks(session, user_id=user.id, status="all")}
    assert stored == set(created)
