"""One revision's service writes, an iteration per request: run by that revision's venv.

`python -I bench/rev_service_worker.py URL SEED` imports the `todo_cli` installed in the
interpreter's venv (never this checkout's: -I drops the script's folder and PYTHONPATH),
samples the same users as every other worker given the same SEED and data, and answers
each line on stdin with one JSON line: milliseconds per operation of one iteration (one
of each write and a read, shuffled, for a random user; complete before reopen, create
before delete), each call with its own session from one pooled engine, as in
bench/service_bench.py. It works with both create_task signatures (title=… before
release 2, task=TaskCreate after), so two revisions run the same calls.
"""

from __future__ import annotations

import inspect
import json
import random
import sys
import time
from typing import Any

OPS = ("create", "update title", "complete", "reopen", "delete", "get by number")


def main() -> None:
    import psycopg

    from todo_cli import db, service
    from todo_cli.config import DatabaseURL
    from todo_cli.models import TaskUpdate

    url, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    with psycopg.connect(url) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM users WHERE name NOT IN ('heavy', 'huge') ORDER BY id"
            )
        ]
        chosen = rng.sample(ids, min(1000, len(ids)))
        rows = conn.execute(
            "SELECT user_id, number, is_completed FROM tasks WHERE user_id = ANY(%s)"
            " ORDER BY user_id, number",
            (chosen,),
        ).fetchall()
    numbers: dict[Any, list[int]] = {u: [] for u in chosen}
    pending: dict[Any, list[int]] = {u: [] for u in chosen}
    for user_id, number, completed in rows:
        numbers[user_id].append(number)
        if not completed:
            pending[user_id].append(number)
    users = sorted((u for u in chosen if len(pending[u]) > 2), key=str)

    engine = db.make_engine(DatabaseURL.parse(url))
    factory = db.make_session_factory(engine)
    if "task" in inspect.signature(service.create_task).parameters:
        from todo_cli.models import TaskCreate

        def create(s: Any, user_id: Any) -> int:
            task = TaskCreate(title="Benchmark task")  # type: ignore[call-arg]
            return service.create_task(s, user_id=user_id, task=task).number

    else:

        def create(s: Any, user_id: Any) -> int:
            return service.create_task(s, user_id=user_id, title="Benchmark task").number

    for _line in sys.stdin:
        u = rng.choice(users)
        number = rng.choice(numbers[u])
        toggled = str(rng.choice(pending[u]))
        created: list[int] = []
        title = f"Edited {rng.randrange(10**6)}"
        ops = {
            "create": lambda s, u=u, c=created: c.append(create(s, u)),
            "update title": lambda s, u=u, n=number, t=title: service.update_task(
                s, user_id=u, ref=str(n), changes=TaskUpdate(title=t)
            ),
            "complete": lambda s, u=u, r=toggled: service.complete_tasks(s, user_id=u, refs=[r]),
            "reopen": lambda s, u=u, r=toggled: service.reopen_tasks(s, user_id=u, refs=[r]),
            "delete": lambda s, u=u, c=created: service.delete_tasks(
                s, user_id=u, refs=[str(c.pop())]
            ),
            "get by number": lambda s, u=u, n=number: service.get_task(s, user_id=u, ref=str(n)),
        }
        order = list(OPS)
        rng.shuffle(order)
        for first, second in (("complete", "reopen"), ("create", "delete")):
            a, b = order.index(first), order.index(second)
            if a > b:
                order[a], order[b] = order[b], order[a]
        out: dict[str, float] = {}
        for op in order:
            start = time.perf_counter_ns()
            with factory() as session:
                ops[op](session)
            out[op] = (time.perf_counter_ns() - start) / 1e6
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    engine.dispose()


if __name__ == "__main__":
    main()
