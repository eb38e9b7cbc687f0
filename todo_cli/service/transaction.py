"""The transaction seam: where every write begins, is recorded in the change log, and commits.

`writing(session, …)` is the only way into a transaction that changes tasks. It opens a
write transaction (`BEGIN IMMEDIATE` on SQLite), hands the caller a `Recorder` that
`tasks.write_task` fills with each task's image before the change, and at the end
numbers the change (from a counter on the user's row, which it locks), stores
it and commits, or rolls everything back. Entered again on a
session that is already writing, it joins the outer transaction: an import, a bulk edit
or an undo composes many service cores and is still one transaction and one change.

`transaction(session)` is the same seam without a change log, for users (an admin's
`todo user add/rm` is not a task change, and deleting a user deletes their history).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, delete, func, insert, update
from sqlmodel import Session, col, select

from todo_cli.models import (
    ORIGIN_KEY,
    SUMMARY_MAX_LENGTH,
    WRITE_TRANSACTION,
    Change,
    ChangeItem,
    Task,
    User,
    utcnow,
)

# Kept per user: the last 500 changes or those of the last 30 days, whichever is more.
KEEP_CHANGES = 500
KEEP_DAYS = 30
# Pruning is one range delete every this many changes of a user, so it costs a write a
# statement only now and then, and the log never grows past KEEP_CHANGES + PRUNE_EVERY
# changes (older than KEEP_DAYS) for long.
PRUNE_EVERY = 50
# Where a change came from, when the session does not say (`models.ORIGIN_KEY`).
DEFAULT_ORIGIN = "cli"
_RECORDER_KEY = "todo.recorder"
_COMMITTED_KEY = "todo.committed"
# Marks a connection whose current transaction is inside `writing`; tests check that no
# statement changes a task row without it (tests/conftest.py).
RECORDING = "todo.recording"
_SUMMARY_NUMBERS = 12
# Ids per DELETE of queued rows: far under every backend's limit on bound parameters.
_ID_BATCH = 1000


@dataclass
class _Item:
    number: int
    before: dict[str, Any] | None
    after_version: int | None


@dataclass
class Recorder:
    """The change being written: each task's first image before it and its last version."""

    user_id: uuid.UUID
    change_id: int
    verb: str
    kind: str = "change"
    undoes: int | None = None
    last_task_number: int = 0
    items: dict[uuid.UUID, _Item] = field(default_factory=dict)
    # Said instead of the verb and the task numbers (an undo names what it reverted).
    description: str | None = None
    # Rows `tasks.write_task` leaves to be sent when the change is saved, as multi-row
    # statements: inserted rows by table (parents first), and the ids of deleted rows of
    # tables keyed (user_id, id).
    inserts: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    deletes: dict[Table, list[uuid.UUID]] = field(default_factory=dict)

    def record(self, task: Task, before: dict[str, Any] | None, *, deleted: bool = False) -> None:
        """Note that `task` changed from the JSON image `before` (None: it is new).

        Called after the change, with `task` as it is now; a task changed twice in one
        change keeps its first image and its last version.
        """
        assert task.user_id == self.user_id
        self.record_row(task.id, task.number, before, None if deleted else task.version)

    def record_row(
        self,
        task_id: uuid.UUID,
        number: int,
        before: dict[str, Any] | None,
        after_version: int | None,
    ) -> None:
        """`record` for a task written without an ORM object (after_version None: deleted)."""
        item = self.items.get(task_id)
        if item is None:
            item = self.items[task_id] = _Item(number, before, None)
        item.after_version = after_version

    def insert_later(self, table: Table, row: dict[str, Any]) -> None:
        self.inserts.setdefault(table, []).append(row)

    def delete_later(self, table: Table, row_id: uuid.UUID) -> None:
        self.deletes.setdefault(table, []).append(row_id)

    def summary(self) -> str:
        if self.description is not None:
            return self.description[:SUMMARY_MAX_LENGTH]
        numbers = sorted(item.number for item in self.items.values())
        shown = " ".join(map(str, numbers[:_SUMMARY_NUMBERS]))
        if len(numbers) > _SUMMARY_NUMBERS:
            shown += f" … ({len(numbers)} tasks)"
        return f"{self.verb} {shown}"[:SUMMARY_MAX_LENGTH]


@dataclass(frozen=True)
class Committed:
    """What the last `writing` on a session committed: its change id and tasks."""

    change_id: int
    task_ids: frozenset[uuid.UUID]


@contextmanager
def transaction(session: Session) -> Iterator[None]:
    """A write transaction that commits on success and rolls back on any error.

    Inside another one it joins it: the outer seam commits.
    """
    if _in_write_transaction(session):
        yield
        return
    _begin_write(session)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


@contextmanager
def writing(
    session: Session,
    *,
    user_id: uuid.UUID,
    verb: str,
    new_tasks: int = 0,
    lock_user: bool = False,
) -> Iterator[Recorder]:
    """One change of one user's tasks: recorded, then committed, or nothing at all.

    `new_tasks` task numbers are taken in the same statement as the change id (see
    `Recorder.last_task_number`). `lock_user` takes the change id (and so the user's row
    lock) first, for a change that must not race another of the same user. A change
    that touched no task is not recorded.
    """
    outer: Recorder | None = session.info.get(_RECORDER_KEY)
    if outer is not None:
        if outer.user_id != user_id:
            raise RuntimeError("one change belongs to one user")
        if new_tasks:
            change_id, outer.last_task_number = _take_ids(
                session, user_id, change=not outer.change_id, new_tasks=new_tasks
            )
            outer.change_id = outer.change_id or change_id
        yield outer
        return
    session.info.pop(_COMMITTED_KEY, None)
    with transaction(session):
        # The dict itself: a connection that died mid-write (killed, or Ctrl-C) cannot be
        # asked for it again, and the error would hide the real one.
        marks = session.connection().info
        marks[RECORDING] = True
        try:
            recorder = Recorder(user_id, 0, verb)
            if new_tasks or lock_user:
                # A create always changes something: its ids are taken up front, in one
                # statement with the numbers it needs.
                recorder.change_id, recorder.last_task_number = _take_ids(
                    session, user_id, change=True, new_tasks=new_tasks
                )
            session.info[_RECORDER_KEY] = recorder
            yield recorder
            _save(session, recorder)
        finally:
            session.info.pop(_RECORDER_KEY, None)
            marks.pop(RECORDING, None)
    if recorder.items:
        session.info[_COMMITTED_KEY] = Committed(recorder.change_id, frozenset(recorder.items))


def last_committed(session: Session) -> Committed | None:
    """The change the last write on this session committed (None: it changed nothing)."""
    return session.info.get(_COMMITTED_KEY)


def origin_of(session: Session) -> str:
    return str(session.info.get(ORIGIN_KEY, DEFAULT_ORIGIN))


def _take_ids(
    session: Session, user_id: uuid.UUID, *, change: bool, new_tasks: int = 0
) -> tuple[int, int]:
    """The user's next change id (if `change`) and, after `new_tasks` more, last task number.

    The UPDATE locks the user's row until commit: one user's changes (and the numbers
    they hand out) are numbered in one order, and no number is ever handed out twice.
    Only a change that changed something takes an id, so ids have no gaps.
    """
    from todo_cli.service.users import user_not_found

    values: dict[str, Any] = {}
    if change:
        values["last_change_id"] = col(User.last_change_id) + 1
    if new_tasks:
        values["last_task_number"] = col(User.last_task_number) + new_tasks
    row = session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(**values)
        .returning(col(User.last_change_id), col(User.last_task_number))
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        raise user_not_found(user_id)
    return row[0], row[1]


def _save(session: Session, recorder: Recorder) -> None:
    session.flush()
    _send_queued(session, recorder)
    if not recorder.items:
        return
    if session.connection().dialect.name == "postgresql":
        _log_in_one_statement(session, recorder)
    else:
        _log(session, recorder)
    if recorder.undoes is not None:
        session.execute(
            update(Change)
            .where(col(Change.user_id) == recorder.user_id, col(Change.id) == recorder.undoes)
            .values(undone_by=recorder.change_id)
            .execution_options(synchronize_session=False)
        )
    if recorder.change_id % PRUNE_EVERY == 0:
        _prune(session, recorder.user_id, recorder.change_id)


def _log(session: Session, recorder: Recorder) -> None:
    """Number the change (unless it was numbered up front) and store it with its items."""
    if not recorder.change_id:
        recorder.change_id = _take_ids(session, recorder.user_id, change=True)[0]
    session.execute(insert(Change), [_change_row(session, recorder)])
    session.execute(
        insert(ChangeItem),
        [
            {
                "user_id": recorder.user_id,
                "change_id": recorder.change_id,
                "task_id": task_id,
                "before": item.before,
                "after_version": item.after_version,
            }
            for task_id, item in recorder.items.items()
        ],
    )


def _change_row(session: Session, recorder: Recorder) -> dict[str, Any]:
    return {
        "user_id": recorder.user_id,
        "id": recorder.change_id,
        "at": utcnow(),
        "origin": origin_of(session),
        "kind": recorder.kind,
        "summary": recorder.summary(),
        "undoes": recorder.undoes,
        "undone_by": None,
    }


# `_log` as one statement, so a write costs the database one round trip for its log
# rather than three: the change id taken from the user's row (when not taken up front),
# the change, and its items, read from one JSON parameter. A JSON null `before` is kept
# as JSON null, as the JSON column stores None on both backends.
_LOG_SQL = """
WITH {numbered}change AS (
    INSERT INTO changes (user_id, id, at, origin, kind, summary, undoes, undone_by)
    SELECT :user_id, {change_id}, :at, CAST(:origin AS varchar), CAST(:kind AS varchar),
           CAST(:summary AS varchar), CAST(:undoes AS integer), NULL{from_numbered}
    RETURNING id
), items AS (
    INSERT INTO change_items (user_id, change_id, task_id, before, after_version)
    SELECT :user_id, change.id, item.task_id, COALESCE(item.before, 'null'::json),
           item.after_version
    FROM change,
         json_to_recordset(CAST(:items AS json))
             AS item(task_id uuid, before json, after_version integer)
)
SELECT id FROM change
"""
_NUMBERED = (
    "numbered AS (UPDATE users SET last_change_id = last_change_id + 1"
    " WHERE id = :user_id RETURNING last_change_id), "
)


def _log_in_one_statement(session: Session, recorder: Recorder) -> None:
    """`_log` on PostgreSQL, in one statement (its data-modifying CTEs all run, and the
    foreign keys are checked at its end, when the change row exists)."""
    import json

    from sqlalchemy import bindparam, text

    from todo_cli.models import UTCDateTime
    from todo_cli.service.users import user_not_found

    numbered = not recorder.change_id
    sql = _LOG_SQL.format(
        numbered=_NUMBERED if numbered else "",
        change_id="numbered.last_change_id" if numbered else "CAST(:change_id AS bigint)",
        from_numbered=" FROM numbered" if numbered else "",
    )
    row = _change_row(session, recorder)
    params: dict[str, Any] = {
        "user_id": recorder.user_id,
        "at": row["at"],
        "origin": row["origin"],
        "kind": row["kind"],
        "summary": row["summary"],
        "undoes": row["undoes"],
        "items": json.dumps(
            [
                {
                    "task_id": str(task_id),
                    "before": item.before,
                    "after_version": item.after_version,
                }
                for task_id, item in recorder.items.items()
            ]
        ),
    }
    if not numbered:
        params["change_id"] = recorder.change_id
    statement = text(sql).bindparams(bindparam("at", type_=UTCDateTime))
    change_id = session.execute(statement, params).scalar()
    if change_id is None:
        raise user_not_found(recorder.user_id)
    recorder.change_id = change_id


def _send_queued(session: Session, recorder: Recorder) -> None:
    """The rows left for the end of the change, a batch of ids per delete and one
    multi-row insert per table (SQLAlchemy pages it to the backend's limits)."""
    for table, ids in recorder.deletes.items():
        for start in range(0, len(ids), _ID_BATCH):
            session.execute(
                delete(table).where(
                    table.c.user_id == recorder.user_id,
                    table.c.id.in_(ids[start : start + _ID_BATCH]),
                )
            )
    for table, rows in recorder.inserts.items():
        session.execute(insert(table), rows)
    recorder.deletes.clear()
    recorder.inserts.clear()


def _prune(session: Session, user_id: uuid.UUID, newest: int) -> None:
    """Delete the changes that are neither among the last KEEP_CHANGES nor recent.

    Ids grow with time, so what goes is one range of the key: everything up to the newest
    change that is both beyond the last KEEP_CHANGES and older than KEEP_DAYS.
    """
    cut = newest - KEEP_CHANGES
    if cut < 1:
        return
    oldest_kept_time = utcnow() - timedelta(days=KEEP_DAYS)
    last = session.exec(
        select(func.max(Change.id)).where(
            col(Change.user_id) == user_id,
            col(Change.id) <= cut,
            col(Change.at) < oldest_kept_time,
        )
    ).one()
    if last is None:
        return
    for table, key in ((ChangeItem, ChangeItem.change_id), (Change, Change.id)):
        session.execute(
            delete(table)
            .where(col(table.user_id) == user_id, col(key) <= last)
            .execution_options(synchronize_session=False)
        )


def _begin_write(session: Session) -> None:
    """Start this operation's transaction as a write transaction from its first statement.

    On SQLite that means `BEGIN IMMEDIATE` (see db.make_engine): writers queue on the
    database lock with the busy timeout instead of failing when a read transaction tries
    to become a write, while reads stay plain WAL snapshots that never block a writer.
    A read transaction the entry point left open (looking up the acting user) cannot be
    turned into a write on SQLite, so it is ended first; it holds nothing to lose.
    """
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("unflushed changes outside a write transaction")
        session.commit()
    session.connection(execution_options={WRITE_TRANSACTION: True})


def _in_write_transaction(session: Session) -> bool:
    return session.in_transaction() and bool(
        session.connection().get_execution_options().get(WRITE_TRANSACTION)
    )
