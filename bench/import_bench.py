"""Import: `todo import` of 10,000 tasks in one command, on SQLite and PostgreSQL.

Whole processes, spawn to exit. The file is a Taskwarrior export generated from the seed
(projects, tags, priorities, dues, annotations on some, a UDA, a fifth completed); from it
`todo export` makes the todo.txt and NDJSON files. Each round, in a shuffled order, for each
backend and format: `todo import FILE` into a user with no tasks (10,000 added), the same
command again (10,000 unchanged), `todo export` of those tasks, and `todo undo` of the
import; beside them Taskwarrior's own `task import` of the same file into an empty data
directory, the reference an importer is read against. Medians, and the ratio of todo's
import to Taskwarrior's.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.cli_latency import base_env
from bench.common import (
    DB_PREFIX,
    ROOT,
    TODO,
    Options,
    log,
    pg_admin,
    pg_available,
    pg_drop,
    pg_url,
    ratio,
    save_result,
    summarize,
)

COUNT = 10_000
FORMATS = ("taskwarrior", "todotxt", "json")
_WORDS = "renew call buy fix paint write send book clean plan review pay order check".split()


def taskwarrior_file(count: int, seed: int) -> str:
    """A `task export` of `count` tasks, the same for the same seed."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y%m%dT%H%M%SZ")

    lines = []
    for number in range(count):
        entry = start + timedelta(minutes=rng.randrange(600_000))
        record: dict[str, Any] = {
            "id": number + 1,
            "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "description": " ".join(rng.choices(_WORDS, k=rng.randint(2, 6))).capitalize(),
            "entry": stamp(entry),
            "modified": stamp(entry + timedelta(hours=rng.randrange(1, 500))),
            "status": "pending",
            "urgency": round(rng.uniform(0, 20), 4),
        }
        if rng.random() < 0.2:
            record["status"] = "completed"
            record["end"] = record["modified"]
        if rng.random() < 0.6:
            record["project"] = rng.choice(["house", "house.garden", "work", "work.q4", "car"])
        if rng.random() < 0.5:
            record["tags"] = sorted(set(rng.choices(["errand", "phone", "home", "next"], k=2)))
        if rng.random() < 0.4:
            record["priority"] = rng.choice("HML")
        if rng.random() < 0.3:
            day = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(days=rng.randrange(60))
            record["due"] = stamp(day)
        if rng.random() < 0.2:
            record["annotations"] = [{"entry": record["modified"], "description": "see the mail"}]
        if rng.random() < 0.1:
            record["estimate"] = rng.randint(1, 8)
        lines.append(json.dumps(record, separators=(",", ":")))
    return "[\n" + ",\n".join(lines) + "\n]\n"


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {done.stderr.strip()}")
    return seconds * 1000


def _check(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {done.stderr.strip()}")
    return done.stdout


def run(opts: Options) -> dict[str, Any]:
    from todo_cli import db
    from todo_cli.config import DatabaseURL

    rounds = opts.runs or opts.pick(5, 2)
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    work = Path(tempfile.mkdtemp(prefix="todo-bench-import-"))
    pg_name = f"{DB_PREFIX}import"
    try:
        env0 = {**base_env(work / "home"), "PYTHONPATH": str(ROOT), "TODO_DAEMON": "0", "TZ": "UTC"}
        files = {"taskwarrior": work / "tasks.json"}
        files["taskwarrior"].write_text(taskwarrior_file(COUNT, opts.seed))
        urls: dict[str, str] = {"sqlite": f"sqlite:///{work / 'todo.db'}"}
        if "postgresql" in backends:
            pg_drop(pg_name)
            with pg_admin() as conn:
                conn.execute(f'CREATE DATABASE "{pg_name}"')
            urls["postgresql"] = pg_url(pg_name)
        for backend in backends:
            db.upgrade(DatabaseURL.parse(urls[backend]))
        # The other formats, as todo writes them from the imported Taskwarrior file.
        env = {**env0, "TODO_DATABASE_URL": urls["sqlite"]}
        _check([TODO, "user", "add", "source"], env, work)
        _check([TODO, "import", str(files["taskwarrior"]), "-u", "source"], env, work)
        for name, suffix in (("todotxt", "txt"), ("json", "ndjson")):
            files[name] = work / f"tasks.{suffix}"
            files[name].write_text(_check([TODO, "export", "-f", name, "-u", "source"], env, work))
        _check([TODO, "user", "rm", "source", "--yes"], env, work)

        samples: dict[str, list[float]] = {}
        rng = random.Random(opts.seed)
        task = shutil.which("task")
        for round_number in range(rounds):
            jobs: list[tuple[str, str]] = [(b, f) for b in backends for f in FORMATS]
            if task:
                jobs.append(("taskwarrior", "task"))
            rng.shuffle(jobs)
            for backend, fmt in jobs:
                if fmt == "task":
                    data = work / f"tw-{round_number}"
                    rc = work / "taskrc"
                    rc.write_text(f"data.location={data}\nconfirmation=off\nverbose=nothing\n")
                    tw_env = {**env0, "TASKDATA": str(data), "TASKRC": str(rc)}
                    argv = [task, "rc.hooks=off", "import", str(files["taskwarrior"])]
                    samples.setdefault("task import", []).append(_timed(argv, tw_env, work))
                    continue
                user = f"u{round_number}-{fmt}"
                env = {**env0, "TODO_DATABASE_URL": urls[backend], "TODO_USER": user}
                _check([TODO, "user", "add", user], env, work)
                key = f"{backend} · {fmt}"
                imported = [TODO, "import", str(files[fmt])]
                samples.setdefault(f"import · {key}", []).append(_timed(imported, env, work))
                samples.setdefault(f"import again · {key}", []).append(_timed(imported, env, work))
                exported = [TODO, "export", "-f", fmt]
                samples.setdefault(f"export · {key}", []).append(_timed(exported, env, work))
                samples.setdefault(f"undo · {key}", []).append(_timed([TODO, "undo"], env, work))
            log(f"import: round {round_number + 1}/{rounds} done")
        stats = {name: summarize(values) for name, values in samples.items()}
        reference = stats.get("task import", {}).get("median")
        data = {
            "count": COUNT,
            "rounds": rounds,
            "backends": backends,
            "cases": stats,
            "ratios_to_task_import": {
                name: ratio(value["median"], reference)
                for name, value in stats.items()
                if name.startswith("import · ")
            },
            "load_avg_at_end": os.getloadavg(),
        }
        for name, value in stats.items():
            log(f"  {name}: median {value['median']:.0f} ms")
        save_result("import", data)
        return data
    finally:
        if not opts.keep_db and pg_available():
            pg_drop(pg_name)
        shutil.rmtree(work, ignore_errors=True)


def markdown(data: dict[str, Any]) -> str:
    """The Import section of docs/performance.md."""
    if not data or "cases" not in data:
        return "## Import\n\n*Not measured yet* (`bench/run --only import`).\n"
    cases = data["cases"]
    reference = cases.get("task import", {}).get("median")
    rows = [
        "| command | backend · format | median ms | p95 ms | per task µs | ÷ `task import` |",
        "|---|---|---|---|---|---|",
    ]
    for name, value in sorted(cases.items()):
        if name == "task import":
            continue
        command, _, where = name.partition(" · ")
        share = ratio(value["median"], reference) if command == "import" else None
        rows.append(
            f"| `todo {command}` | {where} | {value['median']:.0f} | {value['p95']:.0f} | "
            f"{value['median'] * 1000 / data['count']:.0f} | "
            f"{f'{share:.2f}×' if share is not None else ''} |"
        )
    if reference is not None:
        value = cases["task import"]
        rows.append(
            f"| `task import` (Taskwarrior 2.6) | its own data files | {value['median']:.0f} | "
            f"{value['p95']:.0f} | {value['median'] * 1000 / data['count']:.0f} | 1.00× |"
        )
    return (
        "## Import\n\n"
        f"`bench/import_bench.py`: one `todo import` of a {data['count']:,}-task file (a "
        "generated Taskwarrior export, and the todo.txt and NDJSON files `todo export` makes "
        "of it) into a user with no tasks, whole processes, "
        f"{data['rounds']} rounds in a shuffled order; then the same import again (every "
        "task unchanged), `todo export` of the 10,000 tasks and `todo undo` of the import. "
        "The whole import is one transaction and one change; its statements are batched "
        "(a lookup of 1,000 ids per SELECT, the inserts as multi-row statements), not a "
        "round trip per task.\n\n" + "\n".join(rows) + "\n"
    )
