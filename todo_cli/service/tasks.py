"""Tasks: every operation on the acting user's tasks, each one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, Literal, TypeVar

from sqlalchemy import ColumnElement, bindparam, func, insert, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from todo_cli.errors import PreconditionFailed, ValidationError
from todo_cli.models import Task, TaskUpdate, User, utcnow
from todo_cli.service.references import exactly, owned_query, owned_task, owned_tasks
from todo_cli.service.users import begin_write, require_user, user_not_found
from todo_cli.service.validation import MAX_NUMBER, clean_description, clean_title

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

Status = Literal["pending", "done", "all"]
_Query = TypeVar("_Query", SelectOfScalar[Task], SelectOfScalar[int])


def create_task(
    session: Session, *, user_id: uuid.UUID, title: str, description: str | None = None
) -> Task:
    title = clean_title(title)
    description = clean_description(description)
    begin_write(session)
    now = utcnow()
    task = Task(
        user_id=user_id,
        number=0,  # handed out below
        title=title,
        description=description,
        created_at=now,
        updated_at=now,
    )
    # Taking the next number locks the user's row until commit: concurrent creates for
    # one user queue here, and a number once handed out is never handed out again.
    if session.get_bind().dialect.name == "postgresql":
        # One statement instead of two (a round trip less): the INSERT takes its number
        # from the UPDATE in a CTE, and inserts nothing for an unknown user.
        values = {f"new_{name}": getattr(task, name) for name in _INSERTED}
        number = session.execute(_numbered_insert(), values).scalar()
        if number is None:
            raise user_not_found(user_id)
        task.number = number
        # The row is written: let the session hold the task as if it had loaded it.
        make_transient_to_detached(task)
        session.add(task)
    else:  # SQLite has no UPDATE inside WITH
        number = session.execute(
            _next_number(col(User.id) == user_id).execution_options(synchronize_session=False)
        ).scalar()
        if number is None:
            raise user_not_found(user_id)
        task.number = number
        session.add(task)
    session.commit()
    return task


# Every column of a new task but its number.
_INSERTED = (
    "user_id",
    "id",
    "title",
    "description",
    "is_completed",
    "created_at",
    "updated_at",
    "version",
)


def _next_number(user: ColumnElement[bool]) -> ReturningUpdate[tuple[int]]:
    """UPDATE users SET last_task_number = last_task_number + 1 … RETURNING it."""
    return (
        update(User)
        .where(user)
        .values(last_task_number=col(User.last_task_number) + 1)
        .returning(col(User.last_task_number).label("number"))
    )


@cache
def _numbered_insert() -> ReturningInsert[tuple[int]]:
    """INSERT … SELECT of one task (`new_<column>` parameters) numbered by a CTE.

    Built once: putting this statement together costs more than executing it.
    """
    table: Table = Task.__table__  # type: ignore[attr-defined]
    new = {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in _INSERTED}
    numbered = _next_number(col(User.id) == new["user_id"]).cte("numbered")
    row = core_select(*(value.label(name) for name, value in new.items()), numbered.c.number)
    return insert(table).from_select([*new, "number"], row).returning(table.c.number)


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
) -> Task:
    """Change only the fields present in `changes` (set explicitly, even to None).

    `expected_version` is the caller's idea of the current version (HTTP `If-Match`);
    a mismatch changes nothing. The row is locked while it is compared and written, so
    of two racing writers with the same expectation exactly one wins.
    """
    given = changes.model_fields_set
    if not given:
        raise ValidationError("nothing to change: give a title, a description or a status")
    values: dict[str, object] = {}
    if "title" in given:
        if changes.title is None:
            raise ValidationError("title must not be empty", details={"field": "title"})
        values["title"] = clean_title(changes.title)
    if "description" in given:
        values["description"] = clean_description(changes.description)
    if "is_completed" in given:
        if changes.is_completed is None:
            raise ValidationError(
                "is_completed must be true or false", details={"field": "is_completed"}
            )
        values["is_completed"] = changes.is_completed
    begin_write(session)
    task = _changed_in_one_statement(session, user_id, ref, values, expected_version)
    if task is None:  # not a plain change: unknown, stale, unchanged, or a UUID prefix
        task = owned_task(session, user_id, ref, lock=True)
        _check_version(task, expected_version)
        _apply(task, values)
    session.commit()
    return task


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
    begin_write(session)
    tasks = owned_tasks(session, user_id, refs)
    for task in tasks:
        _check_version(task, expected_version)
    for task in tasks:
        session.delete(task)
    session.commit()
    return tasks


def _set_completed(
    session: Session, user_id: uuid.UUID, refs: Sequence[str], *, completed: bool
) -> list[Task]:
    begin_write(session)
    values: dict[str, object] = {"is_completed": completed}
    changed = (
        _changed_in_one_statement(session, user_id, refs[0], values, None)
        if len(refs) == 1
        else None
    )
    if changed is not None:
        session.commit()
        return [changed]
    tasks = owned_tasks(session, user_id, refs)
    for task in tasks:
        _apply(task, values)
    session.commit()
    return tasks


def _changed_in_one_statement(
    session: Session,
    user_id: uuid.UUID,
    ref: str,
    values: dict[str, object],
    expected_version: int | None,
) -> Task | None:
    """The usual write in one statement: UPDATE … RETURNING, or None to take the long way.

    A task named by number or full UUID whose values differ (and whose version is the
    expected one) is changed as `_apply` would change it, under the lock the UPDATE
    takes: a statement and a round trip fewer than reading it first, and no ORM flush.
    Anything else (no such task, a stale version, nothing to change, a UUID prefix, a
    malformed reference) changes nothing here and returns None; the caller's general
    path then raises or returns what it always did.
    """
    named = exactly(ref.strip())
    if named is None:
        return None
    differs = or_(*(col(getattr(Task, name)).is_distinct_from(v) for name, v in values.items()))
    statement = (
        update(Task)
        .where(col(Task.user_id) == user_id, named, differs)
        .values(**values, version=col(Task.version) + 1, updated_at=utcnow())
        .returning(Task)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if expected_version is not None:
        statement = statement.where(col(Task.version) == expected_version)
    return session.execute(statement).scalars().first()


def _apply(task: Task, values: dict[str, object]) -> None:
    """Write the values that differ; a real change bumps `version` and `updated_at`."""
    changed = {name: value for name, value in values.items() if getattr(task, name) != value}
    if not changed:
        return
    for name, value in changed.items():
        setattr(task, name, value)
    task.version += 1
    task.updated_at = utcnow()


def _check_version(task: Task, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != task.version:
        raise PreconditionFailed(
            f"Task {task.number} is at version {task.version}, not {expected_version}; "
            "fetch it again and retry.",
            details={"current_version": task.version, "expected_version": expected_version},
        )


def _filter_status(query: _Query, status: Status) -> _Query:
    if status == "pending":
        # Spelled as the condition of the pending-tasks index (migration 0003): `NOT
        # is_completed` on PostgreSQL, `is_completed = 0` on SQLite, which only uses a
        # partial index whose condition appears in the query term for term.
        return query.where(~col(Task.is_completed))
    if status == "done":
        return query.where(col(Task.is_completed).is_(True))
    return query


def _checked_list_query(
    session: Session, user_id: uuid.UUID, status: Status, limit: int | None, offset: int
) -> SelectOfScalar[Task]:
    """The list query; an unknown user is reported before bad paging, as it always was."""
    try:
        return _list_query(user_id, status, limit, offset)
    except ValidationError:
        require_user(session, user_id)
        raise


def _list_query(
    user_id: uuid.UUID, status: Status, limit: int | None, offset: int
) -> SelectOfScalar[Task]:
    for field, value in (("limit", limit), ("offset", offset)):
        if value is not None and not 0 <= value <= MAX_NUMBER:
            raise ValidationError(
                f"{field} must be between 0 and {MAX_NUMBER}", details={"field": field}
            )
    query: SelectOfScalar[Task] = _filter_status(owned_query(user_id), status)
    query = query.order_by(col(Task.created_at).desc(), col(Task.id).desc()).offset(offset)
    return query.limit(limit) if limit is not None else query
