"""The psycopg dialect of todo's PostgreSQL runtime: set-up and transactions in few round trips.

Against a remote database every round trip is a trip across the network (~20 ms from a
laptop to Neon), and SQLAlchemy's stock dialect spends many on things todo knows or
does not need. `db.make_engine` uses this one (through SQLAlchemy's dialect registry, as
`postgresql+todo_psycopg`) for every engine but the migrations'. It differs in two ways:

- **Connecting costs only the connection.** The stock first connect asks the server six
  questions in nine round trips. Here the server version and `standard_conforming_strings`
  come from what the server reported at start-up (psycopg keeps it), the hstore lookup is
  off (`use_native_hstore=False`: todo has no hstore column), the default schema is not
  asked for (only reflection across schemas needs it, and this runtime never does that;
  migrations use the stock dialect), and the default isolation level is what todo sets:
  AUTOCOMMIT.
- **A transaction begins only when it must, together with its first statement.**
  Connections are in autocommit. A statement that only reads, outside a transaction
  marked as a write (`models.WRITE_TRANSACTION`), runs on its own: no BEGIN and no
  ROLLBACK around it (at READ COMMITTED a statement sees its own snapshot inside a
  transaction too, so a read sees what it would have seen). Any other statement (a
  write, a locking read, DDL, a savepoint) or any statement of a write transaction, met
  on a connection with no transaction open, starts one: its BEGIN is sent in the same
  pipeline as the statement, so it costs no round trip of its own. COMMIT and ROLLBACK
  are psycopg's, sent only when a transaction is open. A server-side cursor (a streamed
  result) needs a transaction too: it gets a BEGIN first, and the transaction ends with
  the session.

A statement marked `models.PLAN_EACH_TIME` (a list or count filtered by tags) is also
never prepared, so that PostgreSQL plans it for its values every time.

Both keep PgBouncer's transaction mode working: a transaction's messages are one
pipeline up to its first Sync, and everything else is a single statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from todo_cli.models import PLAN_EACH_TIME, WRITE_TRANSACTION

NAME = "postgresql.todo_psycopg"
DRIVERNAME = "postgresql+todo_psycopg"

# Statements that only read when nothing in them writes or locks.
_READS = frozenset({"SELECT", "SHOW", "VALUES", "TABLE", ";", "WITH"})
# The stock dialect's methods, called from the overrides (SQLAlchemy's are untyped).
_stock: Any = PGDialect_psycopg
_WRITES_OR_LOCKS = re.compile(
    r"\b(?:INSERT|UPDATE|DELETE|MERGE)\b|\bFOR\s+(?:NO\s+KEY\s+UPDATE|KEY\s+SHARE|SHARE)\b",
    re.IGNORECASE,
)


def only_reads(statement: str) -> bool:
    """Whether a statement can run outside a transaction with the same effect as inside."""
    words = statement.lstrip(" \t\n(").split(None, 1)
    first = words[0].upper() if words else ";"
    return first in _READS and _WRITES_OR_LOCKS.search(statement) is None


class TodoPsycopgDialect(PGDialect_psycopg):
    """PGDialect_psycopg whose first connect asks nothing and whose BEGINs ride along."""

    supports_statement_cache = True

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("use_native_hstore", False)
        kwargs.setdefault("isolation_level", "AUTOCOMMIT")
        _stock.__init__(self, **kwargs)

    # --- the first connect -------------------------------------------------------------

    def _get_server_version_info(self, connection: Any) -> Any:
        version = connection.connection.dbapi_connection.info.server_version
        if not version:  # not reported: ask, as the stock dialect does
            return _stock._get_server_version_info(self, connection)
        if version >= 100_000:  # 15.20 is 150020
            return (version // 10_000, version % 10_000)
        return (version // 10_000, version // 100 % 100, version % 100)

    def _get_default_schema_name(self, connection: Any) -> Any:
        return None

    def get_default_isolation_level(self, dbapi_conn: Any) -> Any:
        return "AUTOCOMMIT"

    def _set_backslash_escapes(self, connection: Any) -> None:
        info = connection.connection.dbapi_connection.info
        value = info.parameter_status("standard_conforming_strings")
        if value is None:
            _stock._set_backslash_escapes(self, connection)
        else:
            self._backslash_escapes = value == "off"

    # --- transactions ------------------------------------------------------------------

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        def run() -> None:
            if (
                context is not None
                and context.execution_options.get(PLAN_EACH_TIME)
                and not isinstance(cursor, psycopg.ServerCursor)  # which is never prepared
            ):
                # psycopg's own flag: sent unprepared, planned with these values.
                cursor.execute(statement, parameters, prepare=False)
            else:
                _stock.do_execute(self, cursor, statement, parameters, context)

        _begun_with(cursor, statement, context, run)

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        _begun_with(
            cursor,
            statement,
            context,
            lambda: _stock.do_execute_no_params(self, cursor, statement, context),
        )

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        _begun_with(
            cursor,
            statement,
            context,
            lambda: _stock.do_executemany(self, cursor, statement, parameters, context),
        )


def _begun_with(cursor: Any, statement: str, context: Any, run: Callable[[], None]) -> None:
    """Run a statement, first opening the transaction it needs, if any, in one round trip."""
    connection: psycopg.Connection[Any] = cursor.connection
    if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE or (
        not (context is not None and context.execution_options.get(WRITE_TRANSACTION))
        and only_reads(statement)
        and not isinstance(cursor, psycopg.ServerCursor)
    ):
        run()
        return
    if isinstance(cursor, psycopg.ServerCursor):
        # DECLARE needs a transaction, and psycopg declares outside any pipeline.
        connection.execute("BEGIN")
        run()
        return
    try:
        with connection.pipeline():
            connection.execute("BEGIN")
            run()
    except Exception as exc:
        interrupted = exc.__context__
        if isinstance(interrupted, BaseException) and not isinstance(interrupted, Exception):
            # A signal's exception (the warm server's SIGTERM) arrived while the pipeline
            # waited for the server; psycopg then complains that it cannot leave a busy
            # pipeline. The interruption is what happened: SQLAlchemy invalidates the
            # connection for it, as it does when a plain statement is interrupted.
            raise interrupted from None
        raise
