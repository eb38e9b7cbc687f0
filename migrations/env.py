"""Alembic environment.

`todo db …` (todo_cli.db) hands over an open connection in `config.attributes`, made by
the same engine factory as the application, so SQLite gets its locking and PostgreSQL its
connect retry. Run directly with the `alembic` command (developers), the URL comes from
the settings instead. Either way the URL never passes through Alembic's ini parser, where
a '%' in a password would break interpolation.
"""

from __future__ import annotations

import warnings
from typing import Any

from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from todo_cli import models  # noqa: F401 - registers the tables on SQLModel.metadata
from todo_cli.config import DatabaseURL, get_settings
from todo_cli.db import MIGRATION_LOCK_KEY

config = context.config

# SQLite cannot reflect the expression index on lower(users.name). Batch mode reflects the
# users table whenever it rebuilds a table that references it, and would warn to every
# user running `todo db upgrade`; a test checks that the index survives every migration.
warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based")


def _url() -> DatabaseURL:
    url = config.attributes.get("url")
    return url if isinstance(url, DatabaseURL) else get_settings().migration_url()


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=SQLModel.metadata,
        render_as_batch=_url().backend == "sqlite",
        compare_type=True,
        **kwargs,
    )


def _run(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two `todo db upgrade` at once: the second waits here, then finds the
            # schema already at head and does nothing. (`todo db` took the lock already,
            # before looking at the schema; a transaction may take it again.)
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


def run_migrations_offline() -> None:
    _configure(url=_url().reveal(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url().reveal())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
