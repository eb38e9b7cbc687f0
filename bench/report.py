"""docs/performance.md from the latest results of each section (bench/results/*.json)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from bench.cli_latency import COMPLETION
from bench.common import load_result, ratio

Row = list[str]


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _table(header: Row, rows: Iterable[Row]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _n(count: int | None) -> str:
    return "–" if count is None else f"{count:,}"


class Cli:
    def __init__(self, data: dict[str, Any] | None) -> None:
        self.data = data or {}
        self.cases: list[dict[str, Any]] = self.data.get("cases", [])

    def find(self, **labels: Any) -> dict[str, Any] | None:
        for case in self.cases:
            if all(case.get(k) == v for k, v in labels.items()):
                return case
        return None

    def median(self, **labels: Any) -> float | None:
        case = self.find(**labels)
        if case is None or "error" in case:
            return None
        value: float = case["ms"]["median"]
        return value

    def why(self, **labels: Any) -> str:
        case = self.find(**labels)
        if case is None:
            return "not run"
        return f"not available ({case['error']})" if "error" in case else ""


def _verdict(value: float | None, limit: float, *, higher_is_better: bool = False) -> str:
    if value is None:
        return "not measured yet"
    ok = value >= limit if higher_is_better else value <= limit
    return "**PASS**" if ok else "**FAIL**"


def render() -> str:
    meta = load_result("meta") or {}
    cli = Cli(load_result("cli"))
    service = load_result("service") or {}
    api = load_result("api") or {}
    memory = load_result("memory") or {}
    out: list[str] = []
    w = out.append
    w("# Performance\n")
    w(
        "Written by `bench/run` (see [bench/README.md](../bench/README.md)); every figure below "
        "comes from the run described here. Times are wall-clock milliseconds; *median* and "
        "*p95* are over the runs or calls shown; ratios divide medians measured in the same "
        "interleaved run. Nothing here is a pass/fail test: the budgets of issue 7 are "
        "compared with the figures in [Budgets](#budgets).\n"
    )
    if meta.get("quick"):
        w(
            "> **Quick run** (`--quick`): few runs, and the large data set has 100,000 tasks "
            "instead of 1,000,000. Do not quote these figures.\n"
        )
    w(_status(cli, api, memory))
    w(_machine(meta))
    w(_budgets(cli, service, api, memory))
    w(_cli_section(cli))
    w(_service_section(service))
    w(_api_section(api))
    w(_memory_section(memory))
    roundtrips = load_result("roundtrips")
    if roundtrips:  # an extra section (`--only roundtrips`): its last run, when there is one
        from bench import round_trips

        w(round_trips.render(roundtrips))
    w(_import_section())
    w(_method())
    return "\n".join(out)


# The sections `render` writes from one result each; a section whose result this machine
# does not have is kept as the document has it.
_SECTION_RESULTS = {
    "## CLI latency": "cli",
    "## Service layer at scale": "service",
    "## API under load": "api",
    "## Memory": "memory",
    "## Round trips and the warm server": "roundtrips",
    "## Import": "import",
}
_NOT_MEASURED = "not measured yet"


def merged(rendered: str, current: str) -> str:
    """`rendered` with what it cannot know taken from `current` (the committed report).

    `bench/results/` is not committed, so a run of one section on another machine has no
    results for the others: their sections, and their rows of the budgets table, stay as
    `current` has them, and the sections written by hand (a comparison's analysis, say)
    follow the generated ones as before.
    """
    new, old = _sections(rendered), _sections(current)
    for heading in list(new):
        result = _SECTION_RESULTS.get(heading)
        if result is not None and load_result(result) is None and heading in old:
            new[heading] = old[heading]
    if "## Budgets" in new and "## Budgets" in old:
        new["## Budgets"] = _kept_budget_rows(new["## Budgets"], old["## Budgets"])
    covers = "## What this run covers"
    if covers in new and covers in old:
        new[covers] = _kept_status_lines(new[covers], old[covers])
    for heading, text in old.items():
        if heading not in new:
            new[heading] = text
    return "".join(new.values())


def _sections(text: str) -> dict[str, str]:
    """The document by `## ` heading, in order; what precedes the first one under ''."""
    sections: dict[str, str] = {}
    heading = ""
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            heading = line.rstrip("\n")
        sections[heading] = sections.get(heading, "") + line
    return sections


def _kept_budget_rows(new: str, old: str) -> str:
    """Budget rows this run could not measure, as `old` has them. A row is known by its
    budget's words without the numbers (which only the results know), or failing that
    by the one old row whose budget begins so (an old row may say more, its backend)."""
    earlier = {_row_key(line): line for line in old.splitlines(keepends=True) if "|" in line}
    kept = []
    for line in new.splitlines(keepends=True):
        key = _row_key(line) if _NOT_MEASURED in line else None
        if key is not None:
            found = earlier.get(key)
            if found is None:
                longer = [row for other, row in earlier.items() if other.startswith(key)]
                found = longer[0] if len(longer) == 1 else None
            line = found or line
        kept.append(line)
    return "".join(kept)


def _row_key(line: str) -> str:
    return re.sub(r"[\d,.–\s]+", " ", line.split("|")[1]).strip()


def _kept_status_lines(new: str, old: str) -> str:
    """ "- CLI latency: not run yet." as `old` says it, for a section kept from it."""
    earlier = {line.split(":")[0]: line for line in old.splitlines(keepends=True)}
    return "".join(
        earlier.get(line.split(":")[0], line) if "not run yet" in line else line
        for line in new.splitlines(keepends=True)
    )


def _import_section() -> str:
    from bench import import_bench

    return import_bench.markdown(load_result("import") or {})


def _status(cli: Cli, api: dict[str, Any], memory: dict[str, Any]) -> str:
    todo_cases = [
        c
        for c in cli.cases
        if c.get("tool") == "todo" and c.get("command") not in ("todo --help", COMPLETION)
    ]
    missing = [c for c in todo_cases if "error" in c]
    lines = ["## What this run covers\n"]
    if not cli.cases:
        lines.append("- CLI latency: not run yet.")
    elif missing:
        reason = missing[0]["error"]
        lines.append(
            f"- **`todo` task commands: not available on this branch yet** ({len(missing)} of "
            f"{len(todo_cases)} cases; first reason: `{reason}`). Their rows say *not "
            "available*; they fill in on the first run after the CLI is merged. The floors, "
            "`todo --help`, Taskwarrior, todo.txt-cli and the service-layer stand-in are measured."
        )
    else:
        lines.append("- CLI latency: every `todo` command measured.")
    server = api.get("server")
    if server:
        lines.append(f"- API: measured on `{server}`.")
    else:
        lines.append("- API: not run yet.")
    mem_cases = memory.get("cases", [])
    if mem_cases and all("error" in c for c in mem_cases if c.get("tool") == "todo"):
        lines.append(
            "- Memory: `todo list --json` not available yet; the stand-in "
            "(`bench/standin_cli.py`, streaming with `service.iter_tasks`) is measured."
        )
    return "\n".join(lines) + "\n"


def _machine(meta: dict[str, Any]) -> str:
    m = meta.get("machine", {})
    v = meta.get("versions", {})
    rows = [
        ["CPU", f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores (shared, noisy)"],
        ["RAM", f"{m.get('ram_gib', '?')} GiB"],
        ["OS / kernel", f"{m.get('os', '?')} / {m.get('kernel', '?')}"],
        ["load average at start", ", ".join(f"{x:.2f}" for x in m.get("load_avg_at_start", []))],
        ["last invocation", f"{meta.get('finished_at', '?')}; sections run: "
         f"{', '.join(meta.get('sections_run', []))}; {meta.get('total_seconds', '?')} s"],
    ]  # fmt: skip
    names = [
        ("python", "Python"),
        ("sqlite", "SQLite"),
        ("postgresql", "PostgreSQL"),
        ("todo", "todo"),
        ("taskwarrior", "Taskwarrior (`task`)"),
        ("todo.txt-cli", "todo.txt-cli (`todo-txt`)"),
        ("hyperfine", "hyperfine"),
        ("wrk", "wrk"),
        ("sqlalchemy", "SQLAlchemy"),
        ("sqlmodel", "SQLModel"),
        ("psycopg", "psycopg"),
        ("typer", "Typer"),
        ("rich", "Rich"),
        ("fastapi", "FastAPI"),
        ("uvicorn", "uvicorn"),
    ]
    rows += [[label, f"{v.get(key) or 'missing'}"] for key, label in names]
    times = {}
    for section in ("cli", "service", "api", "memory"):
        result = load_result(section) or {}
        if "section_seconds" in result:
            load = result.get("load_avg_at_end")
            at = result.get("finished_at", "?")
            if load:
                at += f", load average then {', '.join(f'{x:.2f}' for x in load)}"
            times[section] = (result["section_seconds"], at)
    if times:
        total = sum(t for t, _ in times.values())
        rows.append(
            [
                "section run times",
                "; ".join(f"{k} {t:.0f} s (finished {at})" for k, (t, at) in times.items())
                + f"; all sections {total:.0f} s ≈ {total / 60:.1f} min",
            ]
        )
    pg = meta.get("pg_settings", {})
    if pg:
        rows.append(["PostgreSQL settings", ", ".join(f"{k}={val}" for k, val in pg.items())])
    return "## Machine and versions\n\n" + _table(["", ""], rows)


# --- budgets ------------------------------------------------------------------------------


def _budgets(cli: Cli, service: dict[str, Any], api: dict[str, Any], memory: dict[str, Any]) -> str:
    rows: list[Row] = []
    sq = "sqlite"
    typer_floor = cli.median(name='python -c "import typer"')
    sqlmodel_floor = cli.median(name='python -c "import sqlmodel"')
    help_ms = cli.median(name="todo --help")
    r = ratio(help_ms, typer_floor)
    rows.append(
        [
            '`todo --help` ≤ 1.5 × `python -c "import typer"`',
            f"{_ms(help_ms)} / {_ms(typer_floor)} ms = {_x(r)}",
            _verdict(r, 1.5),
        ]
    )
    completion = cli.median(command=COMPLETION)
    r = ratio(completion, typer_floor)
    rows.append(
        [
            '`todo` shell completion ≤ 1.5 × `python -c "import typer"`',
            f"{_ms(completion)} / {_ms(typer_floor)} ms = {_x(r)}",
            _verdict(r, 1.5),
        ]
    )
    for command in ("todo list --json", "todo add", "todo done"):
        value = cli.median(command=command, backend=sq, dataset="tiny", user="bench")
        r = ratio(value, sqlmodel_floor)
        standin = cli.median(
            command=command.replace("todo", "stand-in"), backend=sq, dataset="tiny", user="bench"
        )
        note = (
            f"not available yet; stand-in {_ms(standin)} ms = {_x(ratio(standin, sqlmodel_floor))}"
            if value is None
            else f"{_ms(value)} / {_ms(sqlmodel_floor)} ms = {_x(r)}"
        )
        rows.append(
            [f"`{command}` (SQLite, 100 tasks) ≤ 1.0 × `import sqlmodel`", note, _verdict(r, 1.0)]
        )
    for backend in ("sqlite", "postgresql"):
        big = cli.median(command="todo list", backend=backend, dataset="mid", user="heavy")
        small = cli.median(command="todo list", backend=backend, dataset="mid", user="bench")
        r = ratio(big, small)
        rows.append(
            [
                f"`todo list` 10,000 pending ≤ 1.2 × 100 ({backend})",
                f"{_ms(big)} / {_ms(small)} ms = {_x(r)}" if r else "not available yet",
                _verdict(r, 1.2),
            ]
        )
    large = (cli.data.get("datasets") or {}).get("large", {}).get("tasks")
    worst: tuple[float, str] | None = None
    measured_any = False
    for backend in cli.data.get("backends", []):
        for command in ("todo add", "todo list", "todo list --json", "todo done"):
            a = cli.median(command=command, backend=backend, dataset="large", user="bench")
            b = cli.median(command=command, backend=backend, dataset="tiny", user="bench")
            r = ratio(a, b)
            if r is not None:
                measured_any = True
                if worst is None or r > worst[0]:
                    worst = (r, f"{command} on {backend}")
    rows.append(
        [
            f"every command at {_n(large)} tasks ≤ 1.1 × at 100",
            f"worst: {worst[1]} {_x(worst[0])} (table below)" if worst else "not available yet",
            _verdict(worst[0] if worst else None, 1.1) if measured_any else "not measured yet",
        ]
    )
    ops = service.get("ops", {})
    tasks = service.get("dataset", {}).get("tasks")
    if ops:
        over = {op: s["p95"] for op, s in ops.items() if s["p95"] > 2.0}
        worst_op = max(ops.items(), key=lambda kv: kv[1]["p95"])
        text = f"worst p95 {worst_op[0]} {_ms(worst_op[1]['p95'])} ms; over 2 ms: " + (
            ", ".join(f"{k} {_ms(v)}" for k, v in over.items()) or "none"
        )
        rows.append(
            [
                f"service operations p95 ≤ 2 ms each (PostgreSQL, {_n(tasks)} tasks)",
                text,
                "**PASS**" if not over else "**FAIL**",
            ]
        )
    else:
        rows.append(["service operations p95 ≤ 2 ms each", "not run", "not measured yet"])
    rows += _api_budgets(api)
    rows.append(_memory_budget(memory))
    for row in rows:
        if len(row) == 3:  # a row that brings no measured explanation of its own
            hint = next((h for key, h in HINTS.items() if row[0].startswith(key)), "")
            row.append(hint if "FAIL" in row[2] else "")
    header = ["budget (issue 7)", "measured", "verdict", "what stands in the way (when failing)"]
    return "## Budgets\n\n" + _table(header, rows)


HINTS = {
    "`todo --help`": "Help is Click's plain formatter (Typer's Rich help loaded Rich, markdown-it "
    "and Pygments first); what is left is Typer itself and building the command tree. See "
    "`python -X importtime todo --help`.",
    "`todo` shell completion": "As for help: Typer and the command tree.",
    "`todo list --json`": "Each command pays `import sqlmodel`, then Typer, the settings, the "
    "engine, the schema check and the query; the floor also pays interpreter teardown, which "
    "`todo` skips (`os._exit` after flushing). See `python -X importtime` for what loads.",
    "`todo add`": "As above, plus the write.",
    "`todo done`": "As above, plus the write.",
    "`todo list` 10,000": "The table fetches one page (30 rows and one more) and counts the "
    "rest; a slower ratio means the count or the page is no longer an index range.",
    "every command at": "Some query is not a `(user_id, …)` index range, or does work "
    "proportional to the whole table (see the query plans in the service section).",
    "service operations": "The database work is a fraction of each call (see the raw psycopg "
    "row and the query plans): every call checks a connection out of the pool (pinged "
    "first only when it sat idle for over a second; see db.PING_AFTER_IDLE), then BEGIN "
    "(sent with the first statement), its statements and COMMIT, which waits for the WAL "
    "flush (`synchronous_commit=on`: an acknowledged write is on disk). SQLAlchemy's ORM "
    "adds some 0.4–0.9 ms of Python per call. On a 2-core machine shared with other work, "
    "p95 carries everyone else's load.",
    "API: p95 ≤ 200 ms at 1,000": "A closed loop without think time: latency ≈ connections ÷ "
    "throughput (Little's law), so p95 ≤ 200 ms at 1,000 connections needs ~5,000 req/s of "
    "mixed reads and fsync'ed writes on 2 cores shared by the server, PostgreSQL and wrk. "
    "The think-time row is 1,000 users at a human pace.",
    "API: task GET throughput": "The ceiling (httptools + uvloop, a constant JSON) does "
    "nothing per request but HTTP; a task GET also checks a JWT, makes a database "
    "round trip (the SELECT, and a ping after a second idle; PostgreSQL runs on the same "
    "cores), loads the row through the ORM and runs the sync route in a worker thread.",
    "API: open loop": "Near the server's capacity for the mixed load (see the closed-loop "
    "row): queueing delay grows quickly as the arrival rate approaches it.",
    "API: zero errors": "See the status codes and socket errors in the API section.",
    "`todo list --json` of": "Stream: iterate `iter_tasks` and write each task as it comes; "
    "no list of all rows and no single `json.dumps` of the array.",
}


def _api_budgets(api: dict[str, Any]) -> list[Row]:
    server = api.get("server")
    if not server or "error" in api:
        reason = api.get("error", "not run")
        return [["API budgets", reason, "not measured yet"]]

    def verdict(value: float | None, limit: float, higher: bool = False) -> str:
        v = _verdict(value, limit, higher_is_better=higher)
        return v

    rows: list[Row] = []
    mixed, lean, ceiling = api.get("mixed"), api.get("lean_get"), api.get("ceiling")
    if mixed:
        rows.append(
            [
                "API: zero errors at 1,000 concurrent connections",
                f"{mixed['errors']} errors of {mixed['requests']:,} requests",
                verdict(float(mixed["errors"]), 0),
            ]
        )
        p95 = mixed["latency_ms"]["p95"]
        row = [
            "API: p95 ≤ 200 ms at 1,000 connections (closed loop, mixed)",
            f"p95 {_ms(p95)} ms at {mixed['rps']:.0f} req/s",
            verdict(p95, 200),
        ]
        if lean and "FAIL" in row[2]:
            row.append(
                HINTS["API: p95 ≤ 200 ms at 1,000"]
                + f" The lean reference answers GETs alone, the cheapest operation, at "
                f"{lean['rps']:.0f} req/s with a p95 of {_ms(lean['latency_ms']['p95'])} ms at "
                "1,000 connections; a mix with 30% fsync'ed writes can only be slower."
                + (
                    " Even the bare endpoint's p95 at 1,000 connections was "
                    f"{_ms(ceiling['latency_ms']['p95'])} ms in this run."
                    if ceiling and ceiling["latency_ms"]["p95"] > 200
                    else ""
                )
            )
        rows.append(row)
    for r in api.get("open_loop", []):
        if int(r["rate"]) == 300:
            p95 = r["latency_ms"]["p95"]
            rows.append(
                [
                    "API: open loop 300 req/s p95 ≤ 20 ms",
                    f"p95 {_ms(p95)} ms (achieved {r['achieved_rate']}/s)",
                    verdict(p95, 20),
                ]
            )
    get = api.get("get")
    if get and ceiling:
        r = ratio(get["rps"], ceiling["rps"])
        row = [
            "API: task GET throughput ≥ 0.5 × bare endpoint",
            f"{get['rps']:.0f} / {ceiling['rps']:.0f} req/s = {_x(r)}",
            verdict(r, 0.5, True),
        ]
        if lean and "FAIL" in row[2]:
            row.append(
                "One PostgreSQL round trip per request, on the 2 cores that also run the "
                "server and wrk, costs most of the ceiling: the lean reference "
                "(`bench/lean_app.py`: the same GET, answer and token check, one prepared "
                "SELECT on async psycopg, no ORM, no worker threads) reaches "
                f"{lean['rps']:.0f} / {ceiling['rps']:.0f} req/s = "
                f"{_x(ratio(lean['rps'], ceiling['rps']))}. The rest of the gap, "
                f"{get['rps']:.0f} against {lean['rps']:.0f} req/s, is mostly FastAPI's "
                "dependency graph (the token, the path, the query parameters checked) and "
                "a second statement (the tags and notes, which the reference reads in one). "
                "0.5× would take a GET that does not reach the database (a cache, "
                "which could answer with a task another process has changed)."
            )
        rows.append(row)
    return rows


def _memory_budget(memory: dict[str, Any]) -> Row:
    cases = memory.get("cases", [])
    huge = (memory.get("dataset") or {}).get("named", [])
    big_n = dict(huge).get("huge") if huge else None
    label = f"`todo list --json` of {_n(big_n)} tasks: peak RSS ≤ 1.3 × of 100"

    def rss(tool: str, backend: str, own: int | None) -> float | None:
        for c in cases:
            if c.get("tool") == tool and c.get("backend") == backend and c.get("own_tasks") == own:
                if "error" in c:
                    return None
                value: float = c["peak_rss_kib"]["max"]
                return value
        return None

    r = ratio(rss("todo", "sqlite", big_n), rss("todo", "sqlite", 100))
    if r is not None:
        return [label + " (SQLite)", _x(r), _verdict(r, 1.3)]
    s = ratio(rss("stand-in", "sqlite", big_n), rss("stand-in", "sqlite", 100))
    return [label, f"not available yet; stand-in (SQLite) {_x(s)}", "not measured yet"]


# --- sections -----------------------------------------------------------------------------


def _cli_section(cli: Cli) -> str:
    if not cli.cases:
        return "## CLI latency\n\nNot run yet.\n"
    runs = cli.data.get("runs")
    parts = [
        "## CLI latency\n",
        f"Whole processes, spawn to exit, stdout to /dev/null, {runs} interleaved rounds "
        "(every case once per round, shuffled), after one warm-up run each. "
        "`done` completes a different task each run; `add` appends. "
        "`db` = tasks in the database, `own` = the acting user's tasks (all pending).\n",
        "### Floors\n",
    ]
    rows = []
    for c in cli.cases:
        if c.get("tool") == "floor" or c["name"] in ("todo --help", COMPLETION):
            rows.append(_case_row(f"`{c['name']}`", c))
    parts.append(_table(["command", "median ms", "p95 ms", "min ms"], rows))
    for tool, title in (("todo", "`todo`"), ("stand-in", "Stand-in (service layer only)")):
        cases = [c for c in cli.cases if c.get("tool") == tool and c.get("backend")]
        if not cases:
            continue
        parts.append(f"### {title}\n")
        if tool == "stand-in":
            parts.append(
                "`python -m bench.standin_cli`: the imports, engine, schema check, one service "
                "call and JSON out, then `os._exit(0)` (skips interpreter teardown): roughly "
                "the least a `todo` command that uses SQLModel can cost.\n"
            )
        rows = []
        for c in cases:
            cells = [f"`{c['command']}`", c["backend"], _n(c["db_tasks"]), _n(c["own_tasks"])]
            rows.append(_case_row(cells, c))
        header = ["command", "backend", "db tasks", "own tasks", "median ms", "p95 ms", "min ms"]
        parts.append(_table(header, rows))
        parts.append(_flatness(cli, tool))
    rows = []
    for c in cli.cases:
        if c.get("tool") in ("taskwarrior", "todo.txt"):
            rows.append(_case_row([f"`{c['command']}`", _n(c["own_tasks"])], c))
    if rows:
        parts.append("### Taskwarrior and todo.txt-cli\n")
        parts.append(
            "Each with its own data directory (temporary HOME, `TASKRC`; Taskwarrior with "
            "`confirmation=off`, `verbose=nothing`, loaded by `task import`; todo.txt-cli with "
            "a generated `todo.txt`, `-a` so `do` keeps line numbers), ~20% of tasks done. "
            "Both are single-user tools: their task count is the user's own.\n"
        )
        parts.append(_table(["command", "tasks", "median ms", "p95 ms", "min ms"], rows))
    hf = cli.data.get("hyperfine") or {}
    if hf:
        parts.append("### hyperfine cross-check\n")
        parts.append(
            "The same floors measured by hyperfine (`-N`, alternating order across rounds), "
            "to check the interleaved runner against the standard tool.\n"
        )
        rows = [_case_row(f"`{name}`", c) for name, c in hf.items()]
        parts.append(_table(["command", "median ms", "p95 ms", "min ms"], rows))
    return "\n".join(parts)


def _case_row(cells: str | Row, case: dict[str, Any]) -> Row:
    label = [cells] if isinstance(cells, str) else list(cells)
    if "error" in case:
        return [*label, f"not available ({case['error']})", "", ""]
    s = case["ms"]
    return [*label, _ms(s["median"]), _ms(s["p95"]), _ms(s["min"])]


def _flatness(cli: Cli, tool: str) -> str:
    rows: list[Row] = []
    large = (cli.data.get("datasets") or {}).get("large", {}).get("tasks")
    for backend in cli.data.get("backends", []):
        for command in ("add", "list", "list --json", "done"):
            full = f"{tool} {command}"
            a = cli.median(command=full, backend=backend, dataset="large", user="bench")
            b = cli.median(command=full, backend=backend, dataset="tiny", user="bench")
            heavy = cli.median(command=full, backend=backend, dataset="mid", user="heavy")
            light = cli.median(command=full, backend=backend, dataset="mid", user="bench")
            if a is None and b is None and heavy is None:
                continue
            rows.append([f"`{full}`", backend, _x(ratio(a, b)), _x(ratio(heavy, light))])
    if not rows:
        return ""
    return "Ratios:\n\n" + _table(
        [
            "command",
            "backend",
            f"db {_n(large)} ÷ db 100 (own 100)",
            "own 10,000 ÷ own 100 (db ~10,000)",
        ],
        rows,
    )


def _service_section(service: dict[str, Any]) -> str:
    if not service or "error" in service:
        return f"## Service layer at scale\n\n{service.get('error', 'Not run yet.')}\n"
    ds = service["dataset"]
    parts = [
        "## Service layer at scale\n",
        f"PostgreSQL, {_n(ds['users'])} users, {_n(ds['tasks'])} tasks. {service['calls']:,} "
        "calls per operation for random users (who own ~100 tasks each, ~20% done), all "
        "operations interleaved, each call with its own session from one pooled engine (as an "
        "API request would), timed around session open → service call → close. "
        f"The loop took {service.get('seconds')} s.\n",
    ]
    rows = [
        [f"`{op}`", _ms(s["median"]), _ms(s["p95"]), _ms(s["p99"]), _ms(s["max"])]
        for op, s in service["ops"].items()
    ]
    raw = service["raw_top50"]
    rows.append(
        [
            "raw psycopg top-50 query (one connection, no ORM)",
            _ms(raw["median"]),
            _ms(raw["p95"]),
            _ms(raw["p99"]),
            _ms(raw["max"]),
        ]
    )
    parts.append(_table(["operation", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows))
    heavy = service.get("heavy", {})
    if heavy:
        parts.append("Reads for the users who own many tasks (fewer calls):\n")
        rows = []
        for name, h in heavy.items():
            for op, s in h["ops"].items():
                rows.append(
                    [
                        f"{name} ({_n(h['own_tasks'])} tasks)",
                        f"`{op}`",
                        _ms(s["median"]),
                        _ms(s["p95"]),
                    ]
                )
        parts.append(_table(["user", "operation", "p50 ms", "p95 ms"], rows))
    explain = service.get("explain", {})
    if explain:
        parts.append(
            "### Query plans\n\nEXPLAIN (ANALYZE, BUFFERS) of the SELECTs on `tasks` each read "
            "issues, with the parameters it used:\n"
        )
        rows = []
        for op, plans in explain.items():
            for p in plans:
                rows.append(
                    [
                        f"`{op}`",
                        ", ".join(f"`{i}`" for i in p["indexes"]) or "none",
                        "yes" if p["seq_scan_on_tasks"] else "no",
                        _exec_time(p["plan"]),
                    ]
                )
        parts.append(_table(["read", "indexes used", "seq scan on tasks", "execution"], rows))
        first = explain.get("list top 50 pending", [{}])[0]
        if first.get("plan"):
            parts.append("The top-50 list:\n\n```\n" + first["plan"] + "\n```\n")
    return "\n".join(parts)


def _exec_time(plan: str) -> str:
    for line in plan.splitlines():
        if line.startswith("Execution Time:"):
            return line.split(":", 1)[1].strip()
    return "–"


def _api_section(api: dict[str, Any]) -> str:
    if not api or "error" in api:
        return f"## API under load\n\n{api.get('error', 'Not run yet.')}\n"
    ds = api["dataset"]
    command = api["command"].replace("{host}", "127.0.0.1").replace("{port}", "PORT")
    parts = [
        "## API under load\n",
        f"Server: **{api['server']}** — `{command}` ({api['workers']} workers), on "
        f"PostgreSQL with {_n(ds['users'])} users / {_n(ds['tasks'])} tasks; "
        f"{api['users_in_load']:,} users in the load, each with an HS256 bearer token "
        f"({'on' if api['auth'] else 'off'}). Client and server share the machine's 2 cores.\n",
    ]
    rows = []
    labels = {
        "ceiling": "ceiling: bare FastAPI endpoint, constant JSON",
        "lean_get": "lean reference: the same GET, async psycopg, no ORM (`bench/lean_app.py`)",
        "lean_get_few": "lean reference GET, 64 connections",
        "get": "task GET by id",
        "get_few": "task GET by id, 64 connections",
        "mixed": "mixed 70% read / 30% write (closed loop, no think time)",
        "mixed_think": "mixed, 1,000 users thinking 0–4 s (mean 2 s) between requests",
        "mixed_think_1s": "mixed, 1,000 users thinking 0–2 s (mean 1 s) between requests",
    }
    for key, label in labels.items():
        r = api.get(key)
        if not r:
            continue
        lat = r["latency_ms"]
        rows.append(
            [
                label,
                str(r["connections"]),
                f"{r['seconds']:.0f}",
                f"{r['rps']:.0f}",
                _ms(lat["p50"]),
                _ms(lat["p95"]),
                _ms(lat["p99"]),
                f"{r['non_2xx']} / {_socket_errors(r)}",
            ]
        )
    if rows:
        parts.append("### Closed loop (wrk)\n")
        parts.append(
            _table(
                [
                    "run",
                    "connections",
                    "s",
                    "req/s",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "non-2xx / socket errors",
                ],
                rows,
            )
        )
        get, ceiling = api.get("get"), api.get("ceiling")
        if get and ceiling:
            parts.append(
                f"GET throughput ÷ ceiling: **{_x(ratio(get['rps'], ceiling['rps']))}**. "
                "In a closed loop with no think time, latency ≈ connections ÷ throughput "
                "(Little's law): 1,000 connections at a p95 of 200 ms need ~5,000 req/s.\n"
            )
        for get_key, lean_key in (("get", "lean_get"), ("get_few", "lean_get_few")):
            mine, reference = api.get(get_key), api.get(lean_key)
            if mine and reference:
                parts.append(
                    f"Task GET ÷ lean reference at {mine['connections']:,} connections, the same "
                    f"workers: **{_x(ratio(mine['rps'], reference['rps']))}**.\n"
                )
        lean = api.get("lean_get")
        if lean and ceiling:
            parts.append(
                "The lean reference (`bench/lean_app.py`) is the same GET with only what any "
                "implementation must do: the token check, one prepared SELECT scoped by the "
                "owner on async psycopg (the task with its tags and notes), the same JSON byte "
                "for byte and its ETag; no ORM, no sessions, no worker "
                "threads. It keeps "
                f"**{_x(ratio(lean['rps'], ceiling['rps']))}** of the ceiling: what a "
                "database round trip per request costs on this machine with psycopg, the "
                "driver `todo` uses.\n"
            )
    ol = api.get("open_loop", [])
    if ol:
        parts.append("### Open loop (fixed arrival rate, coordinated omission corrected)\n")
        parts.append(
            "`bench/openloop.py`: request *i* is due at start + i/rate whether or not earlier "
            "ones have answered; latency counts from that due time. Same 70/30 mix.\n"
        )
        rows = []
        for r in ol:
            lat = r["latency_ms"]
            rows.append(
                [
                    f"{r['rate']:.0f}",
                    f"{r['achieved_rate']}",
                    _ms(lat["median"]),
                    _ms(lat["p95"]),
                    _ms(lat["p99"]),
                    str(r["errors"]),
                    _ms(r["send_lag_ms"]["p95"]),
                    str(r["max_connections"]),
                ]
            )
        parts.append(
            _table(
                [
                    "target req/s",
                    "achieved",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "errors",
                    "sender lag p95 ms",
                    "connections",
                ],
                rows,
            )
        )
        mixed = api.get("mixed")
        over = [r for r in ol if mixed and r["rate"] > mixed["rps"]]
        if mixed and over:
            rates = ", ".join(f"{r['rate']:.0f}" for r in over)
            timeouts = sum(r["socket_errors"].get("timeout", 0) for r in over)
            statuses = {status for r in over for status in r["statuses"]}
            parts.append(
                f"{rates} req/s is more than the server's capacity for this mix (the closed "
                f"loop's {mixed['rps']:.0f} req/s): the queue grows for the whole run, latency "
                "climbs toward the generator's 10 s timeout, and requests unanswered by then "
                f"count as errors ({timeouts:,} timeouts). "
                + (
                    "Every request that was answered succeeded.\n"
                    if statuses <= {"200", "201", "204"}
                    else f"Statuses answered: {', '.join(sorted(statuses))}.\n"
                )
            )
    nd = api.get("nodelay_check")
    if nd:
        parts.append("### TCP_NODELAY check\n")
        parts.append(
            "The bare endpoint at 100 req/s (open loop, keep-alive), on asyncio's own event "
            "loop, started by plain `uvicorn --workers N` and by `bench/serve.py` (the same, "
            "with the listening socket bound as IPPROTO_TCP, as `todo serve` binds it). "
            "uvicorn's multi-worker supervisor leaves Nagle's algorithm on "
            "(Kludex/uvicorn#3149): each response's body waits for the client's delayed ACK. "
            "`todo serve` binds its socket the fixed way, and uvloop (in the `api` extra, so "
            "what `todo serve` runs on here) sets TCP_NODELAY by itself.\n"
        )
        rows = [
            [f"`{label}`", _ms(r["latency_ms"]["median"]), _ms(r["latency_ms"]["p95"])]
            for label, r in nd.items()
        ]
        parts.append(_table(["server", "p50 ms", "p95 ms"], rows))
    return "\n".join(parts)


def _socket_errors(r: dict[str, Any]) -> int:
    return sum(v for k, v in r["socket_errors"].items() if k != "status")


def _memory_section(memory: dict[str, Any]) -> str:
    cases = memory.get("cases", [])
    if not cases:
        return "## Memory\n\nNot run yet.\n"
    rows = []
    for c in cases:
        if "error" in c:
            rows.append([c["name"], f"not available ({c['error']})"])
        else:
            rows.append([c["name"], f"{c['peak_rss_kib']['max'] / 1024:.1f}"])
    return (
        "## Memory\n\nPeak RSS (GNU `time -f %M`, the largest of "
        f"{memory.get('runs')} runs) of listing a user's pending tasks as JSON, for a user with "
        "100 and one with many tasks in the same large database.\n\n"
        + _table(["command", "peak RSS MiB"], rows)
    )


def _method() -> str:
    return (
        "## How to read this\n\n"
        "- The machine is shared and noisy: compare ratios within one run, not absolute "
        "figures across runs. Each section records its own timing and the load average.\n"
        "- CLI cases run interleaved in one loop, so drift lands on all of them; the "
        "hyperfine table is a cross-check of the same floors.\n"
        "- Service figures include session creation and checking a connection out of the "
        "pool (a ping first only after a second idle), as every API request pays them.\n"
        "- API figures include the load generator's own CPU use: wrk (2 threads) or the "
        "open-loop generator run on the same 2 cores as the server and PostgreSQL.\n"
    )
