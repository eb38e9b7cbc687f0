"""Filters (SPEC → Finding): each filter form for a 10,000-task user, and `todo list FILTER`
with 100 vs 1,000,000 tasks in the database, on SQLite and PostgreSQL.

`bench/run --only filters`. Not part of a full run's report: its tables go to
bench/results/filters.md, for docs/performance.md's "Filters" section.

The generated data sets have no attributes, so the working copies get them here,
deterministically by task number, for the named users only (`heavy`: 10,000 tasks,
`bench`: 100): due dates from 20 days ago to 40 days ahead on every 4th task, a wait on
every 10th, priorities and projects in turn, tags `errand` (every 5th) and `home` (every
11th), every 6th task completed, and the case-folded search text the service writes.

1. Service: one call per filter form per round, the forms in a shuffled order each round,
   each call in its own session (as the API does per request): the first page of 50
   (`list_tasks(filter=…, limit=50)`, what a terminal shows) and the count.
2. CLI: `todo list FILTER` (piped, every matching row) for `bench` with 100 tasks in the
   database (the tiny set) and among 1,000,000 (the large set), interleaved rounds; the
   ratio large / tiny says whether it stays flat.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import datagen
from bench.common import (
    RESULTS_DIR,
    ROOT,
    TODO,
    Options,
    log,
    pg_available,
    pg_drop,
    ratio,
    save_result,
    summarize,
)
from bench.runner import Case, fixed, run_interleaved

FORMS = (
    "",
    "+errand",
    "-errand",
    "+home +errand",
    "project:house",
    "project.is:house",
    "-project:house",
    "milk",
    '"renew car"',
    "pri:H,M",
    "pri.above:L",
    "due.by:fri",
    "due.before:today",
    "due.after:eom",
    "due:none",
    "wait.after:now",
    "created.before:2025-06-01",
    "status:done done.after:2025-01-01",
    "status:waiting",
    "status:all",
    "id:3,5-9,100-200",
    "is:overdue",
    "project:house or +errand",
    "not (pri:H or due:any)",
)
CLI_FILTER = ("project:house", "+errand", "due.by:eom")
PROJECTS = ("house", "house.garden", "housework", "work", None)
PRIORITIES = (3, 2, 0, -1)


# The service measured on PostgreSQL with the large set: a column of its own, keyed by
# this prefix and the set's size (`--quick` makes it smaller).
LARGE_PG = "postgresql among"


def enrich(url: str, user_name: str) -> uuid.UUID:
    """Give a named user's tasks attributes (see the module docstring); their id."""
    from sqlalchemy import bindparam, delete, insert, text, update
    from sqlmodel import Session, col, select

    from todo_cli import db
    from todo_cli.config import DatabaseURL
    from todo_cli.models import Task, TaskTag, User, UTCDateTime
    from todo_cli.service.validation import search_text

    engine = db.make_engine(DatabaseURL.parse(url))
    now = datetime.now(UTC)
    instant = UTCDateTime()
    try:
        with Session(engine) as session:
            user_id = session.exec(select(User.id).where(col(User.name) == user_name)).one()
            rows = session.exec(
                select(
                    col(Task.number),
                    col(Task.id),
                    col(Task.title),
                    col(Task.description),
                    col(Task.created_at),
                ).where(col(Task.user_id) == user_id)
            ).all()
            values = []
            tags = []
            for number, task_id, title, description, created in rows:
                done = number % 6 == 0
                values.append(
                    {
                        "b_number": number,
                        "b_due": now + timedelta(days=number % 60 - 20, hours=number % 24)
                        if number % 4 == 0
                        else None,
                        "b_wait": now + timedelta(days=3) if number % 10 == 0 else None,
                        "b_priority": PRIORITIES[number % 4],
                        "b_project": PROJECTS[number % 5],
                        "b_completed": done,
                        "b_completed_at": created + timedelta(days=1) if done else None,
                        "b_search": search_text(title, description),
                    }
                )
                for tag, every in (("errand", 5), ("home", 11)):
                    if number % every == 0:
                        tags.append({"user_id": user_id, "task_id": task_id, "tag": tag})
            statement = (
                update(Task)
                .where(col(Task.user_id) == user_id, col(Task.number) == bindparam("b_number"))
                .values(
                    due=bindparam("b_due", type_=instant),
                    wait=bindparam("b_wait", type_=instant),
                    priority=bindparam("b_priority"),
                    project=bindparam("b_project"),
                    is_completed=bindparam("b_completed"),
                    completed_at=bindparam("b_completed_at", type_=instant),
                    search_text=bindparam("b_search"),
                )
            )
            connection = session.connection()
            connection.execute(statement, values)
            connection.execute(delete(TaskTag).where(col(TaskTag.user_id) == user_id))
            if tags:
                connection.execute(insert(TaskTag), tags)
            session.commit()
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    finally:
        engine.dispose()
    return user_id


def _service(url: str, user_id: uuid.UUID, rounds: int, rng: random.Random) -> dict[str, Any]:
    from todo_cli import db, service
    from todo_cli.config import DatabaseURL

    engine = db.make_engine(DatabaseURL.parse(url))
    sessions = db.make_session_factory(engine)
    from sqlalchemy import text

    times: dict[str, dict[str, list[float]]] = {f: {"page": [], "count": []} for f in FORMS}
    floor: list[float] = []
    rows: dict[str, int] = {}
    load_before = os.getloadavg()
    try:
        for form in FORMS:  # warm-up, and how many each matches
            with sessions() as session:
                rows[form] = service.count_tasks(session, user_id=user_id, filter=form)
        for _ in range(rounds):
            order = list(FORMS)
            rng.shuffle(order)
            # The harness's own cost on this busy machine: a session and `SELECT 1`.
            start = time.perf_counter_ns()
            with sessions() as session:
                session.connection().execute(text("SELECT 1"))
            floor.append((time.perf_counter_ns() - start) / 1e6)
            for form in order:
                for kind in ("page", "count"):
                    start = time.perf_counter_ns()
                    with sessions() as session:
                        if kind == "page":
                            service.list_tasks(session, user_id=user_id, filter=form, limit=50)
                        else:
                            service.count_tasks(session, user_id=user_id, filter=form)
                    times[form][kind].append((time.perf_counter_ns() - start) / 1e6)
    finally:
        engine.dispose()
    return {
        "forms": {
            form: {"matches": rows[form], **{k: summarize(v) for k, v in kinds.items()}}
            for form, kinds in times.items()
        },
        "floor": summarize(floor),
        "load_avg": [load_before, os.getloadavg()],
    }


def run(opts: Options) -> dict[str, Any]:
    rounds = opts.runs or opts.pick(100, 15)
    cli_runs = opts.pick(15, 3)
    specs = datagen.specs(opts.quick)
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    work = Path(tempfile.mkdtemp(prefix="todo-bench-filters-"))
    rng = random.Random(opts.seed)
    made: list[str] = []
    result: dict[str, Any] = {"rounds": rounds, "cli_runs": cli_runs, "service": {}, "cli": []}
    try:
        for backend in backends:
            url = datagen.database_url(backend, specs["mid"], opts.seed, "filters", work)
            if backend == "postgresql":
                made.append(url.rsplit("/", 1)[1])
            user_id = enrich(url, "heavy")
            log(f"filters: service on {backend}, {rounds} rounds of {len(FORMS)} forms")
            result["service"][backend] = _service(url, user_id, rounds, rng)
        cases = []
        home = work / "home"
        home.mkdir()
        env0 = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "NO_COLOR": "1",
            "COLUMNS": "100",
            "TODO_DAEMON": "0",
            "TODO_USER": "bench",
            "PYTHONPATH": str(ROOT),
        }
        for backend in backends:
            for name in ("tiny", "large"):
                spec = specs[name]
                url = datagen.database_url(backend, spec, opts.seed, f"filters_cli_{name}", work)
                if backend == "postgresql":
                    made.append(url.rsplit("/", 1)[1])
                enrich(url, "bench")
                if backend == "postgresql" and name == "large":
                    # The same 10,000-task user among 10,000 users, as a shared server
                    # holds them: the planner's choices depend on the share (on the mid
                    # set `heavy` owns nearly every row, and scanning the table wins).
                    heavy = enrich(url, "heavy")
                    log(f"filters: service on {backend} among {spec.tasks:,} tasks")
                    result["service"][f"{LARGE_PG} {spec.tasks:,}"] = _service(
                        url, heavy, rounds, rng
                    )
                    result["large"] = vars(spec)
                labels = {"backend": backend, "db_tasks": spec.tasks, "dataset": name}
                cases.append(
                    Case(
                        f"todo list {' '.join(CLI_FILTER)} · {backend} · db {spec.tasks:,}",
                        fixed(TODO, "list", *CLI_FILTER),
                        {**env0, "TODO_DATABASE_URL": url},
                        str(work),
                        labels=labels,
                    )
                )
        log(f"filters: todo list FILTER, {cli_runs} interleaved rounds")
        result["cli"] = [m.as_dict() for m in run_interleaved(cases, runs=cli_runs, seed=opts.seed)]
    finally:
        if not opts.keep_db:
            for name in made:
                pg_drop(name)
    save_result("filters", result)
    (RESULTS_DIR / "filters.md").write_text(markdown(result))
    return result


def markdown(result: dict[str, Any]) -> str:
    """The "Filters" tables for docs/performance.md."""
    out = []
    service = result["service"]
    backends = [b for b in service if not b.startswith(LARGE_PG)]
    columns = list(service)
    large = next((b for b in service if b.startswith(LARGE_PG)), None)
    mid = datagen.specs(False)["mid"]
    among = (
        f", and on PostgreSQL also the large set, where `heavy` is one of "
        f"{result['large']['users']:,} users and {result['large']['tasks']:,} tasks"
        if large is not None
        else ""
    )
    load = ", ".join(
        f"{b} {service[b]['load_avg'][0][0]:.1f} → {service[b]['load_avg'][1][0]:.1f}"
        for b in columns
    )
    out.append(
        f"Service, a 10,000-task user (`heavy`; the mid set, {mid.tasks:,} tasks in all"
        f"{among}), {result['rounds']} interleaved rounds; "
        "each call in its own session, timed from opening it to closing it. *page*: the first "
        "50 rows (`list_tasks(filter=…, limit=50)`, what a terminal shows), *count*: "
        f"`count_tasks(filter=…)`; median / p95 in ms. Load average (1 min) during the loop: "
        f"{load} on 2 cores shared with other work, so read the p95s against the floor row.\n"
    )
    header = ["filter", "matches"]
    header += [f"{b} {kind}" for b in columns for kind in ("page", "count")]
    if large is not None:
        header.append(f"matches among {result['large']['tasks']:,}")
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))

    def cell(summary: dict[str, float]) -> str:
        return f"{summary['median']:.2f} / {summary['p95']:.2f}"

    floor = ["floor: a session and `SELECT 1`", ""]
    floor += [part for b in columns for part in (cell(service[b]["floor"]), "")]
    floor += [""] * (large is not None)
    out.append("| " + " | ".join(floor) + " |")
    for form in FORMS:
        first = service[backends[0]]["forms"][form]
        cells = [f"`{form}`" if form else "*(none: the default)*", f"{first['matches']:,}"]
        for b in columns:
            measured = service[b]["forms"][form]
            cells += [cell(measured["page"]), cell(measured["count"])]
        if large is not None:
            cells.append(f"{service[large]['forms'][form]['matches']:,}")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    for b in columns:
        forms = service[b]["forms"].values()
        median = max(max(v["page"]["median"], v["count"]["median"]) for v in forms)
        p95 = max(max(v["page"]["p95"], v["count"]["p95"]) for v in forms)
        out.append(
            f"- {b}: worst median of any form {median:.2f} ms, worst p95 {p95:.2f} ms "
            f"(floor p95 {service[b]['floor']['p95']:.2f} ms)."
        )
    out.append("")
    out.append(
        f"`todo list {' '.join(CLI_FILTER)}` (piped) for `bench`, who has 100 tasks, with "
        f"100 and with 1,000,000 tasks in the database; {result['cli_runs']} interleaved "
        "rounds, whole processes; ms.\n"
    )
    out.append("| backend | db tasks | median | p95 | large / tiny (median) |")
    out.append("|---|---|---|---|---|")
    by = {(c["backend"], c["dataset"]): c for c in result["cli"] if "ms" in c}
    for backend in backends:
        tiny, large = by.get((backend, "tiny")), by.get((backend, "large"))
        for case in (tiny, large):
            if case is None:
                continue
            flat = (
                ratio(large["ms"]["median"], tiny["ms"]["median"])
                if case is large and tiny is not None and large is not None
                else None
            )
            out.append(
                f"| {backend} | {case['db_tasks']:,} | {case['ms']['median']:.0f} | "
                f"{case['ms']['p95']:.0f} | {f'{flat:.2f}×' if flat is not None else ''} |"
            )
    for case in result["cli"]:
        if "error" in case:
            out.append(f"\n{case['name']}: not available ({case['error']})")
    return "\n".join(out) + "\n"
