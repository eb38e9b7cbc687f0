"""Database faults seen from outside: a real `todo serve` and real `todo` processes.

PostgreSQL is the test run's private cluster (`private_postgres`), which these tests stop,
restart and whose connections they kill. What must hold, whatever happens to the database:

- while it is down, every route answers 503 with SPEC's error body and `Retry-After`,
  within seconds, without a traceback or the password; every command exits 5 with one
  sentence on stderr;
- once it is back, the same server process serves again, without a restart;
- every write that was acknowledged is there afterwards, and a write that was not is
  either wholly there or wholly absent.

Every test restarts the cluster in a `finally`, so no other test meets it stopped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import API_SECRET, bearer
from tests.processes import TodoServer
from tests.servers import PrivatePostgres, free_port

pytestmark = pytest.mark.faults

# Trust authentication ignores it, so it can sit in the URL to prove it never leaks.
PASSWORD = "pw-that-must-never-leak-7f3a"
# Generous: long enough for any honest answer on a loaded machine, short enough to
# tell an answer from a hang (a connect that waits for the TCP timeout, minutes).
ANSWER_WITHIN = 30.0
OK_STATUSES = {200, 201, 204}


# --- the database, the server, the command line ------------------------------------------


@dataclass
class FaultDatabase:
    """A database at head on the private cluster, with one user."""

    cluster: PrivatePostgres
    name: str
    user_id: uuid.UUID
    user_name: str

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.cluster.port}/{self.name}"

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.cluster.port} user=postgres dbname={self.name}"

    def rows(self) -> dict[uuid.UUID, dict[str, Any]]:
        """Every task of the user, read directly (not through the code under test)."""
        with psycopg.connect(self.conninfo, connect_timeout=5) as connection:
            cursor = connection.execute(
                "SELECT id, number, title, description, is_completed, version FROM tasks "
                "WHERE user_id = %s",
                (self.user_id,),
            )
            columns = [column.name for column in cursor.description or ()]
            return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor}

    def terminate_backends(self) -> int:
        """Kill every connection of todo's to this database; how many there were."""
        with psycopg.connect(self.cluster.conninfo, autocommit=True, connect_timeout=5) as admin:
            killed = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = 'todo' AND pid <> pg_backend_pid()",
                (self.name,),
            ).fetchone()
        return int(killed[0]) if killed else 0


def is_running(cluster: PrivatePostgres) -> bool:
    try:
        psycopg.connect(cluster.conninfo, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def outage(cluster: PrivatePostgres, mode: str = "fast") -> Iterator[None]:
    """The cluster stopped for the block, and running again after it, whatever happens."""
    cluster.stop(mode)
    try:
        yield
    finally:
        if not is_running(cluster):
            cluster.start()


def todo(
    *args: str, env: dict[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """`todo ARGS…` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "todo_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def fault_db(private_postgres: PrivatePostgres) -> Iterator[FaultDatabase]:
    if not is_running(private_postgres):  # a previous test's restart failed
        private_postgres.start()
    name = f"faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(private_postgres.conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{private_postgres.port}/{name}"
    env = {**os.environ, "TODO_DATABASE_URL": url}
    upgraded = todo("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    added = todo("user", "add", "alice", "--json", env=env)
    assert added.returncode == 0, added.stderr
    yield FaultDatabase(private_postgres, name, uuid.UUID(json.loads(added.stdout)["id"]), "alice")
    if not is_running(private_postgres):
        private_postgres.start()
    with psycopg.connect(private_postgres.conninfo, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    """A `todo serve` process and a client of it, acting as the database's user."""

    todo: TodoServer
    user_id: uuid.UUID

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.todo.process

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.todo.base}/users/{self.user_id}",
            headers={"Authorization": bearer(self.user_id)},
            timeout=120,  # a hang shows as a slow answer, asserted on by the tests
        )

    def output(self) -> str:
        return self.todo.log


@pytest.fixture
def server(fault_db: FaultDatabase, tmp_path: Path) -> Iterator[Server]:
    """`todo serve` on the fault database, stopped at teardown whatever happened."""
    env = {**os.environ, "TODO_DATABASE_URL": fault_db.url, "TODO_API_SECRET": API_SECRET}
    running = TodoServer(free_port(), env, tmp_path)
    try:
        running.wait_until_serving(ANSWER_WITHIN)
        yield Server(running, fault_db.user_id)
    finally:
        running.stop()


def assert_unavailable(response: httpx.Response, elapsed: float) -> None:
    """SPEC's 503: the error body, `Retry-After`, no internals, in reasonable time."""
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == 503, f"{where}: {response.status_code} {response.text}"
    assert elapsed < ANSWER_WITHIN, f"{where} took {elapsed:.1f} s"
    body = response.json()
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert set(body["error"]) == {"code", "message", "details"}
    assert int(response.headers["Retry-After"]) > 0
    for leak in (PASSWORD, "Traceback", "psycopg", "127.0.0.1"):
        assert leak not in response.text, where


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def wait_until_serving(client: httpx.Client) -> None:
    """Poll until the server answers a task route with 200 again."""
    deadline = time.monotonic() + ANSWER_WITHIN * 2
    while client.get("/tasks").status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.2)


# --- 1. the database stopped under a running server ---------------------------------------


def every_route(
    client: httpx.Client, task_id: uuid.UUID
) -> dict[str, Callable[[], httpx.Response]]:
    return {
        "POST": lambda: client.post("/tasks", json={"title": "during the outage"}),
        "GET list": lambda: client.get("/tasks"),
        "GET": lambda: client.get(f"/tasks/{task_id}"),
        "PUT": lambda: client.put(f"/tasks/{task_id}", json={"title": "replaced"}),
        "PATCH": lambda: client.patch(f"/tasks/{task_id}", json={"is_completed": True}),
        "DELETE": lambda: client.delete(f"/tasks/{task_id}"),
    }


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_stopped_database_is_503_on_every_route_and_the_server_recovers(
    server: Server, fault_db: FaultDatabase, mode: str
) -> None:
    with server.client() as client:
        acknowledged: dict[uuid.UUID, str] = {}
        for i in range(5):
            response = client.post("/tasks", json={"title": f"before {i}"})
            assert response.status_code == 201
            acknowledged[uuid.UUID(response.json()["id"])] = response.json()["title"]
        victim = next(iter(acknowledged))

        with outage(fault_db.cluster, mode):
            for call in every_route(client, victim).values():
                # Twice: the first request meets dead pooled connections, the second
                # a pool with none.
                for _ in range(2):
                    assert_unavailable(*timed(call))

        # The same process serves again, and nothing acknowledged before is lost.
        wait_until_serving(client)
        for route, call in every_route(client, victim).items():
            assert call().status_code in OK_STATUSES, route
        stored = {task_id: row["title"] for task_id, row in fault_db.rows().items()}
        del acknowledged[victim]  # the DELETE above
        assert acknowledged.items() <= stored.items()
        assert victim not in stored
    assert server.process.poll() is None
    assert PASSWORD not in server.output()
    assert "Traceback" not in server.output()


def test_server_started_while_the_database_is_down_serves_once_it_is_up(
    fault_db: FaultDatabase, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with outage(fault_db.cluster):
        running: Server = request.getfixturevalue("server")
        with running.client() as client:
            for call in every_route(client, uuid.uuid4()).values():
                assert_unavailable(*timed(call))
    with running.client() as client:
        wait_until_serving(client)
        assert client.post("/tasks", json={"title": "after"}).status_code == 201
    assert [row["title"] for row in fault_db.rows().values()] == ["after"]


def test_many_concurrent_requests_during_an_outage_are_all_answered_quickly(
    server: Server, fault_db: FaultDatabase
) -> None:
    """The server's threads are few: waiting for the database must not queue clients."""
    with server.client() as client:
        assert client.get("/tasks").status_code == 200
        with outage(fault_db.cluster), ThreadPoolExecutor(max_workers=32) as pool:
            answers = list(pool.map(lambda _: timed(lambda: client.get("/tasks")), range(64)))
        for response, elapsed in answers:
            assert_unavailable(response, elapsed)
        wait_until_serving(client)


# --- 2. the command line with the database stopped ------------------------------------------

COMMANDS = [
    ("add", "during the outage"),
    ("list",),
    ("show", "1"),
    ("edit", "1", "--title", "changed"),
    ("done", "1", "2"),
    ("reopen", "1"),
    ("rm", "2"),
]


def test_commands_exit_5_with_one_sentence_while_the_database_is_down(
    fault_db: FaultDatabase,
) -> None:
    env = {**os.environ, "TODO_DATABASE_URL": fault_db.url, "TODO_USER": fault_db.user_name}
    for title in ("one", "two"):
        assert todo("add", title, env=env).returncode == 0

    def run(
        args: tuple[str, ...],
    ) -> tuple[tuple[str, ...], subprocess.CompletedProcess[str], float]:
        started = time.monotonic()
        result = todo(*args, env=env)
        return args, result, time.monotonic() - started

    variants = [*COMMANDS, *((*args, "--json") for args in COMMANDS), ("user", "list")]
    with outage(fault_db.cluster), ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, variants))
    for args, result, elapsed in results:
        where = " ".join(args)
        assert result.returncode == 5, f"{where}: {result.returncode} {result.stderr}"
        assert result.stdout == "", where
        assert elapsed < ANSWER_WITHIN, f"{where} took {elapsed:.1f} s"
        assert PASSWORD not in result.stderr and "Traceback" not in result.stderr, where
        if "--json" in args:
            body = json.loads(result.stderr)
            assert body["error"]["code"] == "SERVICE_UNAVAILABLE", where
            assert set(body["error"]) == {"code", "message", "details"}, where
        else:
            assert result.stderr.count("\n") == 1, f"{where}: {result.stderr!r}"
            assert re.fullmatch(r"Error: [^\n]+\.\n", result.stderr), f"{where}: {result.stderr!r}"

    # Back up: every command works again, and only the acknowledged adds are there.
    for args in COMMANDS:
        result = todo(*args, env=env)
        assert result.returncode == 0, f"{' '.join(args)}: {result.stderr}"
    titles = sorted(row["title"] for row in fault_db.rows().values())
    assert titles == ["changed", "during the outage"]


# --- 3. connections killed and the database restarted under a write load --------------------


@dataclass
class Ledger:
    """What one writer was told, and what it attempted without being told.

    For each task: the states the database may hold afterwards. An acknowledged write
    leaves exactly one; a write that got an error leaves two (before, after), since its
    commit may or may not have happened, and the task is not touched again.
    """

    allowed: dict[str, list[dict[str, Any] | None]] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _state(title: str, version: int) -> dict[str, Any]:
    # Title and description are set together and carry the version they produce: a
    # half-done update could not keep all three in step.
    return {"title": title, "description": title, "version": version}


def write_load(server: Server, writer: int, stop: threading.Event, ledger: Ledger) -> None:
    """Create tasks and update them (with If-Match) until told to stop."""
    with server.client() as client:
        current: dict[str, tuple[uuid.UUID, int]] = {}  # key -> (id, version) acknowledged
        step = 0
        while not stop.is_set():
            step += 1
            key = f"w{writer}-t{step}"
            try:
                if step % 3 or not current:
                    title = f"{key} v1"
                    response = client.post("/tasks", json={"title": title, "description": title})
                    ledger.statuses.append(response.status_code)
                    if response.status_code == 201:
                        current[key] = (uuid.UUID(response.json()["id"]), 1)
                        ledger.allowed[key] = [_state(title, 1)]
                    else:
                        ledger.allowed[key] = [None, _state(title, 1)]
                else:
                    key, (task_id, version) = next(iter(current.items()))
                    del current[key]  # settled below, then possibly put back
                    title = f"{key} v{version + 1}"
                    response = client.patch(
                        f"/tasks/{task_id}",
                        json={"title": title, "description": title},
                        headers={"If-Match": f'"{version}"'},
                    )
                    ledger.statuses.append(response.status_code)
                    if response.status_code == 200:
                        assert response.json()["version"] == version + 1
                        current[key] = (task_id, version + 1)
                        ledger.allowed[key] = [_state(title, version + 1)]
                    else:
                        ledger.allowed[key] = [*ledger.allowed[key], _state(title, version + 1)]
                if response.status_code not in OK_STATUSES:
                    assert_unavailable(response, response.elapsed.total_seconds())
            except Exception as failure:  # a transport error too: a request that hung up
                ledger.problems.append(repr(failure))
                return


def check_ledger(fault_db: FaultDatabase, ledgers: list[Ledger]) -> None:
    stored = {row["title"].split(" ")[0]: row for row in fault_db.rows().values()}
    for ledger in ledgers:
        assert not ledger.problems, ledger.problems
        for key, allowed in ledger.allowed.items():
            row = stored.pop(key, None)
            state = (
                None
                if row is None
                else {name: row[name] for name in ("title", "description", "version")}
            )
            assert state in allowed, f"{key}: {state} is none of {allowed}"
    assert not stored, f"tasks nobody wrote: {sorted(stored)}"


@contextmanager
def load(server: Server, writers: int = 6) -> Iterator[list[Ledger]]:
    """Writers busy for the block; their ledgers, checked once they have stopped."""
    stop = threading.Event()
    ledgers = [Ledger() for _ in range(writers)]
    threads = [
        threading.Thread(target=write_load, args=(server, i, stop, ledgers[i]), daemon=True)
        for i in range(writers)
    ]
    for thread in threads:
        thread.start()
    try:
        yield ledgers
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=ANSWER_WITHIN * 4)
        assert not any(thread.is_alive() for thread in threads), "a request hung"


def wait_for_writes(ledgers: list[Ledger], more_than: int) -> None:
    deadline = time.monotonic() + ANSWER_WITHIN * 2
    while acknowledged(ledgers) <= more_than:
        assert not any(ledger.problems for ledger in ledgers), [each.problems for each in ledgers]
        assert time.monotonic() < deadline, "the writers make no progress"
        time.sleep(0.05)


def unavailable(ledgers: list[Ledger]) -> int:
    return sum(ledger.statuses.count(503) for ledger in ledgers)


def acknowledged(ledgers: list[Ledger]) -> int:
    return sum(sum(status in OK_STATUSES for status in ledger.statuses) for ledger in ledgers)


def test_connections_killed_under_write_load_lose_nothing_acknowledged(
    server: Server, fault_db: FaultDatabase
) -> None:
    killed = 0
    with load(server) as ledgers:
        wait_for_writes(ledgers, 20)
        for _ in range(10):
            before = acknowledged(ledgers)
            killed += fault_db.terminate_backends()
            wait_for_writes(ledgers, before + 10)
    # Only the requests on a connection at the moment it was killed may fail; the
    # pool replaces dead idle connections unseen (pre-ping).
    assert unavailable(ledgers) <= killed, (unavailable(ledgers), killed)
    assert killed > 0
    check_ledger(fault_db, ledgers)
    with server.client() as client:
        for _ in range(20):
            assert client.post("/tasks", json={"title": "after"}).status_code == 201
    assert "Traceback" not in server.output()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_database_restarted_under_write_load_loses_nothing_acknowledged(
    server: Server, fault_db: FaultDatabase, mode: str
) -> None:
    with load(server) as ledgers:
        wait_for_writes(ledgers, 20)
        with outage(fault_db.cluster, mode):
            # Down until requests made during the outage got 503, not only those cut by
            # the shutdown (at most one per writer), then the database comes back.
            deadline = time.monotonic() + ANSWER_WITHIN * 2
            while unavailable(ledgers) <= len(ledgers):
                assert time.monotonic() < deadline, "requests got no 503 during the outage"
                time.sleep(0.05)
        wait_for_writes(ledgers, acknowledged(ledgers) + 20)
    statuses = {status for ledger in ledgers for status in ledger.statuses}
    assert 503 in statuses and statuses <= OK_STATUSES | {503}
    check_ledger(fault_db, ledgers)
    assert server.process.poll() is None
    assert PASSWORD not in server.output()
    assert "Traceback" not in server.output()


# --- 4. a connection killed at COMMIT, deterministically -------------------------------------

HOLD_KEY = 4242


@contextmanager
def commits_held(fault_db: FaultDatabase) -> Iterator[Callable[[], int]]:
    """Every transaction that changes a task waits at COMMIT, its changes all made.

    A deferred constraint trigger runs at COMMIT and waits for an advisory lock that the
    block holds. Yields `wait()`: the pid of the first backend caught there.
    """
    with psycopg.connect(fault_db.conninfo, autocommit=True) as admin:
        admin.execute(
            "CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_advisory_xact_lock_shared({HOLD_KEY}); RETURN NULL; END $$"
        )
        admin.execute(
            "CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT OR UPDATE OR DELETE ON tasks "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit()"
        )
        admin.execute("SELECT pg_advisory_lock(%s)", (HOLD_KEY,))

        def wait() -> int:
            deadline = time.monotonic() + ANSWER_WITHIN
            while True:
                row = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                    "AND application_name = 'todo' AND wait_event = 'advisory'",
                    (fault_db.name,),
                ).fetchone()
                if row is not None:
                    return int(row[0])
                activity = admin.execute(
                    "SELECT application_name, state, wait_event, query FROM pg_stat_activity "
                    "WHERE datname = %s",
                    (fault_db.name,),
                ).fetchall()
                assert time.monotonic() < deadline, f"no transaction reached COMMIT: {activity}"
                time.sleep(0.02)

        try:
            yield wait
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (HOLD_KEY,))
            admin.execute("DROP TRIGGER hold_commit ON tasks")
            admin.execute("DROP FUNCTION hold_commit()")


def terminate(fault_db: FaultDatabase, pid: int) -> None:
    with psycopg.connect(fault_db.cluster.conninfo, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def snapshot(fault_db: FaultDatabase) -> list[tuple[Any, ...]]:
    return sorted(tuple(row.values()) for row in fault_db.rows().values())


@pytest.mark.parametrize(
    ("command", "afterwards"),
    [
        (("add", "four", "-d", "4"), ["four", "one", "three", "two"]),
        (("done", "1", "2", "3"), [True, True, True]),
        (("rm", "1", "2", "3"), []),
        (("edit", "2", "--title", "deux", "--description", "2"), ["deux", "one", "three"]),
    ],
)
def test_command_killed_at_commit_changes_nothing(
    fault_db: FaultDatabase, command: tuple[str, ...], afterwards: list[Any]
) -> None:
    """`todo done 1 2 3` cut at COMMIT: none of the three is done, and then all are."""
    env = {**os.environ, "TODO_DATABASE_URL": fault_db.url, "TODO_USER": fault_db.user_name}
    for title in ("one", "two", "three"):
        assert todo("add", title, env=env).returncode == 0
    before = snapshot(fault_db)
    with commits_held(fault_db) as wait:
        process = subprocess.Popen(
            [sys.executable, "-m", "todo_cli", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            terminate(fault_db, wait())
            out, err = process.communicate(timeout=ANSWER_WITHIN)
        finally:
            process.kill()
    assert (process.returncode, out) == (5, ""), err
    assert re.fullmatch(r"Error: [^\n]+\.\n", err), err
    assert snapshot(fault_db) == before

    assert todo(*command, env=env).returncode == 0
    rows = fault_db.rows().values()
    key = "is_completed" if command[0] == "done" else "title"
    assert sorted(row[key] for row in rows) == afterwards


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_request_killed_at_commit_is_503_changes_nothing_and_the_server_goes_on(
    server: Server, fault_db: FaultDatabase, method: str
) -> None:
    with server.client() as client:
        created = client.post("/tasks", json={"title": "one", "description": "1"})
        assert created.status_code == 201
        task = f"/tasks/{created.json()['id']}"
        change = {"title": "two", "description": "2", "is_completed": True}
        send: Callable[[], httpx.Response] = {
            "POST": lambda: client.post("/tasks", json={"title": "two"}),
            "PUT": lambda: client.put(task, json=change),
            "PATCH": lambda: client.patch(task, json=change),
            "DELETE": lambda: client.delete(task),
        }[method]
        before = snapshot(fault_db)
        with commits_held(fault_db) as wait, ThreadPoolExecutor(max_workers=1) as pool:
            answer = pool.submit(timed, send)
            terminate(fault_db, wait())
            assert_unavailable(*answer.result(timeout=ANSWER_WITHIN * 2))
        assert snapshot(fault_db) == before
        # The very next request is served: the pool dropped the dead connection.
        assert send().status_code in OK_STATUSES
        assert snapshot(fault_db) != before
    assert "Traceback" not in server.output()
