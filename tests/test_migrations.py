"""The Alembic migrations on both backends: empty → head, agreement with the models,
downgrade and upgrade again, and concurrent upgrades."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import inspect, text

from todo_cli import db
from todo_cli.config import DatabaseURL
from todo_cli.models import TaskCreate

TABLES = {"users", "tasks", "task_tags", "task_notes", "changes", "change_items", "alembic_version"}


def _tables(url: DatabaseURL) -> set[str]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_empty_to_head_and_again_is_harmless(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    url = new_database(backend)
    assert _tables(url) == set()
    db.upgrade(url)
    db.upgrade(url)
    assert _tables(url) == TABLES
    engine = db.make_engine(url)
    assert db.current_revision(engine) == db.HEAD_REVISION
    engine.dispose()


def test_models_and_migrations_agree(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    url = new_database(backend)
    db.upgrade(url)
    with warnings.catch_warnings():
        # SQLite cannot reflect the expression index on lower(name), so Alembic skips
        # comparing it there; the next test checks that index directly.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        db.check_models_match(url)


# Every partial index, its columns and the rows it covers, spelled per backend as the
# service's queries spell them (SQLite uses a partial index only for a query that repeats
# its condition term for term).
PARTIAL_INDEXES = {
    "ix_tasks_user_id_created_at_id_pending": ("(user_id, created_at, id)", "pending"),
    "ix_tasks_user_id_due_pending": ("(user_id, due)", "pending"),
    "ix_tasks_user_id_wait_pending": ("(user_id, wait)", "pending"),
    "ix_tasks_user_id_completed_at_done": ("(user_id, completed_at)", "done"),
}
CONDITIONS = {
    ("sqlite", "pending"): "WHERE is_completed = 0",
    ("postgresql", "pending"): "WHERE (NOT is_completed)",
    ("sqlite", "done"): "WHERE is_completed = 1",
    ("postgresql", "done"): "WHERE (is_completed = true)",
}


def test_each_partial_index_covers_the_rows_its_queries_ask_for(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    """Alembic compares index columns, not conditions: the conditions are checked here."""
    url = new_database(backend)
    db.upgrade(url)
    engine = db.make_engine(url)
    query = (
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '%WHERE%'"
        if backend == "sqlite"
        else "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef LIKE '%WHERE%'"
    )
    with engine.connect() as connection:
        definitions = {str(row[0]): str(row[1]) for row in connection.execute(text(query))}
    engine.dispose()
    assert set(definitions) == set(PARTIAL_INDEXES)
    for name, (columns, rows) in PARTIAL_INDEXES.items():
        assert columns in definitions[name], definitions[name]
        assert definitions[name].endswith(CONDITIONS[backend, rows]), definitions[name]


def test_user_names_are_unique_case_insensitively_in_the_schema_itself(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    url = new_database(backend)
    # Down and up again: batch mode on SQLite rebuilds tables, which must not lose the
    # expression index (SQLite cannot reflect it).
    db.upgrade(url)
    db.downgrade(url, db.SCHEMA_REVISIONS[0])
    db.upgrade(url)
    engine = db.make_engine(url)
    insert = text(
        "INSERT INTO users (id, name, created_at, last_task_number) "
        "VALUES (:id, :name, '2026-01-01 00:00:00+00', 0)"
    )

    def uid() -> str:
        value = uuid.uuid4()
        return value.hex if backend == "sqlite" else str(value)

    with engine.begin() as connection:
        connection.execute(insert, {"id": uid(), "name": "Alice"})
    with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"id": uid(), "name": "aLICE"})
    engine.dispose()


def test_downgrade_to_base_and_up_again(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    url = new_database(backend)
    db.upgrade(url)
    db.downgrade(url, "base")
    assert _tables(url) == {"alembic_version"}
    db.upgrade(url)
    assert _tables(url) == TABLES


def test_simultaneous_upgrades_both_succeed(new_database: Callable[[str], DatabaseURL]) -> None:
    """Two `todo db upgrade` processes at the same moment on PostgreSQL both succeed."""
    url = new_database("postgresql")
    env = {**os.environ, "TODO_DATABASE_URL": url.reveal()}
    command = [sys.executable, "-m", "todo_cli", "db", "upgrade"]
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(5)
    ]
    outcomes = [(run.wait(timeout=60), run.stderr.read()) for run in runs if run.stderr]
    assert outcomes == [(0, b"")] * 5
    assert _tables(url) == TABLES


def test_bad_revision_is_a_validation_error(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    from todo_cli.errors import ValidationError

    url = new_database(backend)
    with pytest.raises(ValidationError, match="nosuchrev"):
        db.upgrade(url, "nosuchrev")


# The tables as revision 0001 made them: what an installation of that day holds.
_V1 = sqlalchemy.MetaData()
_V1_USERS = sqlalchemy.Table(
    "users",
    _V1,
    sqlalchemy.Column("id", sqlalchemy.Uuid()),
    sqlalchemy.Column("name", sqlalchemy.String(64)),
    sqlalchemy.Column("created_at", sqlalchemy.DateTime(timezone=True)),
    sqlalchemy.Column("last_task_number", sqlalchemy.Integer()),
)
_V1_TASKS = sqlalchemy.Table(
    "tasks",
    _V1,
    sqlalchemy.Column("user_id", sqlalchemy.Uuid()),
    sqlalchemy.Column("id", sqlalchemy.Uuid()),
    sqlalchemy.Column("number", sqlalchemy.Integer()),
    sqlalchemy.Column("title", sqlalchemy.String(255)),
    sqlalchemy.Column("description", sqlalchemy.Text()),
    sqlalchemy.Column("is_completed", sqlalchemy.Boolean()),
    sqlalchemy.Column("created_at", sqlalchemy.DateTime(timezone=True)),
    sqlalchemy.Column("updated_at", sqlalchemy.DateTime(timezone=True)),
    sqlalchemy.Column("version", sqlalchemy.Integer()),
)


def _snapshot(url: DatabaseURL) -> dict[str, list[tuple[object, ...]]]:
    """Every row of revision 0001's columns, which every later revision keeps."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in connection.execute(sqlalchemy.select(table).order_by(table.c.id))
                ]
                for table in (_V1_USERS, _V1_TASKS)
            }
    finally:
        engine.dispose()


def test_every_row_survives_upgrade_downgrade_and_upgrade(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from todo_cli import service

    url = new_database(backend)
    db.upgrade(url, db.SCHEMA_REVISIONS[0])
    start = datetime(2026, 11, 27, 5, tzinfo=UTC)
    users: list[dict[str, Any]] = [
        {"id": uuid.uuid4(), "name": name, "created_at": start, "last_task_number": 5}
        for name in ("ann", "Ben", "cy")
    ]
    tasks = [
        {
            "user_id": user["id"],
            "id": uuid.uuid4(),
            "number": number,
            "title": "x" if number == 3 else f"{user['name']} task {number} ✓ עברית",
            "description": None if number % 2 else f"line 1\nline 2 {number} 🎉",
            "is_completed": number in (2, 4),
            "created_at": start + timedelta(minutes=number),
            "updated_at": start + timedelta(minutes=number, seconds=30),
            "version": 2 if number in (2, 3, 4) else 1,
        }
        for user in users
        for number in (1, 2, 3, 4)  # 5 was deleted: numbers keep a gap
    ]
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.execute(_V1_USERS.insert(), users)
        connection.execute(_V1_TASKS.insert(), tasks)
    engine.dispose()
    before = _snapshot(url)
    assert len(before["tasks"]) == 12

    steps: list[Callable[[], None]] = [
        lambda: db.upgrade(url),
        lambda: db.downgrade(url, "0001"),
        lambda: db.upgrade(url),
    ]
    for step in steps:
        step()
        assert _snapshot(url) == before

    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session:
        assert (
            service.create_task(
                session, user_id=users[1]["id"], task=TaskCreate(title="next")
            ).number
            == 6
        )
    engine.dispose()


def test_head_schema_refuses_rows_the_service_would_never_write(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    from todo_cli import service

    url = new_database(backend)
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session:
        user = service.create_user(session, name="ann")
        service.create_task(session, user_id=user.id, task=TaskCreate(title="ok"))
    for assignment in ("number = 0", "version = 0", "title = ''", f"title = '{'x' * 256}'"):
        # IntegrityError from a CHECK; PostgreSQL's VARCHAR(255) already says DataError.
        refused = (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.DataError)
        with pytest.raises(refused), engine.begin() as connection:
            connection.execute(text(f"UPDATE tasks SET {assignment}"))
    engine.dispose()
