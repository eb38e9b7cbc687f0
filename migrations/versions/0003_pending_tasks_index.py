"""An index of each user's pending tasks, newest first: the default list and its count.

`todo list` and `GET …/tasks?completed=false` ask for a user's pending tasks ordered by
(created_at, id), newest first, and the table view counts them. A partial index on
(user_id, created_at, id) of the pending rows serves both: the list reads exactly the
rows it returns, in order (no filter, no sort), and the count reads only the index
(PostgreSQL: an index-only scan). Completed tasks, which pile up, stay out of it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_tasks_user_id_created_at_id_pending"


def _pending() -> sa.ColumnElement[bool]:
    # Rendered per backend as the service's queries are: `NOT is_completed` on
    # PostgreSQL, `is_completed = 0` on SQLite (which matches a partial index by its
    # condition's very terms).
    return ~sa.column("is_completed", sa.Boolean())


def upgrade() -> None:
    op.create_index(
        NAME,
        "tasks",
        ["user_id", "created_at", "id"],
        unique=False,
        postgresql_where=_pending(),
        sqlite_where=_pending(),
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="tasks")
