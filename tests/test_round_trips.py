"""Round trips to PostgreSQL per command, counted by a proxy between `todo` and the server.

On a remote database (Neon from a laptop: ~20 ms a round trip) the round trips are what a
command costs, so SPEC's budgets are counts: a cold `todo list` ≤ 8, a warm one ≤ 5,
a warm `add` ≤ 6. Each command here is a real `todo` process, in-process
(`TODO_DAEMON=0`: a new connection) or served by a warm server (its pooled connection
reused), talking to PostgreSQL through `bench.latency_proxy` with no delay. A ping that
the pool sends after a connection sat idle for over a second (`db.PING_AFTER_IDLE`) is
counted apart: how long a loaded machine takes between two commands is not the code's.
So is psycopg's one-off prepare of a statement used often (see `_counted`).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from bench.latency_proxy import Counts, Proxy
from tests.warm import TIMEOUT, TODO, Warm
from tests.warm import warm_server as warm_server  # the `server` fixture
from todo_cli import db, service
from todo_cli.config import DatabaseURL
from todo_cli.models import Task, TaskCreate, User
from todo_cli.pg_dialect import only_reads


def _through(proxy: Proxy, url: DatabaseURL) -> str:
    """`url` with its host and port replaced by the proxy's."""
    return make_url(url.reveal()).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


def _target(url: DatabaseURL) -> tuple[str, int]:
    parsed = make_url(url.reveal())
    return parsed.host or "127.0.0.1", parsed.port or 5432


def _counted(counts: Counts) -> tuple[int, int]:
    """(the command's own round trips, the pool's pings).

    psycopg's one-off preparing of a statement on its sixth use on a connection (a Parse
    and a Sync, before the Bind and Execute that follow as usual) is not the command's: on
    the warm server's connection each statement pays it once, then never again.
    """
    kinds = counts.kinds()
    return kinds["other"], kinds["ping"]


@pytest.fixture
def prepared(
    new_database: Callable[[str], DatabaseURL],
) -> Iterator[tuple[Proxy, dict[str, str]]]:
    """A database of its own with user alice and four tasks, and a proxy to its server."""
    postgres_url = new_database("postgresql")
    db.upgrade(postgres_url)
    direct = {
        **os.environ,
        "TODO_DAEMON": "0",
        "TODO_DATABASE_URL": postgres_url.reveal(),
        "TODO_USER": "alice",
        "NO_COLOR": "1",
    }
    for args in (["user", "add", "alice"], ["add", "one"], ["add", "two"], ["add", "three"]):
        done = subprocess.run([TODO, *args], env=direct, capture_output=True, timeout=TIMEOUT)
        assert done.returncode == 0, done.stderr
    with Proxy(_target(postgres_url)) as proxy:
        variables = {"TODO_DATABASE_URL": _through(proxy, postgres_url), "TODO_USER": "alice"}
        # Once per URL and user, a write fills completion's cache (one more query); the
        # counts below are those of every later command.
        warm_up = {**direct, **variables}
        done = subprocess.run(
            [TODO, "add", "four"], env=warm_up, capture_output=True, timeout=TIMEOUT
        )
        assert done.returncode == 0, done.stderr
        yield proxy, variables


# (command, round trips in-process, round trips warm). A cold command also connects
# (an SSLRequest and the start-up message: 2 of its trips) and checks the schema (1).
BUDGETS: list[tuple[tuple[str, ...], int, int]] = [
    (("list",), 8, 5),
    (("list", "--json"), 8, 5),
    # The write path reads the task, its tags and its notes, updates it, and stores the
    # change (its id, the change and its items) in one statement, then commits.
    (("add", "Buy milk"), 8, 5),
    (("done", "1"), 9, 6),
]


@pytest.mark.parametrize(("args", "cold", "warm"), BUDGETS, ids=[" ".join(b[0]) for b in BUDGETS])
def test_in_process_command_round_trips(
    prepared: tuple[Proxy, dict[str, str]], args: tuple[str, ...], cold: int, warm: int
) -> None:
    proxy, variables = prepared
    env = {**os.environ, **variables, "TODO_DAEMON": "0", "NO_COLOR": "1"}
    proxy.counts.reset()
    done = subprocess.run([TODO, *args], env=env, capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    trips, pings = _counted(proxy.counts)
    assert proxy.counts.connections == 1
    assert pings == 0, proxy.counts.describe()  # a fresh connection is never pinged
    assert trips <= cold, f"todo {' '.join(args)}: {trips} round trips\n{proxy.counts.describe()}"


def test_warm_command_round_trips(prepared: tuple[Proxy, dict[str, str]], server: Warm) -> None:
    proxy, variables = prepared
    server.variables = variables
    server.start()
    first = server.run("list", warm=True)  # connects and checks the schema
    assert first.returncode == 0, first.stderr
    for args, _cold, budget in BUDGETS:
        proxy.counts.reset()
        before = server.served()
        done = server.run(*args, warm=True)
        assert done.returncode == 0, done.stderr
        assert server.served() == before + 1, f"todo {' '.join(args)} was not served warm"
        trips, pings = _counted(proxy.counts)
        shown = f"todo {' '.join(args)}: {trips} round trips\n{proxy.counts.describe()}"
        assert proxy.counts.connections == 0, shown  # the server's connection, reused
        assert pings <= 1, shown
        assert trips <= budget, shown


def test_warm_list_output_is_the_in_process_one(
    prepared: tuple[Proxy, dict[str, str]], server: Warm
) -> None:
    """Through the proxy too, the fewer round trips change nothing a person sees."""
    _proxy, variables = prepared
    server.variables = variables
    server.start()
    for args in (("list", "--json"), ("list", "--all", "--json"), ("show", "2", "--json")):
        warm, cold = server.both(*args)
        assert (warm.returncode, warm.stdout, warm.stderr) == (
            cold.returncode,
            cold.stdout,
            cold.stderr,
        )
        assert warm.returncode == 0, warm.stderr
    listed = json.loads(server.run("list", "--json", warm=True).stdout)
    assert [task["title"] for task in listed] == ["four", "three", "two", "one"]


# --- the runtime, through the proxy --------------------------------------------------------


@pytest.fixture
def proxied(postgres_url: DatabaseURL) -> Iterator[tuple[Proxy, db.Database]]:
    with Proxy(_target(postgres_url)) as proxy:
        runtime = db.Database(DatabaseURL.parse(_through(proxy, postgres_url)), origin="cli")
        try:
            yield proxy, runtime
        finally:
            runtime.dispose()


def _one_read(runtime: db.Database) -> None:
    with runtime.session() as session:
        session.execute(text("SELECT 1")).one()


def test_a_connection_is_pinged_only_after_it_sat_idle(
    proxied: tuple[Proxy, db.Database],
) -> None:
    proxy, runtime = proxied
    _one_read(runtime)  # connects, checks the schema
    proxy.counts.reset()
    _one_read(runtime)
    assert _counted(proxy.counts) == (1, 0), proxy.counts.describe()
    time.sleep(db.PING_AFTER_IDLE + 0.2)
    proxy.counts.reset()
    _one_read(runtime)
    assert _counted(proxy.counts) == (1, 1), proxy.counts.describe()


def test_a_read_needs_no_transaction_and_a_write_one_round_trip_for_begin_and_commit(
    proxied: tuple[Proxy, db.Database],
) -> None:
    proxy, runtime = proxied
    with runtime.session() as session:
        user = service.create_user(session, name="rita")
        proxy.counts.reset()
        service.get_user(session, ref="rita")
        session.execute(text("SELECT count(*) FROM tasks")).one()
        assert proxy.counts.round_trips == 2, proxy.counts.describe()
        assert not any("BEGIN" in " ".join(t.asked) for t in proxy.counts.log)
        proxy.counts.reset()
        service.create_task(session, user_id=user.id, task=TaskCreate(title="x"))
    asked = [" ".join(trip.asked) for trip in proxy.counts.log]
    assert asked[0].startswith("Parse: BEGIN"), proxy.counts.describe()  # BEGIN rides along
    assert asked[-1] == "Query: COMMIT", proxy.counts.describe()
    assert sum("BEGIN" in a for a in asked) == 1


def test_an_idle_connection_the_server_closed_is_replaced_without_an_error(
    proxied: tuple[Proxy, db.Database], postgres_url: DatabaseURL
) -> None:
    """Within the idle second no ping is sent, yet a connection the server ended (its
    goodbye waits on the socket) is still never handed out."""
    _proxy, runtime = proxied
    with runtime.session() as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    conninfo = postgres_url.reveal().replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        # With a timeout, pg_terminate_backend waits until the backend has gone.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    with runtime.session() as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar() != pid


def test_streamed_results_still_work_outside_any_transaction(
    proxied: tuple[Proxy, db.Database],
) -> None:
    """A server-side cursor needs a transaction: the runtime begins one for it."""
    _proxy, runtime = proxied
    with runtime.session() as session:
        rows = session.execute(
            text("SELECT generate_series(1, 1200)").execution_options(yield_per=100)
        ).all()
    assert len(rows) == 1200


# --- the parts, on both backends -----------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 500])
@pytest.mark.parametrize("limit", [None, 0, 2, 3, 5])
def test_listing_in_batches_is_the_listing_in_one(
    session: Session, alice: User, size: int, limit: int | None
) -> None:
    for title in ("a", "b", "c", "d", "e"):
        service.create_task(session, user_id=alice.id, task=TaskCreate(title=title))
    expected = service.list_tasks(session, user_id=alice.id, status="all", limit=limit)
    query = (
        select(Task)
        .where(col(Task.user_id) == alice.id)
        .order_by(col(Task.created_at).desc(), col(Task.id).desc())
    )
    keys = ("created_at", "id")
    batched = list(db.in_batches(session, query, Task, keys, limit=limit, size=size))
    assert [t.id for t in batched] == [t.id for t in expected]


@pytest.mark.parametrize(
    ("statement", "reads"),
    [
        ("SELECT tasks.id FROM tasks WHERE tasks.user_id = %(a)s", True),
        ("  SELECT updated_at, undone_by FROM tasks", True),
        ("WITH x AS (SELECT 1) SELECT * FROM x", True),
        (";", True),
        ("SHOW server_version", True),
        ("SELECT tasks.id FROM tasks FOR UPDATE", False),
        ("SELECT id FROM tasks FOR NO KEY UPDATE", False),
        ("SELECT id FROM tasks FOR SHARE", False),
        ("WITH d AS (DELETE FROM tasks RETURNING id) SELECT * FROM d", False),
        ("INSERT INTO tasks (id) VALUES (%(id)s)", False),
        ("UPDATE users SET name = %(n)s", False),
        ("DELETE FROM tasks", False),
        ("SAVEPOINT sa_1", False),
        ("CREATE TABLE t (x int)", False),
        ("SET TIME ZONE 'UTC'", False),
    ],
)
def test_which_statements_run_outside_a_transaction(statement: str, reads: bool) -> None:
    assert only_reads(statement) is reads
