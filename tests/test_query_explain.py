"""Every filter form is served by an index that starts with `user_id`, at scale: the
PostgreSQL planner's own plan for each one, over 1,000,000 tasks of 100 users (generated
in SQL with `generate_series`, then analysed), reads no table in full and touches only
indexes whose first column is `user_id` (SPEC → Scale; Finding: filters, sort, search).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement
from sqlmodel import col, func, select

from tests.conftest import PostgresServer
from todo_cli import db
from todo_cli.models import Task
from todo_cli.service.query import NEXT_SORT, parse_filter, parse_sort
from todo_cli.service.references import owned_query

# Generating and analysing the million rows takes 20–30 s on a 2-core machine.
pytestmark = pytest.mark.slow
USERS = 100
TASKS_PER_USER = 10_000

GENERATE = f"""
INSERT INTO users (id, name, created_at, last_task_number, last_change_id)
SELECT gen_random_uuid(), 'user' || g, now(), {TASKS_PER_USER}, 0
FROM generate_series(1, {USERS}) AS g;

INSERT INTO tasks (user_id, id, number, title, description, is_completed, created_at,
                   updated_at, version, due, wait, priority, project, completed_at,
                   search_text)
SELECT u.id, gen_random_uuid(), n,
       'Task ' || n || CASE WHEN n % 7 = 0 THEN ' buy milk' ELSE '' END,
       NULL, n % 3 = 0,
       now() - n * interval '1 minute', now() - n * interval '1 minute', 1,
       CASE WHEN n % 4 = 0 THEN now() + ((n % 60) - 20) * interval '1 day' END,
       CASE WHEN n % 10 = 0 THEN now() + interval '3 days' END,
       (ARRAY[3, 2, 0, -1])[n % 4 + 1],
       (ARRAY['house', 'house.garden', 'housework', 'work', NULL])[n % 5 + 1],
       CASE WHEN n % 3 = 0 THEN now() - n * interval '1 minute' END,
       'task ' || n || CASE WHEN n % 7 = 0 THEN ' buy milk' ELSE '' END || chr(10)
FROM users AS u CROSS JOIN generate_series(1, {TASKS_PER_USER}) AS n;

INSERT INTO task_tags (user_id, task_id, tag)
SELECT user_id, id, 'errand' FROM tasks WHERE number % 5 = 0
UNION ALL
SELECT user_id, id, 'home' FROM tasks WHERE number % 11 = 0;

ANALYZE users;
ANALYZE tasks;
ANALYZE task_tags;
"""

FORMS = (
    "",
    "+errand",
    "-errand",
    "tag:home +errand",
    "project:house",
    "project.is:house",
    "-project:house",
    "buy milk",
    '"buy milk"',
    "pri:H,M",
    "pri.above:L",
    "due.by:fri",
    "due.before:2026-12-01",
    "due.after:eom",
    "due.on:tom",
    "due:none",
    "due:any",
    "wait.after:now",
    "created.before:2026-11-01",
    "done.after:2026-11-01 status:done",
    "status:done",
    "status:waiting",
    "status:all",
    "id:3,5-9",
    "is:overdue",
    "project:house or +errand",
    "not (pri:H or due:any)",
)


@pytest.fixture(scope="module")
def big(postgres_server: PostgresServer) -> Iterator[tuple[str, uuid.UUID, set[str]]]:
    """(conninfo, a user with 10,000 tasks, the indexes whose first column is user_id)."""
    url = postgres_server.create_database("explain")
    db.upgrade(url)
    conninfo = url.reveal().replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(GENERATE)
        user_id = connection.execute("SELECT id FROM users WHERE name = 'user50'").fetchone()
        indexes = connection.execute(
            """
            SELECT i.relname FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
            WHERE t.relname IN ('tasks', 'task_tags') AND a.attname = 'user_id'
            """
        ).fetchall()
    assert user_id is not None
    yield conninfo, user_id[0], {row[0] for row in indexes}
    postgres_server.drop_database(url)


def _plan(conninfo: str, statement: ClauseElement) -> dict[str, Any]:
    compiled = statement.compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"render_postcompile": True},
    )
    explain = sql.SQL("EXPLAIN (FORMAT JSON) ") + sql.SQL(compiled.string)
    with psycopg.connect(conninfo) as connection:
        row = connection.execute(explain, compiled.params).fetchone()
    assert row is not None
    value = row[0]
    plan: dict[str, Any] = (json.loads(value) if isinstance(value, str) else value)[0]["Plan"]
    return plan


def _scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "Scan" in node["Node Type"]:
        yield node
    for child in node.get("Plans", []):
        yield from _scans(child)


def _assert_indexed(plan: dict[str, Any], indexes: set[str], form: str) -> None:
    scans = list(_scans(plan))
    tables = {scan.get("Relation Name") for scan in scans} - {None}
    assert "tasks" in tables, (form, plan)
    for scan in scans:
        assert scan["Node Type"] != "Seq Scan", (form, json.dumps(plan, indent=1))
        if scan["Node Type"] == "Bitmap Heap Scan":
            continue  # its Bitmap Index Scan children name the index
        if "Index Name" in scan:
            assert scan["Index Name"] in indexes, (form, scan["Index Name"])


def test_the_check_fails_for_a_query_that_is_not_scoped_by_user(
    big: tuple[str, uuid.UUID, set[str]],
) -> None:
    conninfo, _, indexes = big
    unscoped = select(Task).where(col(Task.search_text).like("%milk%"))
    with pytest.raises(AssertionError):
        _assert_indexed(_plan(conninfo, unscoped), indexes, "unscoped")


@pytest.mark.parametrize("form", FORMS)
def test_each_filter_form_is_served_by_a_user_id_index(
    big: tuple[str, uuid.UUID, set[str]], form: str
) -> None:
    conninfo, user_id, indexes = big
    parsed = parse_filter(
        form, now=datetime(2026, 12, 1, 12, tzinfo=UTC), zone=ZoneInfo("Europe/Paris")
    )
    condition = parsed.condition(user_id)
    listing = owned_query(user_id).where(condition)
    statements: dict[str, ClauseElement] = {
        "list": listing.order_by(col(Task.created_at).desc(), col(Task.id).desc()).limit(25),
        "list piped": listing.order_by(col(Task.created_at).desc(), col(Task.id).desc()),
        "next": listing.order_by(*NEXT_SORT.order_by()).limit(25),
        "sorted": listing.order_by(*parse_sort("due,-priority").order_by()).limit(25),
        "count": select(func.count())
        .select_from(Task)
        .where(col(Task.user_id) == user_id, condition),
    }
    for name, statement in statements.items():
        _assert_indexed(_plan(conninfo, statement), indexes, f"{form!r} ({name})")


def _index_names(node: dict[str, Any]) -> set[str]:
    names = {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        names |= _index_names(child)
    return names


@pytest.mark.parametrize("form", ["status:waiting", "wait.after:now"])
def test_waiting_tasks_are_found_from_the_wait_index(
    big: tuple[str, uuid.UUID, set[str]], form: str
) -> None:
    """Waiting tasks are a small share of the pending ones: found by the wait index
    (migration 0006), not by reading every pending task."""
    conninfo, user_id, _ = big
    parsed = parse_filter(form, now=datetime(2026, 12, 1, 12, tzinfo=UTC), zone=ZoneInfo("UTC"))
    count = (
        select(func.count())
        .select_from(Task)
        .where(col(Task.user_id) == user_id, parsed.condition(user_id))
    )
    assert "ix_tasks_user_id_wait_pending" in _index_names(_plan(conninfo, count))
