"""Tables (SPEC → Data model) and the public shapes derived from them.

`user_id` leads every key and index of `tasks`, so a user's rows are one index range and
the table can later be distributed by `user_id` without a schema change. The schema
itself is created by the Alembic migrations; a test checks that they agree with this file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from pydantic import ConfigDict
from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, relationship
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Relationship, SQLModel

# Constraint names are part of the schema: Alembic needs them to alter or drop a
# constraint later, and on SQLite (batch mode) it cannot do so without a name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

TITLE_MAX_LENGTH = 255
# Execution option that marks a transaction as one that will write. The service sets it
# on a write operation's first statement; db.make_engine starts such transactions with
# BEGIN IMMEDIATE on SQLite, and every other transaction as a plain (deferred) read.
WRITE_TRANSACTION = "todo_write"
# Execution option of a statement whose best plan depends on its values (a filter with
# tags: one tag is on no task, another on most). On PostgreSQL it is never prepared, so
# the server plans it for the values it is given each time, instead of settling on one
# generic plan once psycopg has prepared it (from its 6th use on a connection).
PLAN_EACH_TIME = "todo_plan_each_time"
USER_NAME_MAX_LENGTH = 64
PROJECT_MAX_LENGTH = 128
TAG_MAX_LENGTH = 64
TIME_ZONE_MAX_LENGTH = 64
NOTE_MAX_LENGTH = 10_000
# Priorities as stored: they sort H > M > none > L.
PRIORITIES = {"H": 3, "M": 2, "L": -1}
NO_PRIORITY = 0
# Session info key naming where a session's writes come from (`cli`, `api`): the entry
# point's database runtime sets it, the change log records it.
ORIGIN_KEY = "todo.origin"


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(SQLModel):
    """Every model here: pydantic builds a model's validator when it is first used.

    Table models never validate (SQLModel constructs them as given), and a command uses
    one or two of the input and output shapes, so building all of them as this module
    loads cost every command about 7 ms.
    """

    model_config = ConfigDict(defer_build=True)  # type: ignore[assignment]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is stored in UTC and always comes back timezone-aware.

    PostgreSQL keeps the offset (`timestamptz`); SQLite has no such type, so the value
    is stored as naive UTC text and the UTC offset is put back on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class User(_Model, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=USER_NAME_MAX_LENGTH)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # The last task number handed out to this user. Incrementing it under the row lock
    # gives each new task a number that no concurrent create and no deleted task ever had.
    last_task_number: int = Field(default=0, nullable=False)
    # The last change id handed out to this user: changes are numbered per user, in the
    # order their transactions took this row's lock.
    last_change_id: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    # The user's IANA zone: what "today" means for them when no client says (the API).
    time_zone: str | None = Field(default=None, max_length=TIME_ZONE_MAX_LENGTH, nullable=True)


# Names are unique regardless of case ("Alice" and "alice" are one user).
Index("uq_users_name_lower", func.lower(User.__table__.c.name), unique=True)  # type: ignore[attr-defined]


class Task(_Model, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("user_id", "number"),
        Index(None, "user_id", "created_at"),
        # Each user's pending tasks in list order, for the default list and its count.
        # Partial: migration 0003 creates it over pending rows only (`WHERE NOT
        # is_completed`; queries select pending tasks as `~Task.is_completed`, which each
        # backend spells as that condition). The condition is not repeated here: a
        # `postgresql_where=` / `sqlite_where=` option makes SQLAlchemy import those
        # dialects when this module loads (~40 ms on every command). Alembic does not
        # compare index conditions; tests/test_migrations.py checks it in the database.
        Index("ix_tasks_user_id_created_at_id_pending", "user_id", "created_at", "id"),
        # Partial too (migrations 0005, 0006): pending tasks by due and by wait, done
        # tasks by completion.
        Index("ix_tasks_user_id_due_pending", "user_id", "due"),
        Index("ix_tasks_user_id_wait_pending", "user_id", "wait"),
        Index("ix_tasks_user_id_completed_at_done", "user_id", "completed_at"),
        Index(None, "user_id", "project"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(f"length(title) BETWEEN 1 AND {TITLE_MAX_LENGTH}", name="title_length"),
    )

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    number: int = Field(nullable=False)
    title: str = Field(max_length=TITLE_MAX_LENGTH, nullable=False)
    description: str | None = Field(default=None, sa_type=Text, nullable=True)
    is_completed: bool = Field(default=False, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    version: int = Field(default=1, nullable=False)
    # The instant that sorts and filters; a due given as a day is that day's end in the
    # user's zone, and `due_date` keeps the day itself, shown as such wherever one is.
    due: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    due_date: date | None = Field(default=None, nullable=True)
    wait: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    priority: int = Field(
        default=NO_PRIORITY,
        sa_type=SmallInteger,
        nullable=False,
        sa_column_kwargs={"server_default": "0"},
    )
    # Byte order on PostgreSQL (`COLLATE "C"`), as on SQLite: `house.` < `house/` holds for
    # the range that finds a project and its subprojects.
    project: str | None = Field(
        default=None,
        sa_type=String(PROJECT_MAX_LENGTH).with_variant(
            String(PROJECT_MAX_LENGTH, collation="C"), "postgresql"
        ),
        nullable=True,
    )
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # Title and description, case-folded by the service: what text search reads.
    search_text: str = Field(
        default="", sa_type=Text, nullable=False, sa_column_kwargs={"server_default": ""}
    )
    # What an import could not map, kept verbatim and exported again.
    extra: dict[str, Any] | None = Field(default=None, sa_type=JSON, nullable=True)

    # Loaded with the tasks, one query per batch of them. Spelled as SQLAlchemy
    # relationships: SQLModel cannot read `list[TaskTag]` from a postponed annotation.
    tag_rows: Mapped[list[TaskTag]] = Relationship(
        sa_relationship=relationship(
            "TaskTag",
            lazy="selectin",
            cascade="all, delete-orphan",
            passive_deletes=True,
            order_by="TaskTag.tag",
        )
    )
    note_rows: Mapped[list[TaskNote]] = Relationship(
        sa_relationship=relationship(
            "TaskNote",
            lazy="selectin",
            cascade="all, delete-orphan",
            passive_deletes=True,
            order_by="(TaskNote.created_at, TaskNote.id)",
        )
    )

    @property
    def tags(self) -> list[str]:
        return sorted(row.tag for row in self.tag_rows)

    @property
    def status(self) -> str:
        return task_status(self.is_completed, self.wait)


def task_status(is_completed: bool, wait: datetime | None) -> str:
    """Derived, never stored: waiting is a pending task whose wait is still ahead."""
    if is_completed:
        return "done"
    if wait is not None and wait > utcnow():
        return "waiting"
    return "pending"


class TaskTag(_Model, table=True):
    __tablename__ = "task_tags"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "task_id"], ["tasks.user_id", "tasks.id"], ondelete="CASCADE"
        ),
        Index(None, "user_id", "tag", "task_id"),
    )

    user_id: uuid.UUID = Field(primary_key=True)
    task_id: uuid.UUID = Field(primary_key=True)
    tag: str = Field(primary_key=True, max_length=TAG_MAX_LENGTH)


class TaskNote(_Model, table=True):
    """An annotation: appended, shown oldest first, never edited."""

    __tablename__ = "task_notes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "task_id"], ["tasks.user_id", "tasks.id"], ondelete="CASCADE"
        ),
    )

    user_id: uuid.UUID = Field(primary_key=True)
    task_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    text: str = Field(sa_type=Text, nullable=False)


class NoteRecord(NamedTuple):
    """A note as the read path gives it: a plain value, no session behind it."""

    id: uuid.UUID
    created_at: datetime
    text: str


class TaskRecord(NamedTuple):
    """A task as the read path gives it (`get_task`, `list_tasks`, `iter_tasks`…): the
    columns of one row, its tags and notes, under the names a `Task` has.

    Built from rows, not by the ORM: a listing page costs what its rows cost, not what
    50 tracked objects do. Read-only; a write loads its `Task` under a lock. A named
    tuple, as building one is a tuple's cost (a frozen dataclass's `__init__` costs ~30
    times more, a millisecond for a page of 50).
    """

    user_id: uuid.UUID
    id: uuid.UUID
    number: int
    title: str
    description: str | None
    is_completed: bool
    created_at: datetime
    updated_at: datetime
    version: int
    due: datetime | None
    due_date: date | None
    wait: datetime | None
    priority: int
    project: str | None
    completed_at: datetime | None
    extra: dict[str, Any] | None
    # Sorted, as `Task.tags`; notes oldest first, as `Task.note_rows`.
    tags: list[str]
    note_rows: list[NoteRecord]

    @property
    def status(self) -> str:
        return task_status(self.is_completed, self.wait)


# The columns a `TaskRecord` is made of, in its fields' order (but the tags and notes).
RECORD_COLUMNS: tuple[str, ...] = TaskRecord._fields[:-2]
# What every renderer of a task accepts: a task being written, or one read.
AnyTask = Task | TaskRecord
AnyNote = TaskNote | NoteRecord


ORIGIN_MAX_LENGTH = 16
SUMMARY_MAX_LENGTH = 255


class Change(_Model, table=True):
    """One command or request that changed tasks: the unit that `todo undo` reverts."""

    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint("kind IN ('change', 'undo', 'redo')", name="kind_known"),
        CheckConstraint("id >= 1", name="id_positive"),
    )

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    origin: str = Field(max_length=ORIGIN_MAX_LENGTH, nullable=False)
    kind: str = Field(default="change", max_length=8, nullable=False)
    summary: str = Field(max_length=SUMMARY_MAX_LENGTH, nullable=False)
    # The change this one reverted (an undo or a redo), and the change that reverted
    # this one; ids of the same user. Not foreign keys: pruning may remove either end.
    undoes: int | None = Field(default=None, nullable=True)
    undone_by: int | None = Field(default=None, nullable=True)


class ChangeItem(_Model, table=True):
    """One task of a change: its image before (None if the change created it) and the
    version the change left it at (None if the change deleted it)."""

    __tablename__ = "change_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "change_id"], ["changes.user_id", "changes.id"], ondelete="CASCADE"
        ),
        # `todo log REF`: one task's changes, newest first.
        Index(None, "user_id", "task_id", "change_id"),
    )

    user_id: uuid.UUID = Field(primary_key=True)
    change_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    task_id: uuid.UUID = Field(primary_key=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON, nullable=True)
    after_version: int | None = Field(default=None, nullable=True)


def build_validators() -> None:
    """Build every model's validator now, in a process that will serve many requests: the
    API, whose worker threads would otherwise race to build one on its first use, and
    the warm server, whose forked children would each build it again."""
    models: tuple[type[SQLModel], ...] = (User, Task, TaskTag, TaskNote, Change, ChangeItem)
    models += (TaskCreate, TaskReplace, TaskUpdate, NotePublic, TaskPublic)
    for model in models:
        model.model_rebuild()


def isoformat(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, the same on every backend."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _iso_or_none(moment: datetime | None) -> str | None:
    return isoformat(moment) if moment is not None else None


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text is not None else None


def priority_letter(value: int) -> str | None:
    return next((letter for letter, stored in PRIORITIES.items() if stored == value), None)


def _priority_value(letter: str | None) -> int:
    return PRIORITIES[letter] if letter is not None else NO_PRIORITY


def note_to_json(note: AnyNote) -> dict[str, Any]:
    return {"id": str(note.id), "created_at": isoformat(note.created_at), "text": note.text}


def _notes(images: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [
        {"id": uuid.UUID(n["id"]), "created_at": _instant(n["created_at"]), "text": n["text"]}
        for n in images or []
    ]


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class TaskField:
    """One field of a task's JSON form (SPEC → Data model, Task attributes).

    `out` renders it from a task; `back` turns an image's value into what
    `service.tasks.write_task` writes (None: derived, never written); `restored`: an undo
    puts it back (identity and bookkeeping are not put back, they move forward).
    """

    name: str
    out: Callable[[AnyTask], Any]
    back: Callable[[Any], Any] | None = _same
    restored: bool = True


# The one list of a task's fields. Their order is the JSON's; fields are added, never
# renamed or removed. An image recorded before a field existed lacks it: `back(None)`.
TASK_FIELDS: tuple[TaskField, ...] = (
    TaskField("id", lambda t: str(t.id), uuid.UUID, restored=False),
    TaskField("user_id", lambda t: str(t.user_id), uuid.UUID, restored=False),
    TaskField("number", lambda t: t.number, restored=False),
    TaskField("title", lambda t: t.title),
    TaskField("description", lambda t: t.description),
    TaskField("is_completed", lambda t: t.is_completed),
    TaskField("version", lambda t: t.version, restored=False),
    TaskField("created_at", lambda t: isoformat(t.created_at), _instant),
    TaskField("updated_at", lambda t: isoformat(t.updated_at), _instant, restored=False),
    TaskField("due", lambda t: _iso_or_none(t.due), _instant),
    TaskField(
        "due_date", lambda t: t.due_date.isoformat() if t.due_date is not None else None, _day
    ),
    TaskField("wait", lambda t: _iso_or_none(t.wait), _instant),
    TaskField("priority", lambda t: priority_letter(t.priority), _priority_value),
    TaskField("project", lambda t: t.project),
    TaskField("tags", lambda t: t.tags, lambda tags: list(tags or [])),
    TaskField("completed_at", lambda t: _iso_or_none(t.completed_at), _instant),
    TaskField("status", lambda t: t.status, None),
    TaskField("notes", lambda t: [note_to_json(n) for n in t.note_rows], _notes),
    TaskField("extra", lambda t: t.extra),
)
# Written through relationships rather than columns.
RELATED_FIELDS = frozenset({"tags", "notes"})


def task_to_json(task: AnyTask) -> dict[str, Any]:
    """SPEC's JSON form of a task; fields are added over time, never renamed or removed."""
    return {field.name: field.out(task) for field in TASK_FIELDS}


def task_from_json(image: dict[str, Any]) -> dict[str, Any]:
    """The values `write_task` writes to make a task as its JSON image (a change's before)."""
    return {
        field.name: field.back(image.get(field.name))
        for field in TASK_FIELDS
        if field.back is not None
    }


def restored_fields() -> frozenset[str]:
    return frozenset(f.name for f in TASK_FIELDS if f.restored and f.back is not None)


def change_to_json(change: Change, task_ids: list[uuid.UUID]) -> dict[str, Any]:
    """A change as `todo history --json` and `GET …/changes` show it."""
    return {
        "id": change.id,
        "at": isoformat(change.at),
        "origin": change.origin,
        "kind": change.kind,
        "summary": change.summary,
        "undoes": change.undoes,
        "undone_by": change.undone_by,
        "task_ids": [str(task_id) for task_id in task_ids],
    }


def user_to_json(user: User) -> dict[str, Any]:
    return {"id": str(user.id), "name": user.name, "created_at": isoformat(user.created_at)}


class _Strict(_Model):
    """Input shapes reject unknown fields instead of silently dropping them."""

    model_config = ConfigDict(extra="forbid")


class TaskCreate(_Strict):
    """A new task. `due` and `wait` are date phrases (`fri`, `2026-12-04`, ISO instants),
    read in the acting user's zone; `priority` is H, M, L or null."""

    title: str
    description: str | None = None
    due: str | None = None
    wait: str | None = None
    priority: str | None = None
    project: str | None = None
    tags: list[str] = []


class TaskReplace(TaskCreate):
    """A full replacement (HTTP PUT): omitted optional fields go back to their defaults."""

    is_completed: bool = False


class TaskUpdate(_Strict):
    """A partial update (HTTP PATCH, `todo edit`): only the fields given change.

    `tags` replaces the tags; `add_tags` / `remove_tags` change some of them.
    """

    title: str | None = None
    description: str | None = None
    is_completed: bool | None = None
    due: str | None = None
    wait: str | None = None
    priority: str | None = None
    project: str | None = None
    tags: list[str] | None = None
    add_tags: list[str] | None = None
    remove_tags: list[str] | None = None


class NotePublic(_Model):
    id: uuid.UUID
    created_at: datetime
    text: str


class TaskPublic(_Model):
    id: uuid.UUID
    user_id: uuid.UUID
    number: int
    title: str
    description: str | None
    is_completed: bool
    version: int
    created_at: datetime
    updated_at: datetime
    due: datetime | None
    due_date: date | None
    wait: datetime | None
    priority: str | None
    project: str | None
    tags: list[str]
    completed_at: datetime | None
    status: str
    notes: list[NotePublic]
    extra: dict[str, Any] | None
