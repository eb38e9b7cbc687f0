"""Completion's SQL stays in step with the models.

`cli/_complete.py` cannot use the models (they import SQLAlchemy), so it spells its few
queries as text. These tests name every table and column that text uses and find each
in `SQLModel.metadata`, then run every query on a freshly migrated database of each
backend — the completion reads through the standard library's `sqlite3` in read-only
mode as completion does, the cache refresh through the session as the hook does — and
check that they return exactly the acting user's rows.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel

from todo_cli import service
from todo_cli.cli import _complete
from todo_cli.config import DatabaseURL
from todo_cli.models import TaskCreate, User

QUERIES = {
    "tasks": _complete.TASKS_SQL,
    "task numbers": _complete.TASK_NUMBERS_SQL,
    "tags": _complete.TAGS_SQL,
    "projects": _complete.PROJECTS_SQL,
    "users": _complete.USERS_SQL,
    "refresh all": _complete.REFRESH_ALL_SQL,
    "changed tasks": _complete.CHANGED_SQL,
}
KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "is",
    "not",
    "null",
    "group",
    "by",
    "union",
    "all",
    "as",
    "cast",
    "varchar",
    "in",
}
ALIASES = {"kind", "text", "id"}  # `AS kind`, `AS text`, `AS id` name result columns


def names_in(select: str) -> tuple[set[str], set[str]]:
    """The tables (after FROM) and the other identifiers of one SELECT."""
    without_strings = re.sub(r"'[^']*'", "", select)
    without_binds = re.sub(r":\w+", "", without_strings)
    tables = set(re.findall(r"\bFROM\s+(\w+)", without_binds, flags=re.IGNORECASE))
    words = {w for w in re.findall(r"[A-Za-z_]\w*", without_binds) if w.lower() not in KEYWORDS}
    return tables, words - tables


@pytest.mark.parametrize("name", QUERIES)
def test_every_table_and_column_the_sql_names_is_in_the_models(name: str) -> None:
    for select in re.split(r"\bUNION ALL\b", QUERIES[name]):
        tables, words = names_in(select)
        assert tables, select
        known = SQLModel.metadata.tables
        assert tables <= set(known), f"{name}: no table {tables - set(known)}"
        columns = {column.name for table in tables for column in known[table].columns}
        unknown = words - columns - (ALIASES if "AS" in select else set())
        assert unknown == set(), f"{name}: {sorted(unknown)} are no columns of {tables}"


def test_the_checker_notices_a_column_that_does_not_exist() -> None:
    tables, words = names_in("SELECT number, titel FROM tasks WHERE user_id = :user_id")
    columns = {column.name for column in SQLModel.metadata.tables["tasks"].columns}
    assert tables == {"tasks"} and words - columns == {"titel"}


@pytest.fixture
def people(session: Session, alice: User, bob: User) -> dict[str, Any]:
    """Alice: 1 pending (+home, house.rent), 2 done (+errand), 3 pending (+home, house);
    Bob: one task of his own, with a tag and project Alice never sees."""
    made = service.create_tasks(
        session,
        user_id=alice.id,
        tasks=[
            TaskCreate(title="Pay rent", tags=["home"], project="house.rent"),
            TaskCreate(title="Buy milk", tags=["errand"]),
            TaskCreate(title="Call mom", tags=["home"], project="house"),
        ],
    )
    service.complete_tasks(session, user_id=alice.id, refs=["2"])
    secret = service.create_task(
        session, user_id=bob.id, task=TaskCreate(title="Secret", tags=["x"], project="hidden")
    )
    return {"alice": alice, "ids": [task.id for task in made], "bob's": secret.id}


def _bound(backend: str, user_id: uuid.UUID) -> object:
    return user_id.hex if backend == "sqlite" else user_id


def test_completion_queries_read_only_the_acting_users_rows(
    database_url: DatabaseURL, session: Session, people: dict[str, Any]
) -> None:
    alice: User = people["alice"]
    expected = {
        "tasks": [(1, "Pay rent", False), (2, "Buy milk", True), (3, "Call mom", False)],
        "tags": [("errand",), ("home",)],
        "projects": [("house",), ("house.rent",)],
    }
    if database_url.backend == "sqlite":
        path = database_url.sqlite_path
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for name, rows in expected.items():
                found = connection.execute(QUERIES[name], {"user_id": alice.id.hex}).fetchall()
                assert (
                    sorted((*row[:2], bool(row[2])) if name == "tasks" else row for row in found)
                    == rows
                )
            names = connection.execute(_complete.USERS_SQL).fetchall()
        finally:
            connection.close()
    else:
        for name, rows in expected.items():
            result = session.execute(text(QUERIES[name]), {"user_id": alice.id}).all()
            assert sorted(tuple(row) for row in result) == rows
        names = [tuple(row) for row in session.execute(text(_complete.USERS_SQL)).all()]
    resolved = {
        _complete._resolve(ref, {str(i): n for i, n in names}) for ref in ("ALICE", str(alice.id))
    }
    assert resolved == {alice.id.hex}


def test_the_cache_filling_reads_every_task_tag_project_and_user(
    database_url: DatabaseURL, session: Session, people: dict[str, Any]
) -> None:
    alice: User = people["alice"]
    user_id = _bound(database_url.backend, alice.id)
    everything = session.execute(text(_complete.REFRESH_ALL_SQL), {"user_id": user_id}).all()
    by_kind: dict[str, list[Any]] = {}
    for kind, row_id, number, shown, done in everything:
        by_kind.setdefault(kind, []).append((row_id, number, shown, done))
    assert sorted((n, t, bool(d)) for _, n, t, d in by_kind["task"]) == [
        (1, "Pay rent", False),
        (2, "Buy milk", True),
        (3, "Call mom", False),
    ]
    assert sorted(t for _, _, t, _ in by_kind["tag"]) == ["errand", "home"]
    assert sorted(t for _, _, t, _ in by_kind["project"]) == ["house", "house.rent"]
    assert sorted(t for _, _, t, _ in by_kind["user"]) == ["alice", "bob"]
    task_ids = {str(row_id).replace("-", "") for row_id, *_ in by_kind["task"]}
    assert task_ids == {task_id.hex for task_id in people["ids"]}
