"""Reads on the event loop, for the API's task GET: no worker thread, no session.

A GET through a session hops to a worker thread and back, and runs each statement
through SQLAlchemy's execution layer: most of what a request costs the server's CPU.
Here the same reading (`service.tasks.Reading`: the service's own statements, every one
scoped by the owner) runs on a few async psycopg connections owned by the database
runtime (`db.Database.async_reads`), each statement's shape compiled once by the
engine's own dialect (by its cache key, as SQLAlchemy's own cache does), its values bound
and its rows read through its columns' own processors, so a row is what the session
would have returned.

Only the plain case is served here. A connection idle for longer than
`db.PING_AFTER_IDLE` is pinged first, and one whose socket has something to read (a
server saying goodbye) is dropped, as the session path's pool does. With none ready (the
first requests, the database down, a connection that failed), `run` raises
`Unavailable` and the caller runs the same reading through a session
(`Database.session`), which owns retrying, the schema check and turning a failure into
the user's error; so do the requests that were waiting for a connection when one
failed. A read changes nothing, so running it again there is harmless. Connections are
opened in the background, one at a time, never on a request's time, up to the pool's
size: a server process holds that many on top of its session pool.

Autocommit, as the sync engine's connections (`pg_dialect`): each statement reads its
own snapshot, as a read-only session's statements do.
"""

from __future__ import annotations

import asyncio
import math
import select
import time
from collections import OrderedDict, deque, namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import psycopg

from todo_cli.config import DatabaseURL
from todo_cli.db import PING_AFTER_IDLE, pg_connect_args
from todo_cli.models import PLAN_EACH_TIME

if TYPE_CHECKING:
    from collections.abc import Generator

    from sqlalchemy.engine import Engine
    from sqlalchemy.sql import Executable

_T = TypeVar("_T")
# After a failed connection attempt, the next waits this long: during an outage the
# requests go to the session path, whose own attempts say what is wrong.
RECONNECT_AFTER = 1.0
# Statements compiled and kept, by the statement object, the least recently used pushed
# out: the service's prebuilt ones stay; one built per request (a UUID prefix) goes.
COMPILED_KEPT = 64
_IDLE = psycopg.pq.TransactionStatus.IDLE


class Unavailable(Exception):
    """No fresh connection, or the one used failed: run the reading through a session."""


_RowReader = Callable[[Sequence[Any]], Any]


@dataclass
class _Compiled:
    bind: Callable[[Mapping[str, Any], Any], tuple[str, Any]]
    shape: Any  # the rows' namedtuple class
    types: list[Any]  # the columns' SQLAlchemy types
    row: _RowReader | None = None  # once the first answer has told the columns' types


class AsyncReads:
    """A few async psycopg connections of one database, and the readings run on them."""

    def __init__(
        self, engine: Engine, url: DatabaseURL, *, size: int, connect_timeout: float
    ) -> None:
        self._dialect = engine.dialect
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        self._cargs: Sequence[Any] = cargs
        self._cparams: dict[str, Any] = {
            # A connect_timeout given in the URL itself wins over ours, as in `db`.
            "connect_timeout": max(1, math.ceil(connect_timeout)),
            **cparams,
            **pg_connect_args(url),
            "autocommit": True,
        }
        self._size = size
        self._compiled: OrderedDict[Executable, _Compiled] = OrderedDict()
        self._reset(None)
        # Readings run here, for tests and `bench/`: those that fell back are not counted.
        self.served = 0

    def _reset(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._idle: list[tuple[psycopg.AsyncConnection[Any], float]] = []
        self._waiting: deque[asyncio.Future[psycopg.AsyncConnection[Any] | None]] = deque()
        self._count = 0  # open, in use or being opened
        self._opening: asyncio.Task[None] | None = None
        self._retry_at = 0.0

    async def run(self, reading: Generator[tuple[Executable, Mapping[str, Any]], Any, _T]) -> _T:
        """The reading's result; `Unavailable` if it must run through a session instead.

        Errors the reading raises (a task not found, an ambiguous reference) are raised
        as they are."""
        connection = await self._take()
        try:
            result = await self._drive(connection, reading)
        except BaseException:
            reading.close()
            self._settle(connection)
            raise
        self._give_back(connection)
        self.served += 1
        return result

    async def _drive(
        self,
        connection: psycopg.AsyncConnection[Any],
        reading: Generator[tuple[Executable, Mapping[str, Any]], Any, _T],
    ) -> _T:
        statement, values = next(reading)
        while True:
            compiled, key = self._compile(statement)
            sql, bound = compiled.bind(values, key)
            # A statement that must be planned for its values is never prepared.
            prepare = False if statement.get_execution_options().get(PLAN_EACH_TIME) else None
            try:
                cursor = await connection.execute(sql, bound, prepare=prepare)
                row = compiled.row
                if row is None:
                    description = cursor.description or ()
                    row = compiled.row = _row_reader(compiled, description, self._dialect)
                rows = [row(raw) for raw in await cursor.fetchall()]
            except psycopg.Error as error:
                _finish(connection)
                raise Unavailable(str(error)) from error
            try:
                statement, values = reading.send(rows)
            except StopIteration as done:
                result: _T = done.value
                return result

    async def close(self) -> None:
        """Close every idle connection (at shutdown); those in use close when returned.
        Whoever still waits for one goes to the session path."""
        if self._opening is not None:
            self._opening.cancel()
        idle, self._idle = self._idle, []
        self._size = 0
        self._release_waiters()
        for connection, _ in idle:
            self._count -= 1
            await connection.close()

    # --- connections ---------------------------------------------------------------------

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Connections belong to the loop they were made on (a test client starts one
            # per client, one after the other; loops running at once are not supported):
            # start afresh on this one.
            self._forget()
            self._reset(loop)
        while self._idle:
            connection, used = self._idle.pop()
            quiet = _quiet(connection)
            if quiet and time.monotonic() - used <= PING_AFTER_IDLE:
                return connection
            if quiet:
                # Idle for a while: it may have died unheard (a network drop, an idle
                # timeout), so a ping first, as the session path's pool does.
                try:
                    await connection.execute("SELECT 1")
                except psycopg.Error:
                    pass
                except BaseException:  # cancelled meanwhile: the connection is not lost
                    self._settle(connection)
                    raise
                else:
                    return connection
            self._discard(connection)
        if self._size == 0:
            raise Unavailable("closed")
        if self._count < self._size:
            self._open_later()
            raise Unavailable("no connection ready yet")
        waiter: asyncio.Future[psycopg.AsyncConnection[Any] | None] = loop.create_future()
        self._waiting.append(waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            # Cancelled after a connection was handed over: pass it on.
            if waiter.done() and not waiter.cancelled():
                late = waiter.result()
                if late is not None:
                    self._give_back(late)
            raise
        if handed is None:
            raise Unavailable("a connection failed")
        return handed

    def _settle(self, connection: psycopg.AsyncConnection[Any]) -> None:
        """After an error or a cancellation: used again if it is idle (the reading's own
        error, a cancelled statement psycopg has cancelled on the server), else dropped."""
        if connection.closed or connection.broken or connection.info.transaction_status != _IDLE:
            self._discard(connection)
        else:
            self._give_back(connection)

    def _give_back(self, connection: psycopg.AsyncConnection[Any]) -> None:
        if connection.closed or self._count > self._size:  # failed, or closing down
            self._discard(connection)
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append((connection, time.monotonic()))

    def _discard(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self._count -= 1
        _finish(connection)
        # Those waiting would wait for a connection that may never come (the database
        # may be down): they go to the session path, which says what is wrong.
        self._release_waiters()

    def _release_waiters(self) -> None:
        waiting, self._waiting = self._waiting, deque()
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(None)

    def _open_later(self) -> None:
        if self._opening is not None or time.monotonic() < self._retry_at:
            return
        assert self._loop is not None
        self._count += 1
        self._opening = self._loop.create_task(self._open())

    async def _open(self) -> None:
        try:
            connection = await psycopg.AsyncConnection.connect(*self._cargs, **self._cparams)
        except BaseException as error:  # the database down, or cancelled at shutdown
            self._count -= 1
            self._retry_at = time.monotonic() + RECONNECT_AFTER
            self._release_waiters()
            if not isinstance(error, Exception):
                raise
            return
        finally:
            self._opening = None
        self._give_back(connection)

    def _forget(self) -> None:
        for connection, _ in self._idle:
            _finish(connection)

    # --- statements ----------------------------------------------------------------------

    def _compile(self, statement: Executable) -> tuple[_Compiled, Any]:
        """The compiled form of the statement's shape, and the values written into this
        one (a query built per request compiles once per shape, as SQLAlchemy's own
        cache does it, by the statement's cache key)."""
        key = statement._generate_cache_key()  # type: ignore[attr-defined]
        if key is None:  # a statement that cannot be cached
            return _compiled(statement, self._dialect, None), None
        compiled = self._compiled.get(key.key)
        if compiled is not None:
            self._compiled.move_to_end(key.key)
        else:
            compiled = self._compiled[key.key] = _compiled(statement, self._dialect, key)
            if len(self._compiled) > COMPILED_KEPT:
                self._compiled.popitem(last=False)
        return compiled, key


def _compiled(statement: Executable, dialect: Any, key: Any) -> _Compiled:
    """The statement's SQL for psycopg, how its values are bound, how a row is read."""
    compiled: Any = statement._compiler(  # type: ignore[attr-defined]
        dialect, cache_key=key, column_keys=None, for_executemany=False, schema_translate_map=None
    )
    processors = compiled._bind_processors
    escaped = compiled.escaped_bind_names
    expands = bool(compiled.post_compile_params or compiled.literal_execute_params)

    def bind(values: Mapping[str, Any], this: Any) -> tuple[str, Any]:
        # As SQLAlchemy's own execution: the values of this statement (`this`, its cache
        # key: the values written into it, and those given by `.params()`, which
        # SQLAlchemy 2.1 keeps there), lists expanded into one parameter each
        # (`IN (…)`), processed by their names and sent by the names the SQL spells.
        given = getattr(this, "params", None)
        bound: dict[str, Any] = compiled.construct_params(
            values,
            extracted_parameters=this.bindparams if this is not None else None,
            escape_names=False,
            **({"_collected_params": given} if given else {}),
        )
        sql, process = compiled.string, processors
        if expands:
            state = compiled._process_parameters_for_postcompile(bound)
            sql, bound, process = (
                state.statement,
                state.parameters,
                {**processors, **state.processors},
            )
        for name, processor in process.items():
            if name in bound:
                bound[name] = processor(bound[name])
        if escaped:
            bound = {escaped.get(name, name): value for name, value in bound.items()}
        return sql, bound

    columns = compiled._result_columns
    shape = namedtuple("Row", [entry.keyname for entry in columns], rename=True)  # type: ignore[misc]
    return _Compiled(bind, shape, [entry.type for entry in columns])


def _row_reader(compiled: _Compiled, description: Sequence[Any], dialect: Any) -> _RowReader:
    """How the rows of a statement are read, from the types the server answered with
    (some processors depend on them, as in SQLAlchemy's own result)."""
    readers = [
        kind._cached_result_processor(dialect, column.type_code)
        for kind, column in zip(compiled.types, description, strict=True)
    ]
    shape = compiled.shape
    if not any(readers):
        return cast("_RowReader", shape._make)

    def row(raw: Sequence[Any]) -> Any:
        return shape._make(
            value if read is None else read(value) for read, value in zip(readers, raw, strict=True)
        )

    return row


def _quiet(connection: psycopg.AsyncConnection[Any]) -> bool:
    """Open, and nothing to read on its socket: an idle connection hears from the server
    only when it is being closed (a restart, `pg_terminate_backend`) or for a notice."""
    if connection.closed:
        return False
    try:
        poller = select.poll()  # not select(): it refuses descriptors above 1,023
        poller.register(connection.fileno(), select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def _finish(connection: psycopg.AsyncConnection[Any]) -> None:
    """Close without waiting: nothing is sent but the goodbye."""
    try:
        connection.pgconn.finish()
    except Exception:  # already gone
        pass
