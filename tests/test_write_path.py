"""One write path: every service function that changes a task records exactly one change.

A listener on the engine sees every statement. A statement that changes a task row (or
the change log) must run inside `transaction.writing`, which marks its connection; a
public service function is either a writer (one change recorded, however many tasks),
a reader (no write at all), or a user-admin function (users are not task changes). A
new public function that is none of these fails the classification test, so it cannot
slip past the checks below.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from todo_cli import service
from todo_cli.models import Change, Task, TaskCreate, TaskUpdate, User
from todo_cli.service.transaction import RECORDING

_WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)
_LOGGED_TABLES = {"tasks", "changes", "change_items"}

Call = Callable[[Session, User], object]

WRITERS: dict[str, Call] = {
    "create_task": lambda s, u: service.create_task(s, user_id=u.id, task=TaskCreate(title="n")),
    "create_tasks": lambda s, u: service.create_tasks(
        s, user_id=u.id, tasks=[TaskCreate(title="a"), TaskCreate(title="b")]
    ),
    "update_task": lambda s, u: service.update_task(
        s, user_id=u.id, ref="1", changes=TaskUpdate(title="renamed")
    ),
    "update_tasks": lambda s, u: service.update_tasks(
        s, user_id=u.id, refs=["1-2"], changes=TaskUpdate(add_tags=["home"])
    ),
    "complete_tasks": lambda s, u: service.complete_tasks(s, user_id=u.id, refs=["1", "2"]),
    "reopen_tasks": lambda s, u: service.reopen_tasks(s, user_id=u.id, refs=["3"]),
    "delete_tasks": lambda s, u: service.delete_tasks(s, user_id=u.id, refs=["2"]),
    "undo_change": lambda s, u: service.undo_change(s, user_id=u.id),
    "redo_change": lambda s, u: service.redo_change(s, user_id=u.id),
    "add_note": lambda s, u: service.add_note(s, user_id=u.id, ref="1", text="called"),
    # Task 2's due is a day: it moves to that day's end in the new zone.
    "set_time_zone": lambda s, u: service.set_time_zone(s, user_id=u.id, name="Asia/Tokyo"),
    # A new task and an update of task 1 (its todo.txt line, edited): one change.
    "import_tasks": lambda s, u: service.import_tasks(
        s,
        user_id=u.id,
        text="imported\n"
        + "".join(service.export_tasks(s, user_id=u.id, format="todotxt")).replace(" x", " x2"),
    ),
}
READERS: dict[str, Call] = {
    "get_task": lambda s, u: service.get_task(s, user_id=u.id, ref="1"),
    # The task GET's statements, as `todo serve` runs them (through a session here).
    "task_reading": lambda s, u: service.read(s, service.task_reading(u.id, "1")),
    "read": lambda s, u: service.read(s, service.task_reading(u.id, "2")),
    "list_tasks": lambda s, u: service.list_tasks(s, user_id=u.id, status="all"),
    "next_tasks": lambda s, u: service.next_tasks(s, user_id=u.id),
    "iter_tasks": lambda s, u: list(service.iter_tasks(s, user_id=u.id)),
    "count_tasks": lambda s, u: service.count_tasks(s, user_id=u.id),
    "list_changes": lambda s, u: service.list_changes(s, user_id=u.id),
    "task_log": lambda s, u: service.task_log(s, user_id=u.id, ref="1"),
    "get_user": lambda s, u: service.get_user(s, ref=u.name),
    "list_users": lambda s, u: service.list_users(s),
    "last_committed": lambda s, u: service.last_committed(s),
    "export_tasks": lambda s, u: list(service.export_tasks(s, user_id=u.id, format="json")),
    "user_zone": lambda s, u: service.user_zone(s, u.id),
}
# Users are not task changes: deleting one deletes their history with them.
USER_ADMIN = {"create_user", "delete_user", "ensure_user", "fill_time_zone"}
# Pure helpers and constants: no session.
NO_DATABASE = {
    "DESCRIPTION_MAX_LENGTH",
    "Reading",
    "MIN_PREFIX_LENGTH",
    "Committed",
    "Logged",
    "Status",
    "clean_description",
    "clean_title",
    "clean_user_name",
    "FORMATS",
    "ImportReport",
    "parse_format",
    "Filter",
    "Sort",
    "parse_filter",
    "parse_sort",
    "task_not_found",
    "user_not_found",
}


class Statements:
    """The writing statements an engine ran, and whether each was inside `writing`."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, bool]] = []

    def listen(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        match = _WRITE.match(statement)
        if match:
            self.writes.append((match.group(2).lower(), bool(conn.info.get(RECORDING))))

    def unrecorded(self) -> list[str]:
        return [
            table for table, recorded in self.writes if table in _LOGGED_TABLES and not recorded
        ]


@pytest.fixture
def statements(session: Session) -> Iterator[Statements]:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    seen = Statements()
    event.listen(engine, "before_cursor_execute", seen.listen)
    yield seen
    event.remove(engine, "before_cursor_execute", seen.listen)


def _prepare(session: Session, user: User) -> None:
    """Three tasks (one due on a day), one done and one undone change: every writer has
    something to do."""
    service.create_tasks(
        session,
        user_id=user.id,
        tasks=[
            TaskCreate(title="x"),
            TaskCreate(title="y", due="2026-12-04"),
            TaskCreate(title="z"),
        ],
    )
    service.complete_tasks(session, user_id=user.id, refs=["3"])
    service.update_task(session, user_id=user.id, ref="1", changes=TaskUpdate(title="x2"))
    service.undo_change(session, user_id=user.id)


def _changes(session: Session, user: User) -> int:
    return session.exec(
        select(func.count()).select_from(Change).where(col(Change.user_id) == user.id)
    ).one()


def test_every_public_service_function_is_classified() -> None:
    classified = set(WRITERS) | set(READERS) | USER_ADMIN | NO_DATABASE
    assert set(service.__all__) == classified


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_writer_records_exactly_one_change(
    name: str, session: Session, alice: User, statements: Statements
) -> None:
    _prepare(session, alice)
    before = _changes(session, alice)
    statements.writes.clear()
    WRITERS[name](session, alice)
    session.expire_all()
    assert _changes(session, alice) == before + 1
    committed = service.last_committed(session)
    assert committed is not None and committed.change_id == before + 1
    assert any(table == "tasks" for table, _ in statements.writes)
    assert statements.unrecorded() == []


@pytest.mark.parametrize("name", sorted(READERS))
def test_readers_write_nothing(
    name: str, session: Session, alice: User, statements: Statements
) -> None:
    _prepare(session, alice)
    statements.writes.clear()
    READERS[name](session, alice)
    assert statements.writes == []


def test_a_write_that_changes_nothing_records_nothing(session: Session, alice: User) -> None:
    _prepare(session, alice)
    before = _changes(session, alice)
    service.complete_tasks(session, user_id=alice.id, refs=["3"])  # already done
    assert _changes(session, alice) == before
    assert service.last_committed(session) is None


def test_the_check_notices_a_write_outside_the_seam(
    session: Session, alice: User, statements: Statements
) -> None:
    """Not vacuous: a task changed behind the seam's back is caught."""
    _prepare(session, alice)
    session.exec(update(Task).where(col(Task.user_id) == alice.id).values(title="sneaky"))
    session.commit()
    assert statements.unrecorded() == ["tasks"]


def test_writes_begin_and_commit_in_one_file() -> None:
    """`grep commit()` over the product answers "where does a write commit" with one file."""
    from pathlib import Path

    package = Path(service.__file__).resolve().parents[1]
    committing = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if re.search(r"\.(commit|rollback)\(\)", path.read_text())
    }
    assert committing == {"service/transaction.py"}


def test_the_log_is_pruned_to_its_retention(session: Session, alice: User) -> None:
    """Older than KEEP_DAYS and beyond the last KEEP_CHANGES: deleted as writes go."""
    from todo_cli.service import transaction

    service.create_task(session, user_id=alice.id, task=TaskCreate(title="t"))
    for i in range(transaction.KEEP_CHANGES + transaction.PRUNE_EVERY):
        service.update_task(session, user_id=alice.id, ref="1", changes=TaskUpdate(title=f"{i}"))
        if i == transaction.PRUNE_EVERY:
            # Everything so far is old: only the retention count keeps it.
            session.exec(
                text("UPDATE changes SET at = :old"),  # type: ignore[call-overload]
                params={"old": "2000-01-01 00:00:00"},
            )
            session.commit()
    kept = session.exec(
        select(func.min(Change.id), func.count()).where(col(Change.user_id) == alice.id)
    ).one()
    # Changes 1…PRUNE_EVERY + 2 were made old. Old ones beyond the last KEEP_CHANGES went
    # (at the last multiple of PRUNE_EVERY); every recent one stayed.
    first_recent = transaction.PRUNE_EVERY + 3
    assert 1 < kept[0] <= first_recent
    assert kept[1] >= transaction.KEEP_CHANGES


def test_a_task_an_undo_deletes_is_gone_from_the_session(session: Session, alice: User) -> None:
    """The undo deletes without the ORM: the session must not keep the task as if alive."""
    task = service.create_task(session, user_id=alice.id, task=TaskCreate(title="x", tags=["a"]))
    service.undo_change(session, user_id=alice.id)
    assert session.get(Task, (alice.id, task.id)) is None
    service.redo_change(session, user_id=alice.id)
    again = session.get(Task, (alice.id, task.id))
    assert again is not None and again.tags == ["a"] and again.version == task.version + 1


LISTED = 33_000


@pytest.mark.slow
def test_a_listing_without_a_limit_holds_more_tasks_than_one_statement_binds(
    session: Session, alice: User
) -> None:
    """Tags and notes are read a batch of ids at a time (PostgreSQL binds at most 65,535
    parameters, and each id of a batch is bound twice)."""
    for start in range(0, LISTED, 8_250):
        text = "".join(f"Task {n} @t{n % 3}\n" for n in range(start, start + 8_250))
        report = service.import_tasks(session, user_id=alice.id, text=text, format="todotxt")
        assert report.added == 8_250
    tasks = service.next_tasks(session, user_id=alice.id, limit=None)
    assert len(tasks) == LISTED
    assert {task.tags[0] for task in tasks} == {"t0", "t1", "t2"}
    assert len(service.list_tasks(session, user_id=alice.id, sort="id")) == LISTED
