"""Task references: how `7`, a full UUID or `3fa8` become one of the acting user's tasks.

Every task query starts from `owned_query`, which filters on the user's id: another
user's task is indistinguishable from a missing one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    bindparam,
    false,
    null,
    type_coerce,
    union_all,
)
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from todo_cli.errors import AmbiguousReference, TaskNotFound, ValidationError
from todo_cli.models import Task, TaskNote, TaskTag
from todo_cli.service.validation import MAX_NUMBER, MIN_PREFIX_LENGTH, as_uuid, shortened

_TAGS = TaskTag.__table__  # type: ignore[attr-defined]
_NOTES = TaskNote.__table__  # type: ignore[attr-defined]

_AMBIGUOUS_SHOWN = 10
# At most this many tasks in one range (`1-10000`): far more than anyone means to name.
MAX_RANGE = 10_000
_BATCH = 1_000
_RANGE = re.compile(r"([0-9]{1,10})-([0-9]{1,10})")
_NUMBER = re.compile(r"[0-9]+")
_HEX_PREFIX = re.compile(r"[0-9a-f]+")
_UUID_HEX_DIGITS = 32


def owned_query(user_id: uuid.UUID) -> SelectOfScalar[Task]:
    """The one starting point of every task query: the acting user's tasks only."""
    return select(Task).where(col(Task.user_id) == user_id)


def exactly(text: str) -> ColumnElement[bool] | None:
    """The condition for a reference that names one task exactly: a number or a full
    UUID. None for anything else (a UUID prefix, or something malformed)."""
    exact = exact_reference(text)
    if exact is None:
        return None
    column, value = exact
    if value is None:
        return false()
    return cast(ColumnElement[bool], getattr(Task, column) == value)


def exact_reference(text: str) -> tuple[str, int | uuid.UUID | None] | None:
    """The column and value a number or a full UUID names (`("number", 7)`); the value
    None for a number no task can have. None for anything else."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        # Beyond the column's range no task can have the number. The length is checked
        # first: int() refuses strings of more than 4,300 digits.
        digits = text.lstrip("0") or "0"
        if len(digits) > len(str(MAX_NUMBER)) or int(digits) > MAX_NUMBER:
            return "number", None
        return "number", int(digits)
    task_id = as_uuid(text)
    return ("id", task_id) if task_id is not None else None


def referenced(user_id: uuid.UUID, ref: str) -> tuple[SelectOfScalar[Task], str, bool]:
    """The owned query narrowed to the tasks a reference may name, the reference as
    read, and whether it is a prefix (which may match several: see `only_match`).

    A reference is a per-user number (`7`), a full UUID, or a unique prefix of at least
    four hex digits of the UUID (hyphens optional). All-digit references are numbers.
    """
    text = ref.strip()
    query = owned_query(user_id)
    if (exact := exactly(text)) is not None:
        return query.where(exact), text, False
    prefix = text.lower().replace("-", "")
    if len(prefix) < MIN_PREFIX_LENGTH or not _HEX_PREFIX.fullmatch(prefix):
        raise ValidationError(
            f"{shortened(text)!r} is not a task number, a UUID or a UUID prefix of at least "
            f"{MIN_PREFIX_LENGTH} hex digits",
            details={"ref": text},
        )
    if len(prefix) > _UUID_HEX_DIGITS:
        raise task_not_found(text)
    # The UUIDs that start with a prefix form one range, lowest to highest, so the
    # primary key (user_id, id) finds them directly instead of reading every task of
    # the user. Both backends order UUIDs as their hex digits (SQLite stores them
    # as 32 lower-case hex digits, PostgreSQL compares the bytes).
    lowest = uuid.UUID(prefix.ljust(_UUID_HEX_DIGITS, "0"))
    highest = uuid.UUID(prefix.ljust(_UUID_HEX_DIGITS, "f"))
    narrowed = (
        query.where(col(Task.id).between(lowest, highest))
        .order_by(col(Task.number))
        .limit(_AMBIGUOUS_SHOWN + 1)
    )
    return narrowed, text, True


class _Numbered(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def number(self) -> int: ...


_Match = TypeVar("_Match", bound=_Numbered)


def only_match(text: str, matches: Sequence[_Match]) -> _Match:
    """The one task a reference's query found; none or several are the user's error."""
    if len(matches) > 1:
        shown = matches[:_AMBIGUOUS_SHOWN]
        listing = ", ".join(f"{t.number} ({str(t.id)[:8]})" for t in shown)
        more = " and more" if len(matches) > _AMBIGUOUS_SHOWN else ""
        raise AmbiguousReference(
            f"{shortened(text)!r} matches several tasks: {listing}{more}; use a longer prefix.",
            details={
                "ref": text,
                "matches": [{"number": t.number, "id": str(t.id)} for t in shown],
            },
        )
    if not matches:
        raise task_not_found(text)
    return matches[0]


def owned_task(session: Session, user_id: uuid.UUID, ref: str, *, lock: bool = False) -> Task:
    """Resolve a reference (see `referenced`) among the user's own tasks, as the ORM
    object a write changes; `lock` locks its row. Unknown and another user's task raise
    the same `TaskNotFound`."""
    query, text, prefix = referenced(user_id, ref)
    if prefix:
        match = only_match(text, list(session.exec(query)))
        if not lock:
            return match
        query = owned_query(user_id).where(col(Task.id) == match.id)
    if lock:
        found = locked(session, user_id, query)
        if not found:
            raise task_not_found(text)
        return found[0]
    task = session.exec(query).first()
    if task is None:
        raise task_not_found(text)
    return task


def locked(session: Session, user_id: uuid.UUID, query: SelectOfScalar[Task]) -> list[Task]:
    """The tasks of `query` locked for writing, with their tags and notes.

    Two statements: the tasks, locked (`FOR UPDATE`; PostgreSQL reads a row again once
    its lock is granted), then their tags and notes together (`related`). The second is
    read after the lock, so it sees the rows the lock protects (a join in the locking
    statement could return another writer's tag rows from before its commit); its rows
    become the tasks' collections as the ORM would have loaded them. Every read is fresh
    (populate_existing), whatever this session loaded before.
    """
    from sqlalchemy.orm import lazyload
    from sqlalchemy.orm.attributes import set_committed_value

    tasks = list(
        session.exec(
            query.with_for_update()
            .options(lazyload(Task.tag_rows), lazyload(Task.note_rows))
            .execution_options(populate_existing=True)
        )
    )
    tags: dict[uuid.UUID, list[TaskTag]] = {task.id: [] for task in tasks}
    notes: dict[uuid.UUID, list[TaskNote]] = {task.id: [] for task in tasks}
    ids = list(tags)
    connection = session.connection()
    for start in range(0, len(ids), RELATED_BATCH):
        statement, values = related(user_id, ids[start : start + RELATED_BATCH])
        rows = connection.execute(statement, values)
        for task_id, text, note_id, created_at in rows:
            if note_id is None:
                tag = TaskTag(user_id=user_id, task_id=task_id, tag=text)
                tags[task_id].append(_persistent(session, tag))
            else:
                note = TaskNote(
                    user_id=user_id, task_id=task_id, id=note_id, created_at=created_at, text=text
                )
                notes[task_id].append(_persistent(session, note))
    for task in tasks:
        set_committed_value(task, "tag_rows", sorted(tags[task.id], key=_tag_order))
        set_committed_value(task, "note_rows", sorted(notes[task.id], key=_note_order))
    return tasks


_Row = TypeVar("_Row", TaskTag, TaskNote)


def _persistent(session: Session, row: _Row) -> _Row:
    """`row` as a row of the database the session knows (as a query would have given
    it): the session's own object for that key if it has one, else this one, attached
    without any statement. Tags and notes never change in place, only come and go."""
    from sqlalchemy.orm import make_transient_to_detached

    known = session.identity_map.get(session.identity_key(instance=row))
    if isinstance(known, type(row)):
        return known
    make_transient_to_detached(row)
    session.add(row)
    return row


def _tag_order(row: TaskTag) -> str:
    return row.tag


def _note_order(row: TaskNote) -> tuple[datetime, uuid.UUID]:
    return row.created_at, row.id


# Tasks per statement of `related`: any number may be locked or listed at once.
RELATED_BATCH = 1000


def related(user_id: uuid.UUID, ids: list[uuid.UUID]) -> tuple[CompoundSelect[Any], dict[str, Any]]:
    """The tags and notes of these tasks as one statement and its values: rows of
    `(task_id, text, note_id, created_at)`, a tag's note columns null. Each side starts
    from its table's key (user_id, task_id, …), as the relationships' own queries do."""
    if len(ids) == 1:
        return _related_statement(one=True), {_RELATED_USER: user_id, _RELATED_ONE: ids[0]}
    return _related_statement(one=False), {_RELATED_USER: user_id, _RELATED_MANY: list(ids)}


_RELATED_USER = "related_user"
_RELATED_ONE = "related_task"
_RELATED_MANY = "related_tasks"


@cache
def _related_statement(*, one: bool) -> CompoundSelect[Any]:
    """Built once, its values bound at each execution: reading a task's tags and notes
    is on the path of every GET, where building the statement anew (and its cache key)
    cost about as much as sending it. One task is an equality, several an IN."""
    notes, tags = _NOTES, _TAGS
    user = bindparam(_RELATED_USER, type_=notes.c.user_id.type)

    def among(column: Any) -> ColumnElement[bool]:
        if one:
            return cast(ColumnElement[bool], column == bindparam(_RELATED_ONE, type_=column.type))
        return cast(ColumnElement[bool], column.in_(bindparam(_RELATED_MANY, expanding=True)))

    return union_all(
        select(notes.c.task_id, notes.c.text, notes.c.id, notes.c.created_at).where(
            notes.c.user_id == user, among(notes.c.task_id)
        ),
        # The first side types the columns; these nulls only fill the shape.
        select(
            tags.c.task_id,
            tags.c.tag,
            type_coerce(null(), notes.c.id.type),
            type_coerce(null(), notes.c.created_at.type),
        ).where(tags.c.user_id == user, among(tags.c.task_id)),
    )


def expand(refs: Sequence[str]) -> list[str]:
    """References with lists (`3,5,9`) and ranges of numbers (`3-7`) spelled out.

    Only digits on both sides make a range: `1f3e-77` stays a UUID prefix.
    """
    expanded: list[str] = []
    for ref in refs:
        for part in ref.split(",") if "," in ref else [ref]:
            text = part.strip()
            if not text:
                raise ValidationError(
                    f"{shortened(ref)!r} has an empty item; write lists as 3,5,9",
                    details={"ref": ref},
                )
            match = _RANGE.fullmatch(text)
            if match is None:
                expanded.append(text)
                continue
            low, high = (int(bound) for bound in match.groups())
            if low > high or high - low >= MAX_RANGE:
                raise ValidationError(
                    f"{shortened(text)!r} is not a range of task numbers: write the lower "
                    f"number first, at most {MAX_RANGE} tasks (as in 3-7)",
                    details={"ref": text},
                )
            expanded.extend(str(number) for number in range(low, high + 1))
    return expanded


def owned_tasks(session: Session, user_id: uuid.UUID, refs: Sequence[str]) -> list[Task]:
    """Resolve several references (lists and ranges too), all or nothing, and lock the
    rows for writing.

    Every unknown reference is reported at once. Rows are locked in id order so that two
    multi-task operations on overlapping tasks cannot deadlock.
    """
    refs = expand(refs)
    if not refs:
        raise ValidationError("give at least one task")
    if len(refs) == 1:  # the common case: resolve, lock and read in two statements
        return [owned_task(session, user_id, refs[0], lock=True)]
    found: dict[uuid.UUID, Task] = {}
    missing: list[str] = []
    by_number = _by_number(session, user_id, [ref for ref in refs if _NUMBER.fullmatch(ref)])
    for ref in refs:
        if _NUMBER.fullmatch(ref):
            numbered = by_number.get(_as_number(ref))
            if numbered is None:
                missing.append(ref)
            else:
                found.setdefault(numbered.id, numbered)
            continue
        try:
            task = owned_task(session, user_id, ref)
        except TaskNotFound:
            missing.append(ref.strip())
            continue
        found.setdefault(task.id, task)
    if missing:
        raise task_not_found(*missing)
    rows = locked(
        session, user_id, owned_query(user_id).where(col(Task.id).in_(found)).order_by(col(Task.id))
    )
    by_id = {task.id: task for task in rows}
    if len(by_id) != len(found):  # deleted by someone else meanwhile
        raise task_not_found(*(str(found[i].number) for i in found if i not in by_id))
    return [by_id[task_id] for task_id in found]


def _as_number(text: str) -> int:
    """A number reference's value; beyond the column's range, -1 (no task has it)."""
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MAX_NUMBER)) or int(digits) > MAX_NUMBER:
        return -1
    return int(digits)


def _by_number(session: Session, user_id: uuid.UUID, numbers: list[str]) -> dict[int, Task]:
    """The user's tasks of these numbers, a batch of them per query."""
    keys = sorted({_as_number(text) for text in numbers} - {-1})
    found: dict[int, Task] = {}
    for start in range(0, len(keys), _BATCH):
        batch = keys[start : start + _BATCH]
        for task in session.exec(owned_query(user_id).where(col(Task.number).in_(batch))):
            found[task.number] = task
    return found


def task_not_found(*refs: str) -> TaskNotFound:
    """The one error for a missing task and for another user's task."""
    if len(refs) == 1:
        return TaskNotFound(f"Task {shortened(refs[0])} not found.", details={"ref": refs[0]})
    return TaskNotFound(
        f"Tasks {', '.join(map(shortened, refs))} not found; nothing was changed.",
        details={"refs": list(refs)},
    )
