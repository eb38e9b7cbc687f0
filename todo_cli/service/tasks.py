"""Tasks: every operation on the acting user's tasks, each one change in one transaction.

Every write goes through `write_task`, inside `transaction.writing`: the one function that
inserts, changes or deletes a task row, records the task's image before the change, and
bumps `version` and `updated_at`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import true
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from todo_cli.errors import PreconditionFailed, ValidationError
from todo_cli.models import (
    RELATED_FIELDS,
    Task,
    TaskCreate,
    TaskNote,
    TaskTag,
    TaskUpdate,
    task_to_json,
    utcnow,
)
from todo_cli.service.references import owned_query, owned_task, owned_tasks
from todo_cli.service.transaction import Recorder, writing
from todo_cli.service.users import require_user
from todo_cli.service.validation import (
    MAX_NUMBER,
    bounded,
    clean_note,
    clean_task_fields,
    search_text,
)

# `pending`: not completed; `active`: pending and not waiting (the CLI's default list).
Status = Literal["active", "pending", "done", "all"]
_Query = TypeVar("_Query", SelectOfScalar[Task], SelectOfScalar[int])
# How many titles one `create_tasks` takes: far more than anyone pastes, and a bound on
# one transaction's size.
MAX_NEW_TASKS = 10_000
UTC_ZONE = ZoneInfo("UTC")


def write_task(
    session: Session,
    change: Recorder,
    task: Task | None,
    values: Mapping[str, Any] | None,
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
    """
    now = utcnow()
    if task is None:
        assert values is not None
        columns = {k: v for k, v in values.items() if k not in RELATED_FIELDS}
        new = Task(**{"created_at": now, "updated_at": now, **columns, "user_id": change.user_id})
        if new.is_completed and "completed_at" not in values:
            new.completed_at = now
        _set_related(new, {"tags": [], "notes": [], **values})
        new.search_text = search_text(new.title, new.description)
        session.add(new)
        change.record(new, None)
        return new
    if values is None:
        change.record(task, task_to_json(task), deleted=True)
        session.delete(task)
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
    session: Session, *, user_id: uuid.UUID, task: TaskCreate, zone: ZoneInfo = UTC_ZONE
) -> Task:
    return create_tasks(session, user_id=user_id, tasks=[task], zone=zone)[0]


def create_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    tasks: Sequence[TaskCreate],
    zone: ZoneInfo = UTC_ZONE,
) -> list[Task]:
    """Create tasks, numbered in the given order; if any is invalid, none is created.

    Date phrases (`due`, `wait`) are read in `zone`, the acting user's.
    """
    if not tasks:
        raise ValidationError("give at least one task")
    if len(tasks) > MAX_NEW_TASKS:
        raise ValidationError(
            f"at most {MAX_NEW_TASKS} tasks at once (got {len(tasks)})",
            details={"max": MAX_NEW_TASKS},
        )
    now = utcnow()
    cleaned = [
        clean_task_fields(
            task.model_dump(exclude_defaults=True) | {"title": task.title}, zone=zone, now=now
        )
        for task in tasks
    ]
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


def get_task(session: Session, *, user_id: uuid.UUID, ref: str) -> Task:
    return owned_task(session, user_id, ref)


def list_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    status: Status = "pending",
    limit: int | None = None,
    offset: int = 0,
) -> list[Task]:
    """A user's tasks, newest first (ties broken by id, so pages are stable)."""
    tasks = list(session.exec(_checked_list_query(session, user_id, status, limit, offset)))
    if not tasks:
        # Only an empty answer needs the user looked up: tasks have an owner.
        require_user(session, user_id)
    return tasks


def next_tasks(session: Session, *, user_id: uuid.UUID, limit: int | None = None) -> list[Task]:
    """What to do next: pending tasks not waiting, by due (overdue first, then soonest,
    then those without one), then priority (H, M, none, L), then oldest."""
    if limit is not None:
        bounded("limit", limit, 0, MAX_NUMBER)
    due = col(Task.due)
    query = _filter_status(owned_query(user_id), "active").order_by(
        due.is_(None),  # missing values last, spelled the same on both backends
        due,
        col(Task.priority).desc(),
        col(Task.created_at),
        col(Task.id),
    )
    tasks = list(session.exec(query.limit(limit) if limit is not None else query))
    if not tasks:
        require_user(session, user_id)
    return tasks


def iter_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    status: Status = "pending",
    limit: int | None = None,
) -> Iterator[Task]:
    """Like `list_tasks`, but fetched in batches, so memory stays flat for any count."""
    query = _checked_list_query(session, user_id, status, limit, 0)
    tasks = iter(session.exec(query.execution_options(yield_per=500)))
    first = next(tasks, None)
    if first is None:
        require_user(session, user_id)
        return
    yield first
    yield from tasks


def count_tasks(session: Session, *, user_id: uuid.UUID, status: Status = "pending") -> int:
    query = select(func.count()).select_from(Task).where(col(Task.user_id) == user_id)
    return session.exec(_filter_status(query, status)).one()


def update_task(
    session: Session,
    *,
    user_id: uuid.UUID,
    ref: str,
    changes: TaskUpdate,
    expected_version: int | None = None,
    zone: ZoneInfo = UTC_ZONE,
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
    zone: ZoneInfo = UTC_ZONE,
) -> list[Task]:
    """The same change of several tasks (`todo edit 3-7 +home`), all or nothing, one change."""
    values = _update_values(changes, zone)
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


def _update_values(changes: TaskUpdate, zone: ZoneInfo) -> dict[str, Any]:
    given = {name: getattr(changes, name) for name in changes.model_fields_set}
    if not given:
        raise ValidationError("nothing to change: give a title, a description or a status")
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


def _checked_list_query(
    session: Session, user_id: uuid.UUID, status: Status, limit: int | None, offset: int
) -> SelectOfScalar[Task]:
    """The list query; an unknown user is a 404 even when the paging is also bad, so a
    caller learns nothing about paging rules from a user that is not theirs."""
    try:
        return _list_query(user_id, status, limit, offset)
    except ValidationError:
        require_user(session, user_id)
        raise


def _list_query(
    user_id: uuid.UUID, status: Status, limit: int | None, offset: int
) -> SelectOfScalar[Task]:
    if limit is not None:
        bounded("limit", limit, 0, MAX_NUMBER)
    bounded("offset", offset, 0, MAX_NUMBER)
    query: SelectOfScalar[Task] = _filter_status(owned_query(user_id), status)
    query = query.order_by(col(Task.created_at).desc(), col(Task.id).desc()).offset(offset)
    return query.limit(limit) if limit is not None else query
