"""Every operation of the product, and every rule it obeys.

Functions are `verb_noun(session, *, user_id, …)`. Each one scopes every read and
write by the acting user's id: the only way to a task is `_owned_query`, which always
filters on `user_id`, so another user's task is indistinguishable from a missing one.
Each writing function commits once at its end, so a multi-task operation is all or
nothing. The entry points (CLI, HTTP) own the session and render the results.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, Literal, TypeVar

from sqlalchemy import ColumnElement, bindparam, false, func, insert, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, delete, select
from sqlmodel.sql.expression import SelectOfScalar

from todo_cli.errors import (
    AmbiguousReference,
    PreconditionFailed,
    TaskNotFound,
    UserExists,
    UserNotFound,
    ValidationError,
)
from todo_cli.models import (
    TITLE_MAX_LENGTH,
    USER_NAME_MAX_LENGTH,
    WRITE_TRANSACTION,
    Task,
    TaskUpdate,
    User,
    utcnow,
)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

# A description is a note, not a document store. 100,000 characters is about 40 pages of
# text, far more than any task needs, and keeps one row well under a megabyte.
DESCRIPTION_MAX_LENGTH = 100_000
MIN_PREFIX_LENGTH = 4
# Tasks beyond this number cannot exist (the column is a 32-bit integer); it also bounds
# paging, which both backends would otherwise reject with a driver error.
_MAX_NUMBER = 2**31 - 1
_AMBIGUOUS_SHOWN = 10
_USER_NAME = re.compile(rf"[A-Za-z0-9._@+-]{{1,{USER_NAME_MAX_LENGTH}}}")
_NUMBER = re.compile(r"[0-9]+")
_HEX_PREFIX = re.compile(r"[0-9a-f]+")
_UUID_HEX_DIGITS = 32

Status = Literal["pending", "done", "all"]
_Query = TypeVar("_Query", SelectOfScalar[Task], SelectOfScalar[int])


# --- validation -------------------------------------------------------------------------


def _check_text(value: str, field: str) -> None:
    """Text that a database cannot store faithfully is refused rather than altered."""
    if "\x00" in value:
        raise ValidationError(f"{field} must not contain NUL characters", details={"field": field})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"{field} must be valid Unicode text (it contains a lone surrogate)",
            details={"field": field},
        ) from None


def clean_title(title: str) -> str:
    """Strip surrounding whitespace; refuse empty, over-long or control-character titles.

    A title is one line shown in a table, so tabs, newlines and escape sequences (which
    could rewrite a terminal) have no place in it.
    """
    _check_text(title, "title")
    title = title.strip()
    if not title:
        raise ValidationError("title must not be empty", details={"field": "title"})
    if len(title) > TITLE_MAX_LENGTH:
        raise ValidationError(
            f"title must be at most {TITLE_MAX_LENGTH} characters (got {len(title)})",
            details={"field": "title", "max_length": TITLE_MAX_LENGTH, "length": len(title)},
        )
    if any(unicodedata.category(char) == "Cc" for char in title):
        raise ValidationError(
            "title must not contain control characters (newlines, tabs, escapes)",
            details={"field": "title"},
        )
    return title


def clean_description(description: str | None) -> str | None:
    """Descriptions are kept exactly as given, within the size limit."""
    if description is None:
        return None
    _check_text(description, "description")
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError(
            f"description must be at most {DESCRIPTION_MAX_LENGTH} characters "
            f"(got {len(description)})",
            details={
                "field": "description",
                "max_length": DESCRIPTION_MAX_LENGTH,
                "length": len(description),
            },
        )
    return description


def clean_user_name(name: str) -> str:
    name = name.strip()
    if not _USER_NAME.fullmatch(name):
        raise ValidationError(
            f"user name must be 1–{USER_NAME_MAX_LENGTH} characters from letters, digits "
            f"and ._@+- (got {name!r})",
            details={"field": "name"},
        )
    if _as_uuid(name) is not None:
        # A user is named by name or by UUID; a name that reads as a UUID could never
        # be named again.
        raise ValidationError(
            f"user name must not be a UUID (got {name!r})", details={"field": "name"}
        )
    return name


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


# --- users ------------------------------------------------------------------------------


def create_user(session: Session, *, name: str) -> User:
    name = clean_user_name(name)
    _begin_write(session)
    if _user_by_name(session, name) is not None:
        raise UserExists(f"A user named {name!r} already exists.", details={"name": name})
    user = User(name=name)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # created by someone else since the check above
        session.rollback()
        raise UserExists(f"A user named {name!r} already exists.", details={"name": name}) from None
    return user


def get_user(session: Session, *, ref: str) -> User:
    """A user by UUID or by name (case-insensitive)."""
    user_id = _as_uuid(ref.strip())
    if user_id is None and not _USER_NAME.fullmatch(ref.strip()):
        # No user can have this name, and the database may not even accept the text (NUL,
        # a lone surrogate): a malformed reference, as with task references.
        raise ValidationError(
            f"{ref.strip()!r} is not a user name or UUID; names are 1–{USER_NAME_MAX_LENGTH} "
            "letters, digits and ._@+-",
            details={"field": "user"},
        )
    user = session.get(User, user_id) if user_id else _user_by_name(session, ref.strip())
    if user is None:
        raise UserNotFound(
            f"No user {ref.strip()!r}; create it with `todo user add`.", details={"user": ref}
        )
    return user


def ensure_user(session: Session, *, name: str) -> User:
    """The named user, created on first use (the embedded default's login user)."""
    existing = _user_by_name(session, clean_user_name(name))
    if existing is not None:
        return existing
    try:
        return create_user(session, name=name)
    except UserExists:  # a concurrent first run created it
        return get_user(session, ref=name)


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(func.lower(User.name))))


def delete_user(session: Session, *, ref: str) -> User:
    """Delete a user and all of their tasks."""
    _begin_write(session)
    user = get_user(session, ref=ref)
    session.exec(delete(Task).where(col(Task.user_id) == user.id))
    session.delete(user)
    session.commit()
    return user


def _begin_write(session: Session) -> None:
    """Open this operation's transaction as a write transaction from its first statement.

    On SQLite that means `BEGIN IMMEDIATE` (see db.make_engine): writers queue on the
    database lock with the busy timeout instead of failing when a read transaction
    tries to become a write, while reads stay plain WAL snapshots that never block a
    writer. A read transaction the caller left open (e.g. looking up the acting user)
    is ended first; nothing is pending in it, because every write commits before it
    returns.
    """
    if session.in_transaction():
        if session.connection().get_execution_options().get(WRITE_TRANSACTION):
            return
        session.commit()
    session.connection(execution_options={WRITE_TRANSACTION: True})


def _user_by_name(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(func.lower(User.name) == name.lower())).first()


def _require_user(session: Session, user_id: uuid.UUID) -> None:
    if session.get(User, user_id) is None:
        raise user_not_found(user_id)


# --- tasks ------------------------------------------------------------------------------


def create_task(
    session: Session, *, user_id: uuid.UUID, title: str, description: str | None = None
) -> Task:
    title = clean_title(title)
    description = clean_description(description)
    _begin_write(session)
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
    return _owned_task(session, user_id, ref)


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
        _require_user(session, user_id)
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
        _require_user(session, user_id)
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
    _begin_write(session)
    task = _changed_in_one_statement(session, user_id, ref, values, expected_version)
    if task is None:  # not a plain change: unknown, stale, unchanged, or a UUID prefix
        task = _owned_task(session, user_id, ref, lock=True)
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
    _begin_write(session)
    tasks = _owned_tasks(session, user_id, refs)
    for task in tasks:
        _check_version(task, expected_version)
    for task in tasks:
        session.delete(task)
    session.commit()
    return tasks


def _set_completed(
    session: Session, user_id: uuid.UUID, refs: Sequence[str], *, completed: bool
) -> list[Task]:
    _begin_write(session)
    values: dict[str, object] = {"is_completed": completed}
    changed = (
        _changed_in_one_statement(session, user_id, refs[0], values, None)
        if len(refs) == 1
        else None
    )
    if changed is not None:
        session.commit()
        return [changed]
    tasks = _owned_tasks(session, user_id, refs)
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
    named = _exactly(ref.strip())
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


# --- references -------------------------------------------------------------------------


def _owned_query(user_id: uuid.UUID) -> SelectOfScalar[Task]:
    """The one starting point of every task query: the acting user's tasks only."""
    return select(Task).where(col(Task.user_id) == user_id)


def _exactly(text: str) -> ColumnElement[bool] | None:
    """The condition for a reference that names one task exactly: a number or a full
    UUID. None for anything else (a UUID prefix, or something malformed)."""
    if _NUMBER.fullmatch(text):
        # Beyond the column's range no task can have the number. The length is checked
        # first: int() refuses strings of more than 4,300 digits.
        digits = text.lstrip("0") or "0"
        if len(digits) > len(str(_MAX_NUMBER)) or int(digits) > _MAX_NUMBER:
            return false()
        return col(Task.number) == int(digits)
    task_id = _as_uuid(text)
    return col(Task.id) == task_id if task_id is not None else None


def _owned_task(session: Session, user_id: uuid.UUID, ref: str, *, lock: bool = False) -> Task:
    """Resolve a reference among the user's own tasks.

    A reference is a per-user number (`7`), a full UUID, or a unique prefix of at least
    four hex digits of the UUID (hyphens optional). All-digit references are numbers.
    Unknown and another user's task raise the same `TaskNotFound`.
    """
    text = ref.strip()
    query = _owned_query(user_id)
    if (exact := _exactly(text)) is not None:
        query = query.where(exact)
    else:
        prefix = text.lower().replace("-", "")
        if len(prefix) < MIN_PREFIX_LENGTH or not _HEX_PREFIX.fullmatch(prefix):
            raise ValidationError(
                f"{text!r} is not a task number, a UUID or a UUID prefix of at least "
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
        matches = list(
            session.exec(
                query.where(col(Task.id).between(lowest, highest))
                .order_by(col(Task.number))
                .limit(_AMBIGUOUS_SHOWN + 1)
            )
        )
        if len(matches) > 1:
            shown = matches[:_AMBIGUOUS_SHOWN]
            listing = ", ".join(f"{t.number} ({str(t.id)[:8]})" for t in shown)
            more = " and more" if len(matches) > _AMBIGUOUS_SHOWN else ""
            raise AmbiguousReference(
                f"{text!r} matches several tasks: {listing}{more}; use a longer prefix.",
                details={
                    "ref": text,
                    "matches": [{"number": t.number, "id": str(t.id)} for t in shown],
                },
            )
        if not matches:
            raise task_not_found(text)
        if not lock:
            return matches[0]
        query = query.where(col(Task.id) == matches[0].id)
    if lock:
        # populate_existing: a row already loaded by this session is re-read under the lock.
        query = query.with_for_update().execution_options(populate_existing=True)
    task = session.exec(query).first()
    if task is None:
        raise task_not_found(text)
    return task


def _owned_tasks(session: Session, user_id: uuid.UUID, refs: Sequence[str]) -> list[Task]:
    """Resolve several references, all or nothing, and lock the rows for writing.

    Every unknown reference is reported at once. Rows are locked in id order so that two
    multi-task operations on overlapping tasks cannot deadlock.
    """
    if not refs:
        raise ValidationError("give at least one task")
    if len(refs) == 1:  # the common case: resolve and lock in one statement
        return [_owned_task(session, user_id, refs[0], lock=True)]
    found: dict[uuid.UUID, Task] = {}
    missing: list[str] = []
    for ref in refs:
        try:
            task = _owned_task(session, user_id, ref)
        except TaskNotFound:
            missing.append(ref.strip())
            continue
        found.setdefault(task.id, task)
    if missing:
        raise task_not_found(*missing)
    locked = {
        task.id: task
        for task in session.exec(
            _owned_query(user_id)
            .where(col(Task.id).in_(found))
            .order_by(col(Task.id))
            .with_for_update()
            .execution_options(populate_existing=True)  # re-read under the lock
        )
    }
    if len(locked) != len(found):  # deleted by someone else meanwhile
        raise task_not_found(*(str(found[i].number) for i in found if i not in locked))
    return [locked[task_id] for task_id in found]


def user_not_found(user_id: uuid.UUID) -> UserNotFound:
    """The error for a user id that does not exist (the API also answers it to a caller
    whose token is another user's, so the two must stay identical)."""
    return UserNotFound(f"No user {str(user_id)!r}.", details={"user": str(user_id)})


def task_not_found(*refs: str) -> TaskNotFound:
    """The one error for a missing task and for another user's task."""
    if len(refs) == 1:
        return TaskNotFound(f"Task {refs[0]} not found.", details={"ref": refs[0]})
    return TaskNotFound(
        f"Tasks {', '.join(refs)} not found; nothing was changed.", details={"refs": list(refs)}
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
        _require_user(session, user_id)
        raise


def _list_query(
    user_id: uuid.UUID, status: Status, limit: int | None, offset: int
) -> SelectOfScalar[Task]:
    for field, value in (("limit", limit), ("offset", offset)):
        if value is not None and not 0 <= value <= _MAX_NUMBER:
            raise ValidationError(
                f"{field} must be between 0 and {_MAX_NUMBER}", details={"field": field}
            )
    query: SelectOfScalar[Task] = _filter_status(_owned_query(user_id), status)
    query = query.order_by(col(Task.created_at).desc(), col(Task.id).desc()).offset(offset)
    return query.limit(limit) if limit is not None else query
