"""Task attributes (SPEC → Task attributes): due, wait, priority, project, tags, notes.

New columns on `tasks` (`due`, `due_date`, `wait`, `priority`, `project`, `completed_at`,
`search_text`, `extra`), the tables `task_tags` and `task_notes`, `users.time_zone`, and
the indexes the filters read, each starting with `user_id`. Existing tasks keep
everything: completed ones get `completed_at = updated_at`, and every task its
`search_text` (title and description, case-folded as the service writes it).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
_PROJECT = sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql")


def _pending() -> sa.ColumnElement[bool]:
    # As the service's queries spell it (see migration 0003).
    return ~sa.column("is_completed", sa.Boolean())


def _done() -> sa.ColumnElement[bool]:
    # `= 1` on SQLite, `= true` on PostgreSQL: SQLite matches a partial index only when
    # the query repeats its condition term for term, and `IS 1` would not.
    return sa.column("is_completed", sa.Boolean()) == sa.true()


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: SQLite's batch mode would rebuild the tables.
    for column in (
        sa.Column("due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("wait", sa.DateTime(timezone=True), nullable=True),
        sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("project", _PROJECT, nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
        sa.Column("extra", sa.JSON(), nullable=True),
    ):
        op.add_column("tasks", column)
    op.add_column("users", sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.create_table(
        "task_tags",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id", "task_id"],
            ["tasks.user_id", "tasks.id"],
            name=op.f("fk_task_tags_user_id_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "task_id", "tag", name=op.f("pk_task_tags")),
    )
    op.create_index(
        op.f("ix_task_tags_user_id_tag_task_id"), "task_tags", ["user_id", "tag", "task_id"]
    )
    op.create_table(
        "task_notes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id", "task_id"],
            ["tasks.user_id", "tasks.id"],
            name=op.f("fk_task_notes_user_id_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "task_id", "id", name=op.f("pk_task_notes")),
    )
    op.create_index(
        "ix_tasks_user_id_due_pending",
        "tasks",
        ["user_id", "due"],
        postgresql_where=_pending(),
        sqlite_where=_pending(),
    )
    op.create_index(
        "ix_tasks_user_id_completed_at_done",
        "tasks",
        ["user_id", "completed_at"],
        postgresql_where=_done(),
        sqlite_where=_done(),
    )
    op.create_index(op.f("ix_tasks_user_id_project"), "tasks", ["user_id", "project"])
    _fill_existing_rows()


def _fill_existing_rows() -> None:
    tasks = sa.table(
        "tasks",
        sa.column("user_id", sa.Uuid()),
        sa.column("id", sa.Uuid()),
        sa.column("title", sa.String()),
        sa.column("description", sa.Text()),
        sa.column("is_completed", sa.Boolean()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("completed_at", sa.DateTime(timezone=True)),
        sa.column("search_text", sa.Text()),
    )
    connection = op.get_bind()
    connection.execute(tasks.update().where(_done()).values(completed_at=tasks.c.updated_at))
    # Python's case folding, which SQL's lower() does not match (ß, ﬁ, Greek final sigma),
    # a batch at a time in key order, so a million tasks never sit in memory at once.
    update = (
        tasks.update()
        .where(tasks.c.user_id == sa.bindparam("b_user"), tasks.c.id == sa.bindparam("b_id"))
        .values(search_text=sa.bindparam("b_text"))
    )
    query = sa.select(tasks.c.user_id, tasks.c.id, tasks.c.title, tasks.c.description)
    query = query.order_by(tasks.c.user_id, tasks.c.id).limit(_BATCH)
    after: tuple[object, object] | None = None
    while True:
        page = query
        if after is not None:
            last = sa.tuple_(*(sa.literal(value, sa.Uuid()) for value in after))
            page = page.where(sa.tuple_(tasks.c.user_id, tasks.c.id) > last)
        rows = connection.execute(page).all()
        if not rows:
            return
        connection.execute(
            update,
            [
                {
                    "b_user": user_id,
                    "b_id": task_id,
                    "b_text": f"{title}\n{description or ''}".casefold(),
                }
                for user_id, task_id, title, description in rows
            ],
        )
        after = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    op.drop_index(op.f("ix_tasks_user_id_project"), table_name="tasks")
    op.drop_index("ix_tasks_user_id_completed_at_done", table_name="tasks")
    op.drop_index("ix_tasks_user_id_due_pending", table_name="tasks")
    op.drop_table("task_notes")
    op.drop_index(op.f("ix_task_tags_user_id_tag_task_id"), table_name="task_tags")
    op.drop_table("task_tags")
    op.drop_column("users", "time_zone")
    for name in (
        "extra",
        "search_text",
        "completed_at",
        "project",
        "priority",
        "wait",
        "due_date",
        "due",
    ):
        op.drop_column("tasks", name)
