"""On PostgreSQL a read filtered by tags is planned for its values each time it runs.

psycopg prepares a statement from its 6th use on a connection, and PostgreSQL then may
keep one generic plan for it whatever the values: for tags, a plan chosen without knowing
whether a tag is on ten tasks or on five thousand (measured on a 10,000-task user, the
page of `+home +errand` took 7.0 ms with the generic plan against 3.6 ms planned for its
values). Statements marked `models.PLAN_EACH_TIME` are therefore sent unprepared; the
others, a text filter or a task's GET, are still prepared, which this test also checks,
so that it can tell a prepared statement from one that is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select

from todo_cli import db, service
from todo_cli.config import DatabaseURL
from todo_cli.models import PLAN_EACH_TIME, Task, TaskCreate
from todo_cli.service.query import parse_filter

USES = 8  # past psycopg's prepare threshold (prepared from the 6th use), on one connection


def test_a_read_filtered_by_tags_is_never_prepared_and_the_others_are(
    postgres_url: DatabaseURL,
) -> None:
    engine = db.make_engine(postgres_url, pool_size=1, max_overflow=0)
    sessions = db.make_session_factory(engine)
    try:
        with sessions() as session:
            user = service.create_user(session, name=f"plans-{uuid.uuid4().hex[:8]}")
            service.create_tasks(
                session,
                user_id=user.id,
                tasks=[
                    TaskCreate(title=f"Task {n}", tags=["errand"] if n % 2 else [])
                    for n in range(6)
                ],
            )
        for _ in range(USES):
            with sessions() as session:
                assert len(service.list_tasks(session, user_id=user.id, filter="+errand")) == 3
                assert service.count_tasks(session, user_id=user.id, filter="+errand") == 3
                assert len(service.list_tasks(session, user_id=user.id, filter="task")) == 6
                assert service.get_task(session, user_id=user.id, ref="1").title == "Task 0"
        with engine.connect() as connection:
            prepared = [
                str(statement)
                for (statement,) in connection.exec_driver_sql(
                    "SELECT statement FROM pg_prepared_statements"
                )
            ]
    finally:
        engine.dispose()
    assert any("tasks.number =" in statement for statement in prepared), prepared
    assert any("search_text LIKE" in statement for statement in prepared), prepared
    assert not [statement for statement in prepared if "task_tags.tag =" in statement]


def test_a_streamed_read_may_ask_to_be_planned_each_time(postgres_url: DatabaseURL) -> None:
    """A server-side cursor (a streamed result) is never prepared and takes no such flag."""
    engine = db.make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            query = select(col(Task.id)).limit(3).execution_options(**{PLAN_EACH_TIME: True})
            streamed = connection.execution_options(stream_results=True).execute(query)
            assert streamed.all() is not None
    finally:
        engine.dispose()


def test_sqlite_finds_waiting_tasks_and_counts_the_default_from_the_wait_index(
    new_database: Callable[[str], DatabaseURL],
) -> None:
    """SQLite (no statistics, as a user's file has none) reads the wait index for a
    waiting filter and for the default's count (migration 0006) and still lists the
    default page in order from the pending-tasks index."""
    url = new_database("sqlite")
    db.upgrade(url)
    engine = db.make_engine(url)
    user_id = uuid.uuid4()
    zone = ZoneInfo("UTC")

    def plan(form: str, *, count: bool) -> str:
        condition = parse_filter(form, zone=zone).condition(user_id)
        statement = (
            select(func.count()).select_from(Task).where(col(Task.user_id) == user_id, condition)
            if count
            else select(col(Task.id))
            .where(col(Task.user_id) == user_id, condition)
            .order_by(col(Task.created_at).desc(), col(Task.id).desc())
            .limit(50)
        )
        compiled = statement.compile(engine)
        processors = cast(dict[str, Callable[[Any], Any]], compiled._bind_processors)
        values = compiled.construct_params(escape_names=False)
        parameters = [
            processors[name](values[name]) if name in processors else values[name]
            for name in compiled.positiontup or ()
        ]
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(parameters))
            return " / ".join(str(row[3]) for row in rows)

    try:
        for form in ("status:waiting", "wait.after:now"):
            assert "ix_tasks_user_id_wait_pending (user_id=? AND wait>?)" in plan(form, count=True)
        assert "ix_tasks_user_id_wait_pending" in plan("", count=True)
        assert "ix_tasks_user_id_created_at_id_pending" in plan("", count=False)
    finally:
        engine.dispose()
