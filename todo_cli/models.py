"""Tables (SPEC → Data model) and the public shapes derived from them.

`user_id` leads every key and index of `tasks`, so a user's rows are one index range and
the table can later be distributed by `user_id` without a schema change. The schema
itself is created by the Alembic migrations; a test checks that they agree with this file.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

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
USER_NAME_MAX_LENGTH = 64
# Session info key naming where a session's writes come from (`cli`, `api`): the entry
# point's database runtime sets it, the change log records it.
ORIGIN_KEY = "todo.origin"


def utcnow() -> datetime:
    return datetime.now(UTC)


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


class User(SQLModel, table=True):
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


# Names are unique regardless of case ("Alice" and "alice" are one user).
Index("uq_users_name_lower", func.lower(User.__table__.c.name), unique=True)  # type: ignore[attr-defined]


class Task(SQLModel, table=True):
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


# What a change did, as `changes.kind`: an ordinary write, the undo of a change, or the
# redo of an undone one (the undo of an undo).
CHANGE_KINDS = ("change", "undo", "redo")
ORIGIN_MAX_LENGTH = 16
SUMMARY_MAX_LENGTH = 255


class Change(SQLModel, table=True):
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


class ChangeItem(SQLModel, table=True):
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


def isoformat(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, the same on every backend."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def task_to_json(task: Task) -> dict[str, Any]:
    """SPEC's JSON form of a task; fields are added over time, never renamed or removed."""
    return {
        "id": str(task.id),
        "user_id": str(task.user_id),
        "number": task.number,
        "title": task.title,
        "description": task.description,
        "is_completed": task.is_completed,
        "version": task.version,
        "created_at": isoformat(task.created_at),
        "updated_at": isoformat(task.updated_at),
    }


def task_from_json(image: dict[str, Any]) -> dict[str, Any]:
    """The column values of a task's JSON form: how a change's before image comes back."""
    return {
        "id": uuid.UUID(image["id"]),
        "user_id": uuid.UUID(image["user_id"]),
        "number": image["number"],
        "title": image["title"],
        "description": image["description"],
        "is_completed": image["is_completed"],
        "version": image["version"],
        "created_at": datetime.fromisoformat(image["created_at"]),
        "updated_at": datetime.fromisoformat(image["updated_at"]),
    }


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


class _Strict(SQLModel):
    """Input shapes reject unknown fields instead of silently dropping them."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class TaskCreate(_Strict):
    title: str
    description: str | None = None


class TaskReplace(_Strict):
    """A full replacement (HTTP PUT): omitted optional fields go back to their defaults."""

    title: str
    description: str | None = None
    is_completed: bool = False


class TaskUpdate(_Strict):
    """A partial update (HTTP PATCH, `todo edit`): only the fields given change."""

    title: str | None = None
    description: str | None = None
    is_completed: bool | None = None


class TaskPublic(SQLModel):
    id: uuid.UUID
    user_id: uuid.UUID
    number: int
    title: str
    description: str | None
    is_completed: bool
    version: int
    created_at: datetime
    updated_at: datetime
