"""Tasks: every operation on the acting user's tasks, each one change in one transaction.

Every write goes through `write_task`, inside `transaction.writing`: the one function that
inserts, changes or deletes a task row, records the task's image before the change, and
bumps `version` and `updated_at`.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Executable, Row, Select, bindparam, true, update
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from todo_cli import db
from todo_cli.errors import PreconditionFailed, ValidationError
from todo_cli.models import (
    PLAN_EACH_TIME,
    RECORD_COLUMNS,
    RELATED_FIELDS,
    NoteRecord,
    Task,
    TaskCreate,
    TaskNote,
    TaskRecord,
    TaskTag,
    TaskUpdate,
    User,
    task_to_json,
    utcnow,
)
from todo_cli.service.references import (
    RELATED_BATCH,
    exact_reference,
    only_match,
    owned_query,
    owned_task,
    owned_tasks,
    referenced,
    related,
    task_not_found,
)
from todo_cli.service.transaction import Recorder, transaction, writing
from todo_cli.service.users import require_user
from todo_cli.service.validation import (
    MAX_NUMBER,
    bounded,
    clean_note,
    clean_task_fields,
    search_text,
)

if TYPE_CHECKING:
    # Loaded where a filter or a sort is read: `todo add` and `todo done 3` read none.
    from todo_cli.service.query import Filter

# `pending`: not completed; `active`: pending and not waiting (the CLI's default list).
Status = Literal["active", "pending", "done", "all"]
_Query = TypeVar("_Query", SelectOfScalar[Task], SelectOfScalar[int])
# How many titles one `create_tasks` takes: far more than anyone pastes, and a bound on
# one transaction's size.
MAX_NEW_TASKS = 10_000
UTC_ZONE = ZoneInfo("UTC")
_Read = TypeVar("_Read")
# A read as the statements it runs: it yields each statement with its values, is sent
# back the statement's rows (tuples whose fields are also attributes), and returns its
# result. One definition of the read, run by whichever driver the caller has.
Reading: TypeAlias = Generator[tuple[Executable, Mapping[str, Any]], Sequence[Any], _Read]
_TASKS = Task.__table__  # type: ignore[attr-defined]
_TAGS = TaskTag.__table__  # type: ignore[attr-defined]
_NOTES = TaskNote.__table__  # type: ignore[attr-defined]
# The table's own columns: their types read the values as the ORM's attributes do
# (aware UTC datetimes on both backends, UUIDs, booleans, JSON).
_RECORD_COLUMNS = tuple(_TASKS.c[name] for name in RECORD_COLUMNS)


def write_task(
    session: Session,
    change: Recorder,
    task: Task | None,
    values: Mapping[str, Any] | None,
    *,
    keep: bool = True,
) -> Task | None:
    """The one way a task row changes, recorded in `change`; returns the task after.

    - `task` None: insert a task with `values` (every column but the bookkeeping ones,
      which default; a restored task brings its own `id`, `number` and `version`).
    - `values` None: delete `task` (its tags and notes go with it).
    - otherwise: write the `values` that differ from `task`; a real change bumps
      `version` and `updated_at` (to now, or to the `updated_at` an import gives),
      nothing else ever does.

    `tags` (a list of tags) and `notes` (a list of `{id, created_at, text}`) are values
    like the columns. The derived columns follow here too: `search_text` from the title
    and description, `completed_at` when `is_completed` changes (unless given).

    `keep` False is for a caller that needs no object back (an import, an undo): an
    insert or a delete is then left to the end of the change and sent with the others
    as multi-row statements, without building ORM objects (a tenth of the cost per task).
    It returns None, and until the change is saved no query sees the row as written.
    """
    now = utcnow()
    if task is None:
        assert values is not None
        row = _new_row(change.user_id, values, now)
        if not keep:
            change.insert_later(_TASKS, row)
            for tag in values.get("tags", ()):
                change.insert_later(
                    _TAGS, {"user_id": row["user_id"], "task_id": row["id"], "tag": tag}
                )
            for note in values.get("notes", ()):
                change.insert_later(
                    _NOTES, {"user_id": row["user_id"], "task_id": row["id"], **note}
                )
            change.record_row(row["id"], row["number"], None, row["version"])
            return None
        new = Task(**row)
        _set_related(new, {"tags": [], "notes": [], **values})
        session.add(new)
        change.record(new, None)
        return new
    if values is None:
        change.record(task, task_to_json(task), deleted=True)
        if keep:
            session.delete(task)
        else:
            change.delete_later(_TASKS, task.id)
            # Out of the session with its tags and notes: nothing may find it there again.
            session.expunge(task)
        return None
    current = task_to_json(task)
    # An import brings the time its source last changed the task; it is not a change itself.
    stamp = values.get("updated_at", now)
    differs = {
        name: value
        for name, value in values.items()
        if name != "updated_at" and _current(task, name) != value
    }
    if not differs:
        return task
    for name, value in differs.items():
        if name not in RELATED_FIELDS:
            setattr(task, name, value)
    _set_related(task, differs)
    if "is_completed" in differs and "completed_at" not in values:
        task.completed_at = now if task.is_completed else None
    if differs.keys() & {"title", "description"}:
        task.search_text = search_text(task.title, task.description)
    task.version += 1
    task.updated_at = stamp
    change.record(task, current)
    return task


def _new_row(user_id: uuid.UUID, values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A new task's every column: the defaults of the model, then `values`, then what
    follows from them."""
    row: dict[str, Any] = {
        name: field.get_default(call_default_factory=True)
        for name, field in Task.model_fields.items()
        if name in _TASKS.c
    }
    row.update(created_at=now, updated_at=now)
    row.update((name, value) for name, value in values.items() if name not in RELATED_FIELDS)
    row["user_id"] = user_id
    if row["is_completed"] and "completed_at" not in values:
        row["completed_at"] = now
    row["search_text"] = search_text(row["title"], row["description"])
    return row


def _current(task: Task, name: str) -> Any:
    """A field's value as `write_task` compares it: related fields as values are given."""
    if name == "tags":
        return task.tags
    if name == "notes":
        return [
            {"id": note.id, "created_at": note.created_at, "text": note.text}
            for note in task.note_rows
        ]
    return getattr(task, name)


def _set_related(task: Task, values: Mapping[str, Any]) -> None:
    """Make the task's tag and note rows those of `values`, keeping the rows that stay
    (a row removed and added again in one flush would collide on its key)."""
    if "tags" in values:
        kept = {row.tag: row for row in task.tag_rows or []}
        task.tag_rows = [
            kept.get(tag) or TaskTag(user_id=task.user_id, task_id=task.id, tag=tag)
            for tag in values["tags"]
        ]
    if "notes" in values:
        notes = {row.id: row for row in task.note_rows or []}
        task.note_rows = [
            notes.get(note["id"])
            or TaskNote(
                user_id=task.user_id,
                task_id=task.id,
                id=note["id"],
                created_at=note["created_at"],
                text=note["text"],
            )
            for note in values["notes"]
        ]


def create_task(
    session: Session, *, user_id: uuid.UUID, task: TaskCreate, zone: ZoneInfo | None = None
) -> Task:
    return create_tasks(session, user_id=user_id, tasks=[task], zone=zone)[0]


def create_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    tasks: Sequence[TaskCreate],
    zone: ZoneInfo | None = None,
) -> list[Task]:
    """Create tasks, numbered in the given order; if any is invalid, none is created.

    Date phrases (`due`, `wait`) are read in `zone`; None is the user's (`user_zone`).
    """
    if not tasks:
        raise ValidationError("give at least one task")
    if len(tasks) > MAX_NEW_TASKS:
        raise ValidationError(
            f"at most {MAX_NEW_TASKS} tasks at once (got {len(tasks)})",
            details={"max": MAX_NEW_TASKS},
        )
    now = utcnow()
    given = [task.model_dump(exclude_defaults=True) | {"title": task.title} for task in tasks]
    if zone is None:
        zone = _zone_for(session, user_id, given)
    cleaned = [clean_task_fields(fields, zone=zone, now=now) for fields in given]
    with writing(session, user_id=user_id, verb="add", new_tasks=len(cleaned)) as change:
        first = change.last_task_number - len(cleaned) + 1
        created = [
            write_task(session, change, None, {**values, "number": first + offset})
            for offset, values in enumerate(cleaned)
        ]
    return [task for task in created if task is not None]


def add_note(session: Session, *, user_id: uuid.UUID, ref: str, text: str) -> Task:
    """Append a note to a task: a change of the task like any other (undo removes it)."""
    text = clean_note(text)
    with writing(session, user_id=user_id, verb="note") as change:
        task = owned_task(session, user_id, ref, lock=True)
        notes = _current(task, "notes")
        new = {"id": uuid.uuid4(), "created_at": utcnow(), "text": text}
        written = write_task(session, change, task, {"notes": [*notes, new]})
    assert written is not None
    return written


def get_task(session: Session, *, user_id: uuid.UUID, ref: str) -> TaskRecord:
    """One of the user's tasks by reference (see `references.referenced`), read-only."""
    return read(session, task_reading(user_id, ref))


def task_reading(user_id: uuid.UUID, ref: str) -> Reading[TaskRecord]:
    """`get_task` as the statements it runs (see `Reading`): a task GET runs it on the
    event loop (`todo_cli.async_reads`), everything else through a session (`read`)."""
    exact = exact_reference(ref)
    if exact is not None:
        column, value = exact
        rows = yield _exact_statement(column), {_EXACT_USER: user_id, _EXACT_VALUE: value}
        if not rows:
            raise task_not_found(ref.strip())
    else:
        query, text, _ = referenced(user_id, ref)
        rows = [only_match(text, (yield query.with_only_columns(*_RECORD_COLUMNS), {}))]
    return (yield from _with_related(user_id, rows[:1]))[0]


_EXACT_USER = "exact_user"
_EXACT_VALUE = "exact_value"


@cache
def _exact_statement(column: str) -> Select[Any]:
    """The one task a number or a full UUID names, built once and its values bound at
    each execution (a GET's path: building it, and its cache key, cost as much as
    sending it)."""
    key = _TASKS.c[column]
    statement: Select[Any] = select(*_RECORD_COLUMNS).where(
        _TASKS.c.user_id == bindparam(_EXACT_USER, type_=_TASKS.c.user_id.type),
        key == bindparam(_EXACT_VALUE, type_=key.type),
    )
    return statement


def read(session: Session, reading: Reading[_Read]) -> _Read:
    """Run a `Reading` on the session's connection, statement by statement."""
    connection = _reading(session)
    try:
        statement, values = next(reading)
        while True:
            statement, values = reading.send(connection.execute(statement, values).all())
    except StopIteration as done:
        result: _Read = done.value
        return result


def list_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    status: Status | None = None,
    limit: int | None = None,
    offset: int = 0,
    filter: Filter | str | Sequence[str] | None = None,
    sort: str | None = None,
    zone: ZoneInfo = UTC_ZONE,
) -> list[TaskRecord]:
    """A user's tasks, newest first unless `sort` says otherwise (ties broken by id, so
    pages are stable).

    `filter` is SPEC's filter language (text, command-line words or a parsed `Filter`),
    its dates read in `zone`; with a filter and no `status`, the filter's own default
    (pending and not waiting, unless it names status or id) applies. Without either,
    pending tasks.
    """
    query = _checked_list_query(session, user_id, status, filter, sort, zone, limit, offset)
    tasks = _records(session, user_id, _rows(session, query))
    if not tasks:
        # Only an empty answer needs the user looked up: tasks have an owner.
        require_user(session, user_id)
    return tasks


def next_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    limit: int | None = None,
    filter: Filter | str | Sequence[str] | None = None,
    zone: ZoneInfo = UTC_ZONE,
) -> list[TaskRecord]:
    """What to do next: pending tasks not waiting (or those `filter` selects), by due
    (overdue first, then soonest, then those without one), then priority (H, M, none,
    L), then oldest."""
    try:
        if limit is not None:
            bounded("limit", limit, 0, MAX_NUMBER)
        parsed = parse_filter(filter, zone=zone)
    except ValidationError:
        require_user(session, user_id)
        raise
    from todo_cli.service import query as query_language

    query = _where(owned_query(user_id), user_id, None, parsed).order_by(
        *query_language.NEXT_SORT.order_by()
    )
    query = query.limit(limit) if limit is not None else query
    tasks = _records(session, user_id, _rows(session, query))
    if not tasks:
        require_user(session, user_id)
    return tasks


def iter_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    status: Status | None = None,
    limit: int | None = None,
    filter: Filter | str | Sequence[str] | None = None,
    sort: str | None = None,
    zone: ZoneInfo = UTC_ZONE,
) -> Iterator[TaskRecord]:
    """Like `list_tasks`, but fetched in batches, so memory stays flat for any count."""
    # The limit is checked there and applied here, batch by batch.
    query = _checked_list_query(session, user_id, status, filter, sort, zone, limit, 0).limit(None)
    if sort is None:
        # The default order, newest first, is a unique key: each batch starts after the
        # last row of the one before.
        tasks = db.in_batches(
            session,
            query,
            Task,
            ("created_at", "id"),
            limit=limit,
            fetch=lambda page: _records(session, user_id, _rows(session, page)),
        )
    else:
        tasks = _in_pages(session, user_id, query, limit)
    first = next(tasks, None)
    if first is None:
        require_user(session, user_id)
        return
    yield first
    yield from tasks


def _in_pages(
    session: Session,
    user_id: uuid.UUID,
    query: SelectOfScalar[Task],
    limit: int | None,
    size: int = 500,
) -> Iterator[TaskRecord]:
    """A listing in another order than the default: the ids in that order from one
    statement (one snapshot, so no row is skipped or repeated however the pages fall
    while others write), then the tasks `size` at a time. Memory holds the ids only."""
    ordered = query.with_only_columns(col(Task.id)).limit(limit)
    ids: list[uuid.UUID] = list(session.execute(ordered).scalars())
    for start in range(0, len(ids), size):
        batch = ids[start : start + size]
        rows = _rows(session, owned_query(user_id).where(col(Task.id).in_(batch)))
        found = {task.id: task for task in _records(session, user_id, rows)}
        yield from (found[task_id] for task_id in batch if task_id in found)


def _rows(session: Session, query: SelectOfScalar[Task]) -> Sequence[Row[Any]]:
    """The task columns of what an owned query selects, as rows: one statement, built
    from the query itself (its user, filter, order and paging), with no ORM object."""
    return _reading(session).execute(query.with_only_columns(*_RECORD_COLUMNS)).all()


def _records(session: Session, user_id: uuid.UUID, rows: Sequence[Row[Any]]) -> list[TaskRecord]:
    """The tasks of `rows` with their tags and notes, read in one more statement."""
    return read(session, _with_related(user_id, rows)) if rows else []


def _with_related(user_id: uuid.UUID, rows: Sequence[Any]) -> Reading[list[TaskRecord]]:
    ids = [row.id for row in rows]
    tags: dict[uuid.UUID, list[str]] = {}
    notes: dict[uuid.UUID, list[NoteRecord]] = {}
    # A batch of ids per statement: a listing without a limit may hold any number.
    for start in range(0, len(ids), RELATED_BATCH):
        found = yield related(user_id, ids[start : start + RELATED_BATCH])
        for task_id, text, note_id, created_at in found:
            if note_id is None:
                tags.setdefault(task_id, []).append(text)
            else:
                notes.setdefault(task_id, []).append(NoteRecord(note_id, created_at, text))
    return [
        TaskRecord._make(
            (*row, sorted(tags.get(row.id, ())), sorted(notes.get(row.id, ()), key=_note_order))
        )
        for row in rows
    ]


def _reading(session: Session) -> Connection:
    """The session's connection, for statements whose rows are read as rows: no ORM
    loading on the way. What the session holds unwritten is written first, as the ORM
    does before a query of its own."""
    session.flush()
    return session.connection()


def _note_order(note: NoteRecord) -> tuple[datetime, uuid.UUID]:
    return note.created_at, note.id


def count_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    status: Status | None = None,
    filter: Filter | str | Sequence[str] | None = None,
    zone: ZoneInfo = UTC_ZONE,
) -> int:
    """How many tasks `list_tasks` with the same status and filter would give."""
    try:
        parsed = _parsed(filter, zone)
    except ValidationError:
        require_user(session, user_id)
        raise
    query = select(func.count()).select_from(Task).where(col(Task.user_id) == user_id)
    count = session.exec(_where(query, user_id, status, parsed)).one()
    if count == 0:
        require_user(session, user_id)
    return count


def parse_filter(text: Filter | str | Sequence[str] | None, *, zone: ZoneInfo = UTC_ZONE) -> Filter:
    """A filter read once (dates in `zone`, relative to now), to pass to several calls."""
    from todo_cli.service import query as query_language

    return _parsed(text, zone) or query_language.parse_filter("", zone=zone)


def update_task(
    session: Session,
    *,
    user_id: uuid.UUID,
    ref: str,
    changes: TaskUpdate,
    expected_version: int | None = None,
    zone: ZoneInfo | None = None,
) -> Task:
    """Change only the fields present in `changes` (set explicitly, even to None).

    `expected_version` is the caller's idea of the current version (HTTP `If-Match`);
    a mismatch changes nothing. The row is locked while it is compared and written, so
    of two racing writers with the same expectation exactly one wins.
    """
    return update_tasks(
        session,
        user_id=user_id,
        refs=[ref],
        changes=changes,
        expected_version=expected_version,
        zone=zone,
    )[0]


def update_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    refs: Sequence[str],
    changes: TaskUpdate,
    expected_version: int | None = None,
    zone: ZoneInfo | None = None,
) -> list[Task]:
    """The same change of several tasks (`todo edit 3-7 +home`), all or nothing, one change.

    Dates are read in `zone`; None is the user's (`user_zone`)."""
    values = _update_values(session, user_id, changes, zone)
    with writing(session, user_id=user_id, verb="edit") as change:
        tasks = owned_tasks(session, user_id, refs)
        for task in tasks:
            _check_version(task, expected_version)
        for task in tasks:
            write_task(session, change, task, _with_tag_changes(task, dict(values)))
    return tasks


def complete_tasks(session: Session, *, user_id: uuid.UUID, refs: Sequence[str]) -> list[Task]:
    """Mark tasks completed; if any reference is unknown, nothing changes."""
    return _set_completed(session, user_id, refs, completed=True)


def reopen_tasks(session: Session, *, user_id: uuid.UUID, refs: Sequence[str]) -> list[Task]:
    """Mark tasks not completed; if any reference is unknown, nothing changes."""
    return _set_completed(session, user_id, refs, completed=False)


def delete_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    refs: Sequence[str],
    expected_version: int | None = None,
) -> list[Task]:
    """Delete tasks; if any reference is unknown (or any version stale), nothing changes."""
    with writing(session, user_id=user_id, verb="rm") as change:
        tasks = owned_tasks(session, user_id, refs)
        for task in tasks:
            _check_version(task, expected_version)
        for task in tasks:
            write_task(session, change, task, None)
    return tasks


def _set_completed(
    session: Session, user_id: uuid.UUID, refs: Sequence[str], *, completed: bool
) -> list[Task]:
    verb = "done" if completed else "reopen"
    with writing(session, user_id=user_id, verb=verb) as change:
        tasks = owned_tasks(session, user_id, refs)
        for task in tasks:
            write_task(session, change, task, {"is_completed": completed})
    return tasks


def _update_values(
    session: Session, user_id: uuid.UUID, changes: TaskUpdate, zone: ZoneInfo | None
) -> dict[str, Any]:
    given = {name: getattr(changes, name) for name in changes.model_fields_set}
    if not given:
        raise ValidationError("nothing to change: give a field to change")
    if zone is None:
        zone = _zone_for(session, user_id, [given])
    if "tags" in given and given.keys() & {"add_tags", "remove_tags"}:
        raise ValidationError(
            "give tags, or add_tags / remove_tags, not both", details={"field": "tags"}
        )
    return clean_task_fields(given, zone=zone, now=utcnow())


def _with_tag_changes(task: Task, values: dict[str, Any]) -> dict[str, Any]:
    """`add_tags` / `remove_tags` applied to the task's tags as they are (it is locked)."""
    added, removed = values.pop("add_tags", []), values.pop("remove_tags", [])
    if set(added) & set(removed):
        raise ValidationError(
            "a tag cannot be added and removed at once", details={"field": "tags"}
        )
    if added or removed:
        values["tags"] = sorted((set(task.tags) | set(added)) - set(removed))
    return values


def user_zone(session: Session, user_id: uuid.UUID) -> ZoneInfo:
    """The zone the user's days are read in when the caller names none (the API without
    `?tz=`): their stored `time_zone`, else UTC."""
    from todo_cli.service.dates import resolve_zone

    user = session.get(User, user_id)
    if user is None or user.time_zone is None:
        return UTC_ZONE
    try:
        return resolve_zone(user.time_zone)
    except ValidationError:  # a zone the installed tz database no longer has
        return UTC_ZONE


def set_time_zone(session: Session, *, user_id: uuid.UUID, name: str) -> list[Task]:
    """Store the user's zone; the dues given as a day move with it, as one change.

    A day-only due is "the end of that day where the user is", so its instant is
    recomputed in the new zone while its day stays. An undo moves those dues back and
    leaves the stored zone as it is (the zone is the user's setting, not a task's).
    Returns the tasks whose due moved.
    """
    from todo_cli.service.dates import end_of_day, resolve_zone

    zone = resolve_zone(name)
    with writing(session, user_id=user_id, verb="zone") as change:
        # The tasks first, then the user's row, as every other write locks them.
        query = owned_query(user_id).where(col(Task.due_date).is_not(None))
        locked = query.with_for_update().execution_options(populate_existing=True)
        tasks = list(session.exec(locked))
        if not _store_zone(session, user_id, zone.key, only_if_empty=False):
            require_user(session, user_id)
        moved = []
        for task in tasks:
            assert task.due_date is not None
            due = end_of_day(task.due_date, zone)
            if due != task.due:
                write_task(session, change, task, {"due": due})
                moved.append(task)
    return moved


def fill_time_zone(session: Session, *, user_id: uuid.UUID, name: str) -> None:
    """Store `name` as the user's zone if they have none yet (the CLI knows the OS's
    zone; the API, serving the same user, can then tell what their "today" is)."""
    with transaction(session):
        _store_zone(session, user_id, name, only_if_empty=True)


def _store_zone(session: Session, user_id: uuid.UUID, name: str, *, only_if_empty: bool) -> bool:
    """Write the user's zone in one statement; whether the user (still without one) exists."""
    from sqlalchemy.orm.attributes import set_committed_value

    condition = col(User.time_zone).is_(None) if only_if_empty else true()
    stored = session.execute(
        update(User)
        .where(col(User.id) == user_id, condition)
        .values(time_zone=name)
        .returning(col(User.id))
        .execution_options(synchronize_session=False)
    ).first()
    # A user object the session holds says so too, without being written again.
    user = session.identity_map.get(session.identity_key(User, user_id)) if stored else None
    if isinstance(user, User):
        set_committed_value(user, "time_zone", name)
    return stored is not None


def _zone_for(session: Session, user_id: uuid.UUID, given: Sequence[Mapping[str, Any]]) -> ZoneInfo:
    """The user's zone, read only if a date needs it (most writes have none)."""
    if any(fields.get("due") is not None or fields.get("wait") is not None for fields in given):
        return user_zone(session, user_id)
    return UTC_ZONE


def _check_version(task: Task, expected_version: int | None) -> None:
    """Compared here, never in SQL: an `If-Match` of any size is simply not the version
    (PostgreSQL would refuse one beyond its integer column with an error)."""
    if expected_version is not None and expected_version != task.version:
        raise PreconditionFailed(
            f"Task {task.number} is at version {task.version}, not {expected_version}; "
            "fetch it again and retry.",
            details={"current_version": task.version, "expected_version": expected_version},
        )


def _filter_status(query: _Query, status: Status) -> _Query:
    if status == "active":
        waiting = col(Task.wait).is_not(None) & (col(Task.wait) > utcnow())
        return _filter_status(query, "pending").where(~waiting)
    if status == "pending":
        # Spelled as the condition of the pending-tasks index (migration 0003): `NOT
        # is_completed` on PostgreSQL, `is_completed = 0` on SQLite, which only uses a
        # partial index whose condition appears in the query term for term.
        return query.where(~col(Task.is_completed))
    if status == "done":
        # `= 1` / `= true`, as the done-tasks index (migration 0005) spells it.
        return query.where(col(Task.is_completed) == true())
    return query


def _parsed(filter: Filter | str | Sequence[str] | None, zone: ZoneInfo) -> Filter | None:
    from todo_cli.service import query as query_language

    if filter is None or isinstance(filter, query_language.Filter):
        return filter
    return query_language.parse_filter(filter, zone=zone)


def _where(
    query: _Query, user_id: uuid.UUID, status: Status | None, parsed: Filter | None
) -> _Query:
    """The status and filter conditions on a user-scoped query: a given status replaces
    the filter's default, and either alone is applied as it is."""
    if parsed is None:
        return _filter_status(query, status or "pending")
    if parsed.asks_for_tags:
        query = query.execution_options(**{PLAN_EACH_TIME: True})
    if status is None:
        return query.where(parsed.condition(user_id))
    from todo_cli.service import query as query_language

    bare = query_language.Filter(parsed.source, parsed.node, parsed.now, names_status=True)
    return _filter_status(query, status).where(bare.condition(user_id))


def _checked_list_query(
    session: Session,
    user_id: uuid.UUID,
    status: Status | None,
    filter: Filter | str | Sequence[str] | None,
    sort: str | None,
    zone: ZoneInfo,
    limit: int | None,
    offset: int,
) -> SelectOfScalar[Task]:
    """The list query; an unknown user is a 404 even when the paging, filter or sort is
    also bad, so a caller learns nothing about those rules from a user not theirs."""
    from todo_cli.service import query as query_language

    try:
        if limit is not None:
            bounded("limit", limit, 0, MAX_NUMBER)
        bounded("offset", offset, 0, MAX_NUMBER)
        parsed = _parsed(filter, zone)
        order = (
            query_language.parse_sort(sort).order_by()
            if sort is not None
            else [col(Task.created_at).desc(), col(Task.id).desc()]
        )
    except ValidationError:
        require_user(session, user_id)
        raise
    query = _where(owned_query(user_id), user_id, status, parsed).order_by(*order).offset(offset)
    return query.limit(limit) if limit is not None else query
