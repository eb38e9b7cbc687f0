"""Neon's pooled endpoint end to end: real `todo` processes and a real `todo serve`
behind PgBouncer in transaction mode.

tests/test_pooler.py proves the service layer through the pooler. Here the settings
path is under test too: TODO_DATABASE_POOLER=1 must reach the engine of every command
and of the server, and `todo db upgrade` must take TODO_DATABASE_URL_DIRECT. Each check
has a control with the protection off, which fails: proof that the load really reuses
server connections across clients, so the passing run means something.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PostgresServer, bearer
from tests.processes import Finished, TodoServer, failures, run_together, todo_env
from tests.servers import PgBouncer, free_port
from todo_cli import db, service
from todo_cli.config import DatabaseURL

API_SECRET = "the-pooler-tests-secret-0123456789abcdef"
PREPARED = "prepared statement"
# A multi-task command resolves each reference with the same statement: six of them
# pass psycopg's prepare threshold (5), so without protection it prepares server-side.
SIX = ["1", "2", "3", "4", "5", "6"]


@dataclass(frozen=True)
class Pooled:
    """One throwaway database, reachable directly and through PgBouncer."""

    direct: DatabaseURL
    pooled: str

    def env(self, *, pooler: str = "1", **variables: str) -> dict[str, str]:
        return todo_env(
            TODO_DATABASE_URL=self.pooled,
            TODO_DATABASE_POOLER=pooler,
            TODO_DATABASE_URL_DIRECT=self.direct.reveal(),
            TODO_API_SECRET=API_SECRET,
            **variables,
        )


@pytest.fixture
def empty(postgres_server: PostgresServer, pgbouncer: PgBouncer) -> Iterator[Pooled]:
    """A database with no schema yet."""
    direct = postgres_server.create_database("e2e")
    yield Pooled(direct, pgbouncer.url(direct.reveal().rsplit("/", 1)[1]))
    postgres_server.drop_database(direct)


@pytest.fixture
def ready(empty: Pooled) -> Pooled:
    """A database at the schema head with user alice."""
    db.upgrade(empty.direct)
    engine = db.make_engine(empty.direct)
    with db.make_session_factory(engine)() as session:
        service.create_user(session, name="alice")
    engine.dispose()
    return empty


def _alice(pooled: Pooled) -> uuid.UUID:
    engine = db.make_engine(pooled.direct)
    with db.make_session_factory(engine)() as session:
        user_id = service.get_user(session, ref="alice").id
    engine.dispose()
    return user_id


def _prepared_statement_errors(results: list[Finished]) -> list[Finished]:
    return [result for result in results if PREPARED in result.stderr]


# --- migrations -----------------------------------------------------------------------


def test_db_upgrade_with_the_pooler_url_migrates_on_the_direct_url(
    empty: Pooled, pgbouncer: PgBouncer
) -> None:
    # The pooled URL leads nowhere: the upgrade can only succeed on the direct one.
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    results = run_together(
        [["db", "upgrade", "--json"]], {**empty.env(), "TODO_DATABASE_URL": nowhere}
    )
    assert failures(results) == []
    report = json.loads(results[0].stdout)
    assert report == {
        "revision": db.HEAD_REVISION,
        "head": db.HEAD_REVISION,
        "database": empty.direct.masked,
    }
    # With the real pooled URL: the same, twice (upgrades are safe to repeat), and the
    # application itself then works through the pooler.
    for _ in range(2):
        results = run_together([["db", "upgrade", "--json"]], empty.env())
        assert failures(results) == []
        assert json.loads(results[0].stdout)["database"] == empty.direct.masked
    results = run_together([["user", "add", "alice", "--json"]], empty.env())
    assert failures(results) == []


# --- the CLI ----------------------------------------------------------------------------


def test_concurrent_cli_commands_through_the_pooler_all_succeed(ready: Pooled) -> None:
    env = ready.env()
    adds = run_together([["add", f"task {i}", "-u", "alice", "--json"] for i in range(12)], env)
    assert failures(adds) == []
    commands = [
        ["done", *SIX, "-u", "alice"],
        ["reopen", *SIX, "-u", "alice"],
        ["done", *SIX, "-u", "alice", "--json"],
        ["list", "--all", "--json", "-u", "alice"],
        ["list", "--json", "-u", "alice"],
        ["show", "7", "--json", "-u", "alice"],
        ["edit", "8", "--title", "renamed", "-u", "alice"],
        ["add", "one more", "-u", "alice"],
        ["user", "list", "--json"],
    ] * 2
    commands += [["rm", "9", "10", "-u", "alice"], ["rm", "11", "12", "-u", "alice"]]
    results = run_together(commands, env)
    assert _prepared_statement_errors(results) == []
    assert failures(results) == []
    # And once more, one after another, on server connections the above used.
    for command in commands[:3]:
        assert failures(run_together([command], env)) == []


def test_the_same_commands_fail_without_the_pooler_setting(ready: Pooled) -> None:
    """The control: with TODO_DATABASE_POOLER=0 psycopg prepares statements, and the next
    client that lands on that server connection collides with them."""
    env = ready.env(pooler="0", TODO_DEBUG="1")
    added = run_together([["add", f"t{n}", "-u", "alice", "--json"] for n in SIX], env)
    assert failures(added) == []
    # By UUID, each reference is its own lookup: the same statement six times in one
    # process, which psycopg then prepares (numbers would be looked up in one batch).
    ids = [json.loads(result.stdout)["id"] for result in added]
    results = [run_together([["done", *ids, "-u", "alice"]], env)[0] for _ in range(4)]
    assert _prepared_statement_errors(results) != [], [r.stderr for r in results]


# --- the HTTP API ---------------------------------------------------------------------------


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[list[TodoServer]]:
    servers: list[TodoServer] = []
    yield servers
    for server in servers:
        server.stop()


def _serve(pooled: Pooled, tmp_path: Path, servers: list[TodoServer], pooler: str) -> TodoServer:
    server = TodoServer(free_port(), pooled.env(pooler=pooler), tmp_path, "--workers", "2")
    servers.append(server)
    server.wait_until_serving()
    return server


def _load(
    server: TodoServer,
    user_id: uuid.UUID,
    *,
    threads: int = 8,
    rounds: int = 15,
    timeout: float = 60,
) -> list[str]:
    """Each thread creates, lists, reads, patches (If-Match) and deletes its own tasks;
    every answer but the expected one is returned, and a request never answered."""
    authorization = {"Authorization": bearer(user_id, secret=API_SECRET)}
    tasks = f"{server.base}/users/{user_id}/tasks"
    barrier = threading.Barrier(threads)

    def work(worker: int) -> list[str]:
        unexpected: list[str] = []

        def check(response: httpx.Response, status: int) -> httpx.Response:
            if response.status_code != status:
                unexpected.append(
                    f"{response.request.method} {response.status_code} {response.text}"
                )
            return response

        with httpx.Client(headers=authorization, timeout=timeout) as client:
            barrier.wait()
            try:
                for i in range(rounds):
                    created = check(client.post(tasks, json={"title": f"w{worker} r{i}"}), 201)
                    if created.status_code != 201:
                        continue
                    url = f"{tasks}/{created.json()['id']}"
                    check(client.get(tasks, params={"limit": 5}), 200)
                    check(client.get(url), 200)
                    patched = check(
                        client.patch(
                            url,
                            json={"is_completed": True},
                            headers={"If-Match": created.headers["ETag"]},
                        ),
                        200,
                    )
                    etag = patched.headers.get("ETag", "*")
                    check(client.delete(url, headers={"If-Match": etag}), 204)
            except httpx.TransportError as error:  # no answer at all: this worker stops
                unexpected.append(f"{error.request.method} no answer: {error!r}")
        return unexpected

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [error for errors in pool.map(work, range(threads)) for error in errors]


def test_the_api_behind_the_pooler_serves_a_concurrent_load_without_errors(
    ready: Pooled, tmp_path: Path, start_server: list[TodoServer]
) -> None:
    server = _serve(ready, tmp_path, start_server, pooler="1")
    alice = _alice(ready)
    assert _load(server, alice) == []
    assert (
        httpx.get(
            f"{server.base}/users/{alice}/tasks",
            params={"completed": "true"},
            headers={"Authorization": bearer(alice, secret=API_SECRET)},
        ).json()
        == []
    )  # every task was deleted by its own thread
    assert PREPARED not in server.log
    assert "Traceback" not in server.log


def test_the_same_load_fails_without_the_pooler_setting(
    ready: Pooled, tmp_path: Path, start_server: list[TodoServer]
) -> None:
    """The control: the server with TODO_DATABASE_POOLER=0 fails this load: 500s, or
    requests never answered (behind the pooler one client's prepared statement may run
    under another's name), and prepared-statement errors in its log."""
    server = _serve(ready, tmp_path, start_server, pooler="0")
    errors = _load(server, _alice(ready), timeout=20)
    assert any(" 500 " in error or "no answer" in error for error in errors), errors[:5]
    assert PREPARED in server.log
