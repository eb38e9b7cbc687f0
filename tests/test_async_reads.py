"""Reads on the event loop (`todo_cli.async_reads`): the same answers and errors as a
session's, and the session path whenever a connection is not fit to use."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, func, literal, select, text

from tests.conftest import API_SECRET, bearer
from todo_cli import async_reads, db, service
from todo_cli.async_reads import AsyncReads, Unavailable
from todo_cli.config import DatabaseURL, Settings
from todo_cli.errors import TodoError
from todo_cli.models import TaskCreate, User

pytestmark = pytest.mark.postgres_only
_T = TypeVar("_T")


@pytest.fixture
def database(postgres_url: DatabaseURL) -> Iterator[db.Database]:
    database = db.Database(postgres_url, origin="api", pool_size=2, max_overflow=0)
    database.session().close()  # checks the schema: the event loop may read now
    yield database
    database.dispose()


@pytest.fixture
def people(database: db.Database) -> tuple[User, User]:
    with database.session() as session:
        suffix = uuid.uuid4().hex[:8]
        alice = service.create_user(session, name=f"alice-{suffix}")
        bob = service.create_user(session, name=f"bob-{suffix}")
        service.create_tasks(
            session,
            user_id=alice.id,
            tasks=[
                TaskCreate(title="plain"),
                TaskCreate(
                    title="Pay rent",
                    due="2026-12-04",
                    wait="2099-01-01T08:00:00Z",
                    priority="H",
                    project="house",
                    tags=["bills", "home"],
                ),
                *(TaskCreate(title=f"more {n}") for n in range(30)),
            ],
        )
        service.add_note(session, user_id=alice.id, ref="2", text="first")
        service.add_note(session, user_id=alice.id, ref="2", text="second")
        service.complete_tasks(session, user_id=alice.id, refs=["1"])
        service.create_task(session, user_id=bob.id, task=TaskCreate(title="bob's"))
    return alice, bob


def _on_a_loop(work: Callable[[AsyncReads], Awaitable[_T]], database: db.Database) -> _T:
    """`work` on the database's event-loop reads, on a loop of its own, closed after."""
    reads = database.async_reads
    assert reads is not None

    async def main() -> _T:
        try:
            return await work(reads)
        finally:
            await reads.close()

    return asyncio.run(main())


async def _opened(reads: AsyncReads, count: int = 1) -> None:
    """Wait until the background has opened `count` connections (none opens on demand)."""
    for _ in range(500):
        try:
            await reads.run(_select_one())
        except Unavailable:
            pass
        if len(reads._idle) >= count:
            return
        reads._open_later()  # one more (a request opens one only when none is idle)
        await asyncio.sleep(0.01)
    raise AssertionError("no connection opened")


def _select_one() -> service.Reading[Any]:
    rows = yield select(func.count()), {}
    return rows[0][0]


def _sleeping() -> service.Reading[Any]:
    yield select(func.pg_sleep(30)), {}
    return None


def _conninfo(url: DatabaseURL) -> str:
    return url.reveal().replace("postgresql+psycopg://", "postgresql://")


def _outcome(read: Callable[[], Any]) -> Any:
    try:
        return ("ok", read())
    except TodoError as error:
        return ("error", type(error).__name__, str(error), error.details)


def test_every_kind_of_reference_reads_as_through_a_session(
    database: db.Database, people: tuple[User, User]
) -> None:
    alice, bob = people
    with database.session(read_only=True) as session:
        tasks = {task.number: task for task in service.list_tasks(session, user_id=alice.id)}
        tasks |= {
            task.number: task
            for task in service.list_tasks(session, user_id=alice.id, status="done")
        }
        (bobs,) = service.list_tasks(session, user_id=bob.id)
    second = tasks[2]
    refs = [
        "1",
        "2",
        " 02 ",
        str(second.id),
        str(second.id).upper(),
        str(second.id)[:8],  # a prefix: built per request, compiled once
        str(second.id).replace("-", "")[:12],
        "999",
        "9" * 40,  # beyond any number: no task
        str(uuid.uuid4()),
        str(bobs.id),  # another user's task is a missing one
        "abc",  # neither a number nor a prefix
        "0000",
    ]
    with database.session(read_only=True) as session:
        expected = [
            _outcome(partial(service.get_task, session, user_id=alice.id, ref=ref)) for ref in refs
        ]
    assert expected[1][1].tags == ["bills", "home"]
    assert [n.text for n in expected[1][1].note_rows] == ["first", "second"]

    async def each(reads: AsyncReads) -> list[Any]:
        await _opened(reads)
        served = reads.served
        found: list[Any] = []
        for ref in refs:
            try:
                found.append(("ok", await reads.run(service.task_reading(alice.id, ref))))
            except TodoError as error:
                found.append(("error", type(error).__name__, str(error), error.details))
        # Every one ran on the event loop, its own errors included.
        assert reads.served - served == sum(1 for outcome in found if outcome[0] == "ok")
        assert reads._idle  # the connection survived the errors
        return found

    assert _on_a_loop(each, database) == expected


def test_an_ambiguous_prefix_is_the_same_error(
    database: db.Database, people: tuple[User, User]
) -> None:
    alice, _ = people
    with database.session() as session:
        for number, last in ((3, "1"), (4, "2")):
            session.execute(
                text("UPDATE tasks SET id = :id WHERE user_id = :user AND number = :number"),
                {"id": uuid.UUID(f"abcd0000-0000-4000-8000-00000000000{last}"),
                 "user": alice.id, "number": number},
            )  # fmt: skip
        session.commit()
    with database.session(read_only=True) as session:
        expected = _outcome(lambda: service.get_task(session, user_id=alice.id, ref="abcd"))
    assert expected[1] == "AmbiguousReference"

    async def once(reads: AsyncReads) -> Any:
        await _opened(reads)
        try:
            return ("ok", await reads.run(service.task_reading(alice.id, "abcd")))
        except TodoError as error:
            return ("error", type(error).__name__, str(error), error.details)

    assert _on_a_loop(once, database) == expected


def test_a_killed_connection_is_never_used_and_the_next_one_is_opened(
    database: db.Database, people: tuple[User, User], postgres_url: DatabaseURL
) -> None:
    alice, _ = people
    conninfo = _conninfo(postgres_url)

    async def work(reads: AsyncReads) -> None:
        await _opened(reads)
        ((connection, _),) = reads._idle
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (connection.info.backend_pid,))
            for _ in range(500):  # until the backend has said goodbye on its socket
                gone = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                    (connection.info.backend_pid,),
                ).fetchone()
                if gone == (0,):
                    break
                await asyncio.sleep(0.01)
        # The goodbye is heard before use: to the session path, and a new one is opened.
        with pytest.raises(Unavailable):
            await reads.run(service.task_reading(alice.id, "2"))
        await _opened(reads)
        task = await reads.run(service.task_reading(alice.id, "2"))
        assert task.title == "Pay rent"

    _on_a_loop(work, database)


def test_an_idle_connection_is_pinged_before_use(
    database: db.Database, people: tuple[User, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, _ = people

    async def work(reads: AsyncReads) -> None:
        await _opened(reads)
        ((connection, _),) = reads._idle
        monkeypatch.setattr(async_reads, "PING_AFTER_IDLE", -1.0)
        served = reads.served
        assert (await reads.run(service.task_reading(alice.id, "2"))).number == 2
        assert reads.served == served + 1 and reads._idle[0][0] is connection

        # Dead while idle, unheard (its socket quiet): the ping fails, and the read
        # goes to a session.
        async def dead(*args: Any, **kwargs: Any) -> Any:
            raise psycopg.OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(connection, "execute", dead)
        with pytest.raises(Unavailable):
            await reads.run(service.task_reading(alice.id, "2"))
        assert not reads._idle and reads._opening is not None  # a new one on its way
        assert reads._count == 1
        await _opened(reads)
        # Cancelled during the ping: the connection is kept, nothing is lost.
        ((connection, _),) = reads._idle
        pinging = asyncio.Event()

        async def slow(*args: Any, **kwargs: Any) -> Any:
            pinging.set()
            await asyncio.sleep(30)

        monkeypatch.setattr(connection, "execute", slow)
        pending = asyncio.ensure_future(reads.run(service.task_reading(alice.id, "2")))
        await pinging.wait()
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert reads._idle[0][0] is connection and reads._count == 1
        monkeypatch.undo()
        assert (await reads.run(service.task_reading(alice.id, "2"))).number == 2

    _on_a_loop(work, database)


def test_values_given_with_params_are_bound(database: db.Database) -> None:
    def given() -> service.Reading[Any]:
        rows = yield select(literal(1)).where(literal(7) == bindparam("v")).params(v=7), {}
        return [tuple(row) for row in rows]

    async def work(reads: AsyncReads) -> None:
        await _opened(reads)
        assert await reads.run(given()) == [(1,)]

    _on_a_loop(work, database)


def test_a_closed_pool_sends_every_read_to_a_session(
    database: db.Database, people: tuple[User, User]
) -> None:
    alice, _ = people

    async def work(reads: AsyncReads) -> None:
        await _opened(reads)
        await reads.close()
        with pytest.raises(Unavailable):
            await asyncio.wait_for(reads.run(service.task_reading(alice.id, "2")), timeout=5)

    _on_a_loop(work, database)


def test_requests_waiting_for_a_connection_are_released_when_it_fails(
    database: db.Database, people: tuple[User, User], postgres_url: DatabaseURL
) -> None:
    """The database restarting under load: nobody waits for a connection forever."""
    alice, _ = people
    conninfo = _conninfo(postgres_url)

    async def work(reads: AsyncReads) -> None:
        await _opened(reads, count=2)
        pids = [connection.info.backend_pid for connection, _ in reads._idle]
        busy = [asyncio.ensure_future(reads.run(_sleeping())) for _ in range(2)]
        waiting = [
            asyncio.ensure_future(reads.run(service.task_reading(alice.id, "2"))) for _ in range(5)
        ]
        await asyncio.sleep(0.3)
        assert len(reads._waiting) == 5
        with psycopg.connect(conninfo, autocommit=True) as admin:
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        outcomes = await asyncio.wait_for(
            asyncio.gather(*busy, *waiting, return_exceptions=True), timeout=20
        )
        assert all(isinstance(outcome, Unavailable) for outcome in outcomes), outcomes
        assert reads._count == 0 and not reads._waiting

    _on_a_loop(work, database)


def test_a_read_cancelled_mid_statement_leaves_nothing_running(
    database: db.Database, people: tuple[User, User], postgres_url: DatabaseURL
) -> None:
    """A client that hangs up cancels its request: the statement must not go on running
    on the server, and the connection is either dropped or idle and used again."""
    alice, _ = people
    conninfo = _conninfo(postgres_url)

    async def work(reads: AsyncReads) -> None:
        await _opened(reads)
        ((connection, _),) = reads._idle
        pid = connection.info.backend_pid
        pending = asyncio.ensure_future(reads.run(_sleeping()))
        await asyncio.sleep(0.3)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        with psycopg.connect(conninfo, autocommit=True) as admin:
            running = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active'",
                (pid,),
            ).fetchone()
        assert running == (0,)
        assert connection.closed or reads._idle == [] or reads._idle[0][0] is connection
        await _opened(reads)
        assert (await reads.run(service.task_reading(alice.id, "2"))).number == 2
        assert reads._count <= 2

    _on_a_loop(work, database)


def test_a_driver_error_drops_the_connection_and_the_read_goes_to_a_session(
    database: db.Database, people: tuple[User, User]
) -> None:
    alice, _ = people

    def failing() -> service.Reading[Any]:
        yield select(literal(1) / literal(0)), {}  # division by zero, on the server
        return None

    def expanding() -> service.Reading[Any]:
        rows = yield (
            select(literal(1)).where(literal(1).in_(bindparam("ids", expanding=True))),
            {"ids": [1, 2]},
        )
        return rows

    async def work(reads: AsyncReads) -> None:
        await _opened(reads)
        ((connection, _),) = reads._idle
        with pytest.raises(Unavailable, match="division by zero"):
            await reads.run(failing())
        assert connection.closed and not reads._idle and reads._count == 0
        await _opened(reads)
        # Expanding parameters (an IN of a list) are expanded as SQLAlchemy does.
        assert [tuple(row) for row in await reads.run(expanding())] == [(1,)]
        assert len(reads._idle) == 1
        assert (await reads.run(service.task_reading(alice.id, "2"))).number == 2

    _on_a_loop(work, database)


def test_requests_beyond_the_connections_wait_for_one(
    database: db.Database, people: tuple[User, User]
) -> None:
    alice, _ = people

    async def work(reads: AsyncReads) -> list[int]:
        await _opened(reads, count=2)
        tasks = await asyncio.gather(
            *(reads.run(service.task_reading(alice.id, str(n))) for n in range(3, 33))
        )
        assert len(reads._idle) == 2
        return [task.number for task in tasks]

    assert _on_a_loop(work, database) == list(range(3, 33))


def test_a_database_not_ready_reads_through_a_session(
    postgres_url: DatabaseURL, tmp_path: Path
) -> None:
    fresh = db.Database(postgres_url, origin="api")
    try:
        assert fresh.async_reads is None  # no schema checked yet
        fresh.session().close()
        assert fresh.async_reads is not None
    finally:
        fresh.dispose()
    sqlite = db.Database(DatabaseURL.parse(f"sqlite:///{tmp_path / 'todo.db'}"), origin="api")
    sqlite.session().close()
    assert sqlite.async_reads is None
    sqlite.dispose()


def test_the_api_serves_task_gets_on_the_event_loop(
    postgres_url: DatabaseURL, people: tuple[User, User]
) -> None:
    from todo_cli.api import create_app

    alice, bob = people
    settings = Settings(_env_file=None, database_url=postgres_url.reveal(), api_secret=API_SECRET)
    app = create_app(settings)
    with app.state.database.session(read_only=True) as session:
        second = service.get_task(session, user_id=alice.id, ref="2")
    with TestClient(app) as client:
        url = f"/users/{alice.id}/tasks/{second.id}"
        headers = {"Authorization": bearer(alice.id)}
        first = client.get(url, headers=headers)  # checks the schema, opens a connection
        assert first.status_code == 200
        reads = app.state.database.async_reads
        for _ in range(100):
            answer = client.get(url, headers=headers)
            assert (answer.status_code, answer.content) == (200, first.content)
            if reads.served:
                break
        assert reads.served
        missing = client.get(f"/users/{alice.id}/tasks/{uuid.uuid4()}", headers=headers)
        assert missing.status_code == 404
        served = reads.served
        head = client.head(url, headers=headers)
        assert head.status_code == 200 and head.headers["etag"] == first.headers["etag"]
        assert reads.served == served + 1
        # Another user's task is not found, on the loop as through a session.
        with app.state.database.session(read_only=True) as session:
            (bobs,) = service.list_tasks(session, user_id=bob.id)
        other = client.get(f"/users/{alice.id}/tasks/{bobs.id}", headers=headers)
        assert other.status_code == 404
    # The app started again (its lifespan once more): a new pool, served on the loop.
    closed = app.state.database._async_reads
    assert closed is None
    with TestClient(app) as client:
        for _ in range(100):
            again = client.get(url, headers=headers)
            assert (again.status_code, again.content) == (200, first.content)
            if app.state.database.async_reads.served:
                break
        assert app.state.database.async_reads.served
