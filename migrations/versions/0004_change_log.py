"""The change log (SPEC → History and undo): what every write did, so it can be undone.

`changes` holds one row per command or request that changed tasks, numbered per user by
`users.last_change_id`; `change_items` one row per task of a change, with the task's
JSON image before it and the version it left. Both are keyed by `user_id` first.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both backends (SQLite's batch mode would rebuild `users` and
    # lose its expression index on lower(name)); the default fills the existing rows.
    op.add_column(
        "users", sa.Column("last_change_id", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_table(
        "changes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("summary", sa.String(length=255), nullable=False),
        sa.Column("undoes", sa.Integer(), nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('change', 'undo', 'redo')", name=op.f("ck_changes_kind_known")
        ),
        sa.CheckConstraint("id >= 1", name=op.f("ck_changes_id_positive")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_changes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_changes")),
    )
    op.create_table(
        "change_items",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("change_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id", "change_id"],
            ["changes.user_id", "changes.id"],
            name=op.f("fk_change_items_user_id_change_id_changes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "change_id", "task_id", name=op.f("pk_change_items")),
    )
    op.create_index(
        op.f("ix_change_items_user_id_task_id_change_id"),
        "change_items",
        ["user_id", "task_id", "change_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_change_items_user_id_task_id_change_id"), table_name="change_items")
    op.drop_table("change_items")
    op.drop_table("changes")
    op.drop_column("users", "last_change_id")
