"""Check constraints on tasks: what the service guarantees, the database now enforces.

Positive numbers and versions, and a title of 1–255 characters (SQLite does not enforce
VARCHAR lengths by itself). On SQLite, batch mode rebuilds the table and copies every row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKS = {
    "ck_tasks_number_positive": "number >= 1",
    "ck_tasks_version_positive": "version >= 1",
    "ck_tasks_title_length": "length(title) BETWEEN 1 AND 255",
}


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name, condition in CHECKS.items():
            batch.create_check_constraint(op.f(name), condition)


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name in CHECKS:
            batch.drop_constraint(op.f(name), type_="check")
