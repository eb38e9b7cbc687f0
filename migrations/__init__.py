"""Alembic environment, shipped inside the wheel as `todo_cli.migrations`."""
