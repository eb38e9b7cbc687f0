"""The read path before and after, in one run: `python -m bench.reads_compare --old REV`.

Not part of `bench/run`: docs/performance.md → Filters → *Core reads* quotes it. REV's
product code (`todo_cli/`) is `git archive`d into `bench/.cache/reads_old/REV`; the new
side is this checkout's working tree. Both run with this `.venv`'s Python and packages,
as separate worker processes (old and new alternating which goes first), on the same
databases: a SQLite file and a PostgreSQL database of their own (`todo_bench_reads`),
one user with 10,000 tasks, given attributes as `filter_bench.enrich` gives them, and a
note on every 7th task. Each worker times, in a shuffled order per round, each call in
its own session from one pooled engine (as an API request): the first page of 50
(`list_tasks(filter=…, limit=50)`) for twelve filter forms and `get_task` by number, after
six warm-up calls of each (past psycopg's prepare on a statement's sixth use, as a
running server is); and once per round every task (`iter_tasks` → `task_to_json`, what
`todo list --json` and export stream). Each worker also hashes the JSON of what its
warm-up calls returned: old and new must give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import CACHE_DIR, DB_PREFIX, ROOT, percentile, pg_admin, pg_url

FORMS = (
    "",
    "+errand",
    "+home +errand",
    "project:house",
    "milk",
    "pri:H,M",
    "due.by:fri",
    "status:done done.after:2025-01-01",
    "status:all",
    "status:waiting",
    "id:3,5-9,100-200",
    "project:house or +errand",
)
TASKS = 10_000
SQLITE_PATH = CACHE_DIR / "reads_compare.db"
PG_NAME = f"{DB_PREFIX}reads"
STREAM = "stream every task (iter_tasks)"


def _setup() -> dict[str, str]:
    """Fresh databases (product code of this checkout), and the user's id in each."""
    from psycopg import sql
    from sqlalchemy import insert, update
    from sqlmodel import Session, col

    from bench.filter_bench import enrich
    from todo_cli import db, service
    from todo_cli.config import DatabaseURL
    from todo_cli.models import Task, TaskNote, User

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    SQLITE_PATH.unlink(missing_ok=True)
    with pg_admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(PG_NAME))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_NAME)))
    users = {}
    for url in (f"sqlite:///{SQLITE_PATH}", pg_url(PG_NAME)):
        parsed = DatabaseURL.parse(url)
        db.upgrade(parsed)
        engine = db.make_engine(parsed)
        with Session(engine) as session:
            user_id = service.create_user(session, name="heavy").id
            start = datetime(2025, 1, 1, tzinfo=UTC)
            rows, notes = [], []
            for number in range(1, TASKS + 1):
                task_id = uuid.uuid4()
                at = start + timedelta(minutes=97 * number)
                title = (
                    f"Renew car insurance {number}" if number % 40 == 0 else f"Buy milk {number}"
                )
                rows.append(
                    {
                        "user_id": user_id,
                        "id": task_id,
                        "number": number,
                        "title": title,
                        "created_at": at,
                        "updated_at": at,
                        "version": 1,
                        "is_completed": False,
                        "priority": 0,
                        "search_text": "",
                    }
                )
                if number % 7 == 0:
                    notes.append(
                        {
                            "user_id": user_id,
                            "task_id": task_id,
                            "id": uuid.uuid4(),
                            "created_at": at + timedelta(hours=1),
                            "text": f"called about {number}",
                        }
                    )
            connection = session.connection()
            connection.execute(insert(Task), rows)
            connection.execute(insert(TaskNote), notes)
            connection.execute(
                update(User).where(col(User.id) == user_id).values(last_task_number=TASKS)
            )
            session.commit()
        engine.dispose()
        enrich(url, "heavy")
        users[url] = str(user_id)
    return users


def _worker(url: str, user_id: str, rounds: int) -> None:
    """Run by each side's code (its own PYTHONPATH); JSON on stdout."""
    from todo_cli import db, models, service
    from todo_cli.config import DatabaseURL

    engine = db.make_engine(DatabaseURL.parse(url))
    sessions = db.make_session_factory(engine)
    owner = uuid.UUID(user_id)
    cases: list[tuple[str, str | None]] = [
        (f"page {form or '(default)'}", form) for form in FORMS
    ] + [("get by number", None)]
    times: dict[str, list[float]] = {name: [] for name, _ in [*cases, (STREAM, None)]}
    digest = hashlib.sha256()
    for _name, form in cases * 6:
        with sessions() as session:
            if form is None:
                found = [service.get_task(session, user_id=owner, ref="70")]
            else:
                found = list(service.list_tasks(session, user_id=owner, filter=form, limit=50))
            digest.update(json.dumps([models.task_to_json(t) for t in found]).encode())
    with sessions() as session:
        for task in service.iter_tasks(session, user_id=owner, status="all"):
            digest.update(json.dumps(models.task_to_json(task)).encode())
    rng = random.Random(1)
    for _ in range(rounds):
        order = list(cases)
        rng.shuffle(order)
        for name, form in order:
            start = time.perf_counter_ns()
            with sessions() as session:
                if form is None:
                    service.get_task(session, user_id=owner, ref=str(rng.randint(1, TASKS)))
                else:
                    service.list_tasks(session, user_id=owner, filter=form, limit=50)
            times[name].append((time.perf_counter_ns() - start) / 1e6)
    for _ in range(max(1, rounds // 5)):
        start = time.perf_counter_ns()
        with sessions() as session:
            for task in service.iter_tasks(session, user_id=owner, status="all"):
                json.dumps(models.task_to_json(task))
        times[STREAM].append((time.perf_counter_ns() - start) / 1e6)
    engine.dispose()
    json.dump({"times": times, "digest": digest.hexdigest()}, sys.stdout)


def _old_tree(rev: str) -> Path:
    target = CACHE_DIR / "reads_old" / rev
    if not (target / "todo_cli").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "todo_cli"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the revision to compare against")
    parser.add_argument("--alternations", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    old = _old_tree(args.old)
    users = _setup()
    load = [os.getloadavg()[0]]
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    digests: dict[tuple[str, str], set[str]] = {}
    for turn in range(args.alternations):
        for side in ("old", "new") if turn % 2 == 0 else ("new", "old"):
            for url, user_id in users.items():
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.reads_compare",
                        "--worker",
                        url,
                        user_id,
                        str(args.rounds),
                    ],
                    env={**os.environ, "PYTHONPATH": f"{old if side == 'old' else ROOT}:{ROOT}"},
                    capture_output=True,
                    text=True,
                    check=True,
                    # `-m` puts the working directory first on the path: the side's tree.
                    cwd=old if side == "old" else ROOT,
                )
                out: dict[str, Any] = json.loads(done.stdout)
                backend = url.split(":", 1)[0]
                digests.setdefault((backend, side), set()).add(out["digest"])
                bucket = results.setdefault(backend, {}).setdefault(side, {})
                for name, values in out["times"].items():
                    bucket.setdefault(name, []).extend(values)
        load.append(os.getloadavg()[0])
    print(
        f"old {args.old}, new: the working tree; load average (1 min): "
        + ", ".join(f"{x:.1f}" for x in load)
    )
    for backend, sides in results.items():
        same = digests[(backend, "old")] == digests[(backend, "new")]
        print(f"\n{backend}: old and new give identical JSON: {same}\n")
        print("| call | old median / p95 ms | new median / p95 ms | old ÷ new (median) |")
        print("|---|---|---|---|")
        for name, old_times in sides["old"].items():
            new_times = sides["new"][name]
            o50, o95 = percentile(old_times, 50), percentile(old_times, 95)
            n50, n95 = percentile(new_times, 50), percentile(new_times, 95)
            print(f"| {name} | {o50:.2f} / {o95:.2f} | {n50:.2f} / {n95:.2f} | {o50 / n50:.2f}× |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
