"""Concurrency with real processes: `todo` commands racing each other, and two API
clients racing on one task through a real `todo serve`.

tests/test_service_concurrency.py races threads in one process; here every writer is
its own process with its own engine and connections, as when a shell loop, cron and a
person all run `todo` at once, on SQLite (one file, one lock) and on PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, bearer
from tests.processes import TodoServer, failures, run_together, todo_env
from tests.servers import free_port
from todo_cli import db, service
from todo_cli.config import DatabaseURL
from todo_cli.models import Task, TaskCreate, TaskRecord

WRITERS = 20
API_SECRET = "the-process-tests-secret-0123456789abcdef"


class Database:
    """A throwaway database at the schema head, with user alice."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        db.upgrade(url)
        self.engine = db.make_engine(url)
        self.sessions = db.make_session_factory(self.engine)
        with self.sessions() as session:
            self.alice = service.create_user(session, name="alice").id

    def add(self, *titles: str) -> list[Task]:
        with self.sessions() as session:
            return [
                service.create_task(session, user_id=self.alice, task=TaskCreate(title=t))
                for t in titles
            ]

    def tasks(self) -> list[TaskRecord]:
        with self.sessions() as session:
            return sorted(
                service.list_tasks(session, user_id=self.alice, status="all"),
                key=lambda task: task.number,
            )

    def env(self) -> dict[str, str]:
        return todo_env(TODO_DATABASE_URL=self.url.reveal())


@pytest.fixture(params=BACKENDS)
def database(
    request: pytest.FixtureRequest, new_database: Callable[[str], DatabaseURL]
) -> Iterator[Database]:
    database = Database(new_database(request.param))
    yield database
    database.engine.dispose()


@pytest.fixture
def postgres(new_database: Callable[[str], DatabaseURL]) -> Iterator[Database]:
    database = Database(new_database("postgresql"))
    yield database
    database.engine.dispose()


@pytest.fixture
def sqlite(new_database: Callable[[str], DatabaseURL]) -> Iterator[Database]:
    database = Database(new_database("sqlite"))
    yield database
    database.engine.dispose()


# --- many CLI writers at once ------------------------------------------------------------


def test_twenty_simultaneous_adds_get_twenty_distinct_numbers(postgres: Database) -> None:
    commands = [["add", f"task {i}", "--user", "alice", "--json"] for i in range(WRITERS)]
    results = run_together(commands, postgres.env())
    assert failures(results) == []
    numbers = sorted(json.loads(result.stdout)["number"] for result in results)
    assert numbers == list(range(1, WRITERS + 1))
    assert [task.number for task in postgres.tasks()] == numbers


def test_simultaneous_cli_writers_on_one_sqlite_file_all_succeed(sqlite: Database) -> None:
    """Adds, completions and edits from 18 processes queue on SQLite's lock: none of
    them reports "database is locked" (or anything else) to the user."""
    sqlite.add(*(f"old {n}" for n in range(1, 13)))
    commands = [["add", f"new {i}", "--user", "alice", "--json"] for i in range(6)]
    commands += [["done", str(n), "--user", "alice", "--json"] for n in range(1, 7)]
    commands += [["edit", str(n), "--title", f"edited {n}", "-u", "alice"] for n in range(7, 13)]
    results = run_together(commands, sqlite.env())
    assert failures(results) == []
    assert not any("locked" in result.stderr for result in results)
    tasks = sqlite.tasks()
    assert [task.number for task in tasks] == list(range(1, 19))
    assert [task.is_completed for task in tasks[:6]] == [True] * 6
    assert [task.title for task in tasks[6:12]] == [f"edited {n}" for n in range(7, 13)]
    assert sorted(task.title for task in tasks[12:]) == [f"new {i}" for i in range(6)]


def test_simultaneous_first_runs_on_a_fresh_machine_all_succeed(tmp_path: Path) -> None:
    """No database yet, no user given: every process creates the file, the schema and the
    login user "on first use" at the same moment, and each still just adds its task."""
    path = tmp_path / "fresh" / "todo.db"
    env = todo_env(TODO_DATABASE_URL=f"sqlite:///{path}")
    results = run_together([["add", f"first {i}", "--json"] for i in range(16)], env)
    assert failures(results) == []
    numbers = sorted(json.loads(result.stdout)["number"] for result in results)
    assert numbers == list(range(1, 17))


# --- done and edit racing on one task ----------------------------------------------------


@pytest.mark.parametrize("naming", ["number", "uuid prefix", "several at once"])
def test_concurrent_done_and_edit_of_one_task_lose_neither_change(
    database: Database, naming: str
) -> None:
    """Each of 8 tasks gets `todo done` and `todo edit --title …` at the same moment, its
    task named by number, by UUID prefix (the locking path), or with another task in the
    same `done`: every task ends completed, retitled, at version 3."""
    tasks = database.add(*(f"task {n}" for n in range(1, 9)))
    # A prefix with its hyphen: all-digit references are numbers, and 8 hex digits
    # sometimes are all digits.
    refs = [str(t.id)[:13] if naming == "uuid prefix" else str(t.number) for t in tasks]
    commands = [["edit", ref, "--title", f"renamed {ref}", "-u", "alice"] for ref in refs]
    if naming == "several at once":
        commands += [["done", *refs[i : i + 2], "-u", "alice"] for i in range(0, 8, 2)]
    else:
        commands += [["done", ref, "-u", "alice"] for ref in refs]
    results = run_together(commands, database.env())
    assert failures(results) == []
    assert [(t.title, t.is_completed, t.version) for t in database.tasks()] == [
        (f"renamed {ref}", True, 3) for ref in refs
    ]


# --- two API clients racing with If-Match -------------------------------------------------


@pytest.fixture
def server(database: Database, tmp_path: Path) -> Iterator[TodoServer]:
    """`todo serve` (two workers) on the test database."""
    env = todo_env(TODO_DATABASE_URL=database.url.reveal(), TODO_API_SECRET=API_SECRET)
    server = TodoServer(free_port(), env, tmp_path, "--workers", "2")
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.stop()


def test_racing_patches_with_the_same_etag_exactly_one_wins(
    database: Database, server: TodoServer, request: pytest.FixtureRequest
) -> None:
    rounds = 10
    authorization = {"Authorization": bearer(database.alice, secret=API_SECRET)}
    task_id = database.add("v1")[0].id
    url = f"{server.base}/users/{database.alice}/tasks/{task_id}"
    barrier = threading.Barrier(2)
    # One client per racer: separate connections, so the PATCHes really overlap.
    clients = [httpx.Client(headers=authorization, timeout=60) for _ in range(2)]
    for client in clients:
        request.addfinalizer(client.close)

    def patch(racer: int, etag: str, title: str) -> httpx.Response:
        barrier.wait()
        return clients[racer].patch(url, json={"title": title}, headers={"If-Match": etag})

    with ThreadPoolExecutor(max_workers=2) as pool:
        for round_ in range(rounds):
            before = clients[0].get(url)
            etag, version = before.headers["ETag"], before.json()["version"]
            titles = [f"round {round_} racer {racer}" for racer in range(2)]
            responses = list(pool.map(patch, range(2), [etag] * 2, titles))
            statuses = sorted(response.status_code for response in responses)
            assert statuses == [200, 412], [r.text for r in responses]
            winner = next(r for r in responses if r.status_code == 200)
            loser = next(r for r in responses if r.status_code == 412)
            error = loser.json()
            assert list(error) == ["error"] and error["error"]["code"] == "PRECONDITION_FAILED"
            assert set(error["error"]) == {"code", "message", "details"}
            assert isinstance(error["error"]["message"], str)
            assert isinstance(error["error"]["details"], dict)
            after = clients[0].get(url)
            assert after.json()["title"] == winner.json()["title"] in titles
            assert after.json()["version"] == version + 1
            assert after.headers["ETag"] == f'"{version + 1}"' == winner.headers["ETag"]
    assert "Traceback" not in server.log
