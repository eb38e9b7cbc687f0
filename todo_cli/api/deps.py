"""Per-request dependencies: the database session, the acting user, `If-Match`.

The engine (`db.Database`, the runtime the CLI uses too) is made on the first request that
needs it, never at import time or when the app is created, so a server starts even while
its database is down and recovers by itself once the database is back (the engine pings
pooled connections before use).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache, partial
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic_core import PydanticCustomError
from sqlmodel import Session

from todo_cli import db, service
from todo_cli.api.auth import Subject
from todo_cli.config import Settings
from todo_cli.errors import PreconditionFailed, ValidationError
from todo_cli.service.validation import shortened

_T = TypeVar("_T")

# Worker threads per server process, for the sync routes (and the rare session opened or
# closed off the event loop). Starlette's default is 40; on this code 4 serve about 2.5
# times the requests per second at 1,000 connections: with 40, threads convoy on the
# GIL and 80 database backends share the CPU with them. A thread waiting on the
# database releases the GIL, so a few overlap those waits; more only add switching.
THREADS = 4
# Sized to the threads, so that a thread never waits for a connection; the overflow
# covers sessions closed on the event loop just after their thread moved on.
POOL_SIZE = THREADS
MAX_OVERFLOW = THREADS


def database(settings: Settings) -> db.Database:
    """The app's database runtime, its pool sized to the worker threads."""
    return db.Database.from_settings(
        settings, origin="api", pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW
    )


@asynccontextmanager
async def _session(request: Request, *, read_only: bool) -> AsyncIterator[Session]:
    """One session per request; the service commits, closing rolls back anything left.

    Each hop to a worker thread costs a request time and CPU, so the session is opened
    and closed on the event loop whenever that needs no network round trip: opening
    once the schema is checked; closing a read-only session (nothing to roll back on
    PostgreSQL, a local one on SQLite), or a session whose transaction has ended (the
    service committed). Otherwise (the first requests, a failed write whose transaction
    must be rolled back) it happens in a worker thread.

    A context manager, not a generator the dependencies iterate: an error raised at an
    `async for` body's `yield` leaves the inner generator suspended, and its `finally`
    (the rollback) would wait for the garbage collector, holding the write transaction
    (on SQLite the whole database's write lock) until then.
    """
    database: db.Database = request.app.state.database
    if database.ready:
        session = database.session(read_only=read_only)
    else:
        session = await run_in_threadpool(partial(database.session, read_only=read_only))
    try:
        yield session
    finally:
        if session.in_transaction() and not read_only:
            await run_in_threadpool(session.close)
        else:
            session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The session of a request that writes: its service call is one transaction."""
    async with _session(request, read_only=False) as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """The session of a request that only reads (GET): no transaction around it."""
    async with _session(request, read_only=True) as session:
        yield session


async def read(request: Request, reading: Callable[[], service.Reading[_T]]) -> _T:
    """A reading's result: on the event loop where it can be (`todo_cli.async_reads`), else
    through a read-only session in a worker thread, which also says what is wrong
    when the database is."""
    database: db.Database = request.app.state.database
    reads = database.async_reads
    if reads is not None:
        from todo_cli.async_reads import Unavailable

        try:
            return await reads.run(reading())
        except Unavailable:
            pass

    def through_a_session() -> _T:
        with database.session(read_only=True) as session:
            return service.read(session, reading())

    return await run_in_threadpool(through_a_session)


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]

UserIdPath = Annotated[uuid.UUID, Path(description="The id (UUID) of the user who owns the tasks.")]
TaskIdPath = Annotated[uuid.UUID, Path(description="The id (UUID) of the task.")]


# --- the acting user ---------------------------------------------------------------------
#
# Each route's first dependency names the owner whose tasks it acts on. Without auth that
# is simply the path's user_id. With auth, the token is checked first (401, before
# anything else is looked at), then the path is parsed (400), and only then is the
# token's subject compared with the path's user: a token of another user gets exactly the
# 404 that a missing user or task gets, before the database is touched, so nothing about
# other users' data can be learned from the answer. The routes then pass the owner's id
# to the service, which scopes every query by it: the token is the door, not the
# isolation.


async def collection_owner(user_id: UserIdPath) -> uuid.UUID:
    """The user whose task list a route acts on (no authentication)."""
    return user_id


async def task_owner(user_id: UserIdPath, task_id: TaskIdPath) -> tuple[uuid.UUID, uuid.UUID]:
    """The user and task a route acts on (no authentication)."""
    return user_id, task_id


async def authorized_collection_owner(subject: Subject, user_id: UserIdPath) -> uuid.UUID:
    """The path's user, if the bearer token is theirs."""
    if subject != user_id:
        raise service.user_not_found(user_id)
    return user_id


async def authorized_task_owner(
    subject: Subject, user_id: UserIdPath, task_id: TaskIdPath
) -> tuple[uuid.UUID, uuid.UUID]:
    """The path's user and task, if the bearer token is the user's."""
    if subject != user_id:
        raise service.task_not_found(str(task_id))
    return user_id, task_id


# --- query parameters ------------------------------------------------------------------


def query_parameters(*names: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency that refuses query parameters other than `names`, or repeated ones.

    As with an unknown body field, a misspelt parameter (`?complete=true`) must not be
    silently ignored: the client would get every task and believe it got a filtered
    list. A repeated one is refused too, since only one of its values could be used.
    """
    allowed = frozenset(names)
    takes = ", ".join(sorted(allowed)) if allowed else "none"

    async def only_known(request: Request) -> None:
        for name in dict.fromkeys(request.query_params.keys()):
            if name not in allowed:
                problem, kind = f"unknown query parameter (this route takes {takes})", "extra"
            elif len(request.query_params.getlist(name)) > 1:
                problem, kind = "given more than once", "repeated"
            else:
                continue
            location = f"query.{shortened(name)}"
            raise ValidationError(
                f"{location}: {problem}",
                details={"errors": [{"location": location, "message": problem, "type": kind}]},
            )

    return only_known


def strict_bool(value: object) -> object:
    """Only `true` and `false`, as in JSON: not pydantic's `1`, `yes`, `on`, `t`…

    A client that sends `?completed=1` and means something else than `true` is better
    told than guessed at.
    """
    if isinstance(value, str) and value not in ("true", "false"):
        raise PydanticCustomError("bool_parsing", "should be true or false")
    return value


# --- time zone ------------------------------------------------------------------------------


@cache
def time_zones() -> frozenset[str]:
    """The IANA names `?tz=` takes: those of the installed tz database, which the
    document lists (so a client, and schemathesis, know exactly which are accepted)."""
    from zoneinfo import available_timezones

    return frozenset(available_timezones() - {"localtime", "Factory"})


async def _zone(
    tz: Annotated[
        str | None,
        Query(
            description="The IANA time zone this request reads days in (a due of "
            "2026-12-04, a filter's due.by:fri); default: the user's stored zone, else UTC.",
            json_schema_extra={"enum": sorted(time_zones())},
        ),
    ] = None,
) -> ZoneInfo | None:
    # On the event loop, as every dependency here: a route's one hop to a worker thread
    # is its own body. (`time_zones` was read when the document was made; a ZoneInfo is
    # cached after its first load.)
    if tz is None:
        return None
    if tz not in time_zones():
        raise ValidationError(
            f"query.tz: {shortened(tz)!r} is not a time zone: give an IANA name such as "
            "Europe/Paris, America/New_York or UTC",
            details={"errors": [{"location": "query.tz", "message": "unknown time zone"}]},
        )
    return ZoneInfo(tz)


# The zone of a request (`?tz=`), None for the user's.
ZoneQuery = Annotated[ZoneInfo | None, Depends(_zone)]


# --- If-Match ------------------------------------------------------------------------------

# One entity tag as this API sends it ("3"), a weak tag (W/"3"), or "*". A list of tags
# is not supported; anything else is a 400, which is what the OpenAPI pattern says.
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,18}")$'
_TAG = re.compile(r'"([0-9]+)"')


async def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            pattern=IF_MATCH_PATTERN,
            description='Only change the task if its ETag is this one, e.g. "3" (or * for '
            "any version). A stale tag gets 412 and changes nothing; so does a weak tag "
            '(W/"3"), which If-Match never matches.',
        ),
    ] = None,
) -> int | None:
    """The version `If-Match` asks for, or None when any version will do."""
    if if_match is None or if_match == "*":
        return None
    if if_match.startswith("W/"):
        # RFC 9110 §13.1.1: If-Match uses the strong comparison, which a weak tag never
        # passes. Nothing about the task is consulted, so this reveals nothing.
        raise PreconditionFailed(
            f"If-Match {if_match} is a weak entity tag, which never matches; send the ETag "
            'as given ("3").',
            details={"if_match": if_match},
        )
    match = _TAG.fullmatch(if_match)
    assert match is not None  # the header's pattern has been checked
    return int(match.group(1))


ExpectedVersion = Annotated[int | None, Depends(expected_version)]
