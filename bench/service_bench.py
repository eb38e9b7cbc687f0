"""Service layer at scale: every operation on PostgreSQL with 10,000 users / 1,000,000 tasks.

Each call opens its own session from one engine's pool and closes it, as the API does per
request. All operations run interleaved (one of each per iteration, in a shuffled order,
for a random user), so drift hits them alike. The top-50 query is also run through raw
psycopg on one connection as the floor. The list and get queries are EXPLAINed (ANALYZE,
BUFFERS), and the indexes they use are recorded.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import datagen
from bench.common import Options, log, pg_available, pg_drop, save_result, summarize
from todo_cli.models import TaskCreate

TOP50_SQL = (
    "SELECT user_id, id, number, title, description, is_completed, created_at, updated_at,"
    " version FROM tasks WHERE user_id = %s AND is_completed = false"
    " ORDER BY created_at DESC, id DESC LIMIT 50"
)
OPS = (
    "create",
    "get by number",
    "get by UUID",
    "get by UUID prefix",
    "list top 50 pending",
    "count pending",
    "update title",
    "complete",
    "reopen",
    "delete",
)


@dataclass
class UserTasks:
    user_id: uuid.UUID
    numbers: list[int]
    ids: list[uuid.UUID]
    pending: list[int]


def _prefix(task_id: uuid.UUID) -> str:
    """An 8-digit UUID prefix, longer if needed: an all-digit reference is a task number."""
    text = task_id.hex
    length = 8
    while text[:length].isdigit():
        length += 1
    return text[:length]


def _sample_users(url: str, count: int, rng: random.Random) -> list[UserTasks]:
    import psycopg

    with psycopg.connect(url) as conn:
        users = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM users WHERE name NOT IN ('heavy', 'huge') ORDER BY id"
            )
        ]
        chosen = rng.sample(users, min(count, len(users)))
        rows = conn.execute(
            "SELECT user_id, id, number, is_completed FROM tasks WHERE user_id = ANY(%s)",
            (chosen,),
        ).fetchall()
    by_user: dict[uuid.UUID, UserTasks] = {u: UserTasks(u, [], [], []) for u in chosen}
    for user_id, task_id, number, completed in rows:
        entry = by_user[user_id]
        entry.numbers.append(number)
        entry.ids.append(task_id)
        if not completed:
            entry.pending.append(number)
    return [u for u in by_user.values() if len(u.pending) > 2]


def run(opts: Options) -> dict[str, Any]:
    if not pg_available():
        log("PostgreSQL is not reachable: service section skipped")
        data: dict[str, Any] = {"error": "PostgreSQL not reachable"}
        save_result("service", data)
        return data
    spec = datagen.specs(opts.quick)["large"]
    calls = opts.runs or opts.pick(2000, 300)
    log(f"service: preparing PostgreSQL {spec.name} ({spec.users:,} users, {spec.tasks:,} tasks)")
    url = datagen.pg_copy(spec, opts.seed, "service")
    dbname = url.rsplit("/", 1)[1]
    try:
        return _measure(opts, url, spec, calls)
    finally:
        if not opts.keep_db:
            pg_drop(dbname)


def _measure(opts: Options, url: str, spec: datagen.DatasetSpec, calls: int) -> dict[str, Any]:
    import psycopg
    from sqlmodel import Session

    from todo_cli import db, service
    from todo_cli.config import DatabaseURL
    from todo_cli.models import TaskUpdate

    rng = random.Random(opts.seed)
    engine = db.make_engine(DatabaseURL.parse(url))
    factory = db.make_session_factory(engine)
    users = _sample_users(url, 1000, rng)
    log(f"service: {len(users)} sampled users, {calls} calls per operation")

    def call(fn: Callable[[Session], object]) -> float:
        start = time.perf_counter_ns()
        with factory() as session:
            fn(session)
        return (time.perf_counter_ns() - start) / 1e6

    times: dict[str, list[float]] = {op: [] for op in OPS}
    raw_times: list[float] = []
    raw = psycopg.connect(url, autocommit=True)

    def iteration(record: bool) -> None:
        u = rng.choice(users)
        k = rng.randrange(len(u.numbers))
        number, task_id = u.numbers[k], u.ids[k]
        toggled = rng.choice(u.pending)
        created: list[int] = []

        def create(s: Session) -> None:
            created.append(
                service.create_task(
                    s, user_id=u.user_id, task=TaskCreate(title="Benchmark task")
                ).number
            )

        ops: dict[str, Callable[[Session], object]] = {
            "create": create,
            "get by number": lambda s: service.get_task(s, user_id=u.user_id, ref=str(number)),
            "get by UUID": lambda s: service.get_task(s, user_id=u.user_id, ref=str(task_id)),
            "get by UUID prefix": lambda s: service.get_task(
                s, user_id=u.user_id, ref=_prefix(task_id)
            ),
            "list top 50 pending": lambda s: service.list_tasks(
                s, user_id=u.user_id, status="pending", limit=50
            ),
            "count pending": lambda s: service.count_tasks(s, user_id=u.user_id),
            "update title": lambda s: service.update_task(
                s,
                user_id=u.user_id,
                ref=str(number),
                changes=TaskUpdate(title=f"Edited {rng.randrange(10**6)}"),
            ),
            "complete": lambda s: service.complete_tasks(s, user_id=u.user_id, refs=[str(toggled)]),
            "reopen": lambda s: service.reopen_tasks(s, user_id=u.user_id, refs=[str(toggled)]),
            "delete": lambda s: service.delete_tasks(
                s, user_id=u.user_id, refs=[str(created.pop())]
            ),
        }
        order = list(OPS)
        rng.shuffle(order)
        # Pairs keep the data stable: complete before reopen, create before delete.
        for first, second in (("complete", "reopen"), ("create", "delete")):
            a, b = order.index(first), order.index(second)
            if a > b:
                order[a], order[b] = order[b], order[a]
        for op in order:
            elapsed = call(ops[op])
            if record:
                times[op].append(elapsed)
        start = time.perf_counter_ns()
        raw.execute(TOP50_SQL, (u.user_id,)).fetchall()
        if record:
            raw_times.append((time.perf_counter_ns() - start) / 1e6)

    warmup = min(200, calls // 5)
    for _ in range(warmup):
        iteration(False)
    started = time.monotonic()
    for i in range(calls):
        iteration(True)
        if (i + 1) % 500 == 0:
            log(f"  {i + 1}/{calls} iterations")
    elapsed = time.monotonic() - started

    heavy = _heavy_users(factory, calls // 10 or 20, rng)
    explains = _explain(engine, factory, users[0], spec)
    raw.close()
    engine.dispose()
    data: dict[str, Any] = {
        "dataset": vars(spec),
        "calls": calls,
        "seconds": round(elapsed, 1),
        "ops": {op: summarize(t) for op, t in times.items()},
        "raw_top50": summarize(raw_times),
        "heavy": heavy,
        "explain": explains,
    }
    save_result("service", data)
    for op, s in data["ops"].items():
        log(f"  {op:22s} p50 {s['median']:.2f} ms  p95 {s['p95']:.2f} ms  p99 {s['p99']:.2f} ms")
    r = data["raw_top50"]
    log(f"  {'raw psycopg top 50':22s} p50 {r['median']:.2f} ms  p95 {r['p95']:.2f} ms")
    return data


def _heavy_users(factory: Callable[[], Any], calls: int, rng: random.Random) -> dict[str, Any]:
    """The same reads for the users who own 10,000 and 100,000 tasks."""
    from sqlmodel import col, select

    from todo_cli import service
    from todo_cli.models import User

    out: dict[str, Any] = {}
    with factory() as session:
        query = select(User).where(col(User.name).in_(["heavy", "huge"]))
        named = {u.name: u for u in session.exec(query)}
    for name, user in sorted(named.items()):
        with factory() as session:
            ids = [t.id for t in service.list_tasks(session, user_id=user.id, limit=2000)]
        ops = _heavy_ops(user, ids, rng)
        times: dict[str, list[float]] = {op: [] for op in ops}
        for _ in range(calls):
            for op, fn in ops.items():
                start = time.perf_counter_ns()
                with factory() as session:
                    fn(session)
                times[op].append((time.perf_counter_ns() - start) / 1e6)
        out[name] = {
            "own_tasks": user.last_task_number,
            "ops": {op: summarize(t) for op, t in times.items()},
        }
    return out


def _heavy_ops(
    user: Any, ids: list[uuid.UUID], rng: random.Random
) -> dict[str, Callable[[Any], object]]:
    from todo_cli import service

    def top50(s: Any) -> object:
        return service.list_tasks(s, user_id=user.id, limit=50)

    def count(s: Any) -> object:
        return service.count_tasks(s, user_id=user.id)

    def by_number(s: Any) -> object:
        return service.get_task(
            s, user_id=user.id, ref=str(rng.randrange(1, user.last_task_number))
        )

    def by_prefix(s: Any) -> object:
        return service.get_task(s, user_id=user.id, ref=_prefix(rng.choice(ids)))

    return {
        "list top 50 pending": top50,
        "count pending": count,
        "get by number": by_number,
        "get by UUID prefix": by_prefix,
    }


_INDEX = re.compile(
    r"(?:Index Only Scan|Index Scan)(?: Backward)? using (\w+)|Bitmap Index Scan on (\w+)"
)


def _explain(engine: Any, factory: Callable[[], Any], u: UserTasks, spec: Any) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) the SELECTs each read issues, with their real parameters."""
    from sqlalchemy import event

    from todo_cli import service

    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_a: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, params))

    reads: dict[str, Callable[[Any], object]] = {
        "list top 50 pending": lambda s: service.list_tasks(s, user_id=u.user_id, limit=50),
        "get by number": lambda s: service.get_task(s, user_id=u.user_id, ref=str(u.numbers[0])),
        "get by UUID": lambda s: service.get_task(s, user_id=u.user_id, ref=str(u.ids[0])),
        "get by UUID prefix": lambda s: service.get_task(
            s, user_id=u.user_id, ref=_prefix(u.ids[0])
        ),
        "count pending": lambda s: service.count_tasks(s, user_id=u.user_id),
    }
    out: dict[str, Any] = {}
    for name, fn in reads.items():
        captured.clear()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            with factory() as session:
                fn(session)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        plans = []
        with engine.connect() as conn:
            for statement, params in captured:
                if "FROM tasks" not in statement:
                    continue  # the user-exists check (primary key of users)
                result = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                plan = "\n".join(str(r[0]) for r in result)
                plans.append(
                    {
                        "sql": " ".join(statement.split()),
                        "plan": plan,
                        "indexes": sorted({a or b for a, b in _INDEX.findall(plan)}),
                        "seq_scan_on_tasks": "Seq Scan on tasks" in plan,
                    }
                )
            conn.rollback()
        out[name] = plans
    return out
