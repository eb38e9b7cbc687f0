"""Round trips and the warm server: `todo` cold and warm, at 0, 20 and 50 ms to PostgreSQL.

`bench/run --only roundtrips` (not part of a full run). Every PostgreSQL command goes
through `latency_proxy` (one proxy per round-trip time, each adding half of it in each
direction), so a local server stands in for a remote one (Neon from a laptop). Cases:

- *cold*: `TODO_DAEMON=0`, the command in its own process, which connects;
- *warm*: served by a warm server (`todo_cli/warm/`) started for the run in a socket
  directory of its own (and stopped at the end), which keeps its connection per URL;
- SQLite (no network) cold and warm; the floors `python -c pass` (what the warm client
  is compared with) and `python -c "import sqlmodel"` (what a cold command is compared
  with); Taskwarrior (`task`) and todo.txt as shell one-liners (`grep`, `sed`, `printf >>`
  on a `todo.txt` file) with the same 100 tasks.

All cases run interleaved (`runner.run_interleaved`), so the machine's drift lands on all
of them. Round trips are counted in a pass of their own through the 0 ms proxy: each
command run once to warm up and once counted, back to back. In the interleaved loop a
warm command finds its connection idle for more than a second (`db.PING_AFTER_IDLE`),
so its wall time includes one ping more than the count shows. Data sets: `tiny` (the
`bench` user's 100 pending tasks) and, unless `--quick`, `large` (the same user among
1,000,000 tasks; at 0 ms only).

Results: `bench/results/roundtrips.json` and, as Markdown, `bench/results/roundtrips.md`
(also rendered into docs/performance.md by a full report).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import compared, datagen
from bench.cli_latency import base_env
from bench.common import (
    PYTHON,
    RESULTS_DIR,
    ROOT,
    TODO,
    Options,
    ensure_tools,
    log,
    pg_available,
    pg_drop,
    ratio,
    save_result,
)
from bench.latency_proxy import Proxy, kind_of
from bench.runner import Case, fixed, run_interleaved

RTTS_MS = (0, 20, 50)
COMMANDS = ("list", "list --json", "add", "done")
FLOOR_PASS = "python -c pass"
FLOOR_SQLMODEL = 'python -c "import sqlmodel"'


class _Numbers:
    """Distinct pending task numbers for every `done` run: each case gets its own range."""

    def __init__(self, owned: int, per_case: int) -> None:
        self.top = owned
        self.per_case = per_case

    def take(self) -> Callable[[int], str]:
        top = self.top
        self.top -= self.per_case
        if self.top < 1:
            raise RuntimeError("not enough pending tasks for every `done` run")
        return lambda i: str(top - i)


def _proxied(url: str, proxy: Proxy) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


def _argv(command: str, numbers: Callable[[int], str] | None) -> Callable[[int], list[str]]:
    if command == "add":
        return lambda i: [TODO, "add", f"Benchmark task {i}"]
    if command == "done":
        assert numbers is not None
        return lambda i: [TODO, "done", numbers(i)]
    return fixed(TODO, *command.split())


def _served(env: dict[str, str]) -> int:
    done = subprocess.run(
        [TODO, "daemon", "status", "--json"], env=env, capture_output=True, timeout=60
    )
    try:
        return int(json.loads(done.stdout)["server"]["commands"])
    except (ValueError, KeyError, TypeError):
        return -1


def _count(
    proxy: Proxy, argv: list[str], env: dict[str, str], *, warm_env: dict[str, str] | None
) -> dict[str, Any]:
    """Run `argv` once and report what went through the (0 ms) proxy."""
    before = _served(warm_env) if warm_env is not None else None
    proxy.counts.reset()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    snapshot = proxy.counts.snapshot()
    kinds = proxy.counts.kinds()
    result = {
        "exit": done.returncode,
        "round_trips": snapshot["round_trips"],
        "pings": kinds["ping"],
        "prepares": kinds["prepare"],
        "connections": snapshot["connections"],
        "asked": [" ; ".join(trip["asked"]) for trip in snapshot["log"]],
    }
    if warm_env is not None:
        result["served_warm"] = _served(warm_env) == (before or 0) + 1
    return result


def run(opts: Options) -> dict[str, Any]:
    runs = opts.runs or opts.pick(10, 3)
    tools = ensure_tools(["task"])
    specs = datagen.specs(opts.quick)
    sets = ["tiny"] if opts.quick else ["tiny", "large"]
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    work = Path(tempfile.mkdtemp(prefix="todo-bench-rtt-"))
    pg_databases: list[str] = []
    runtime_dir = work / "run"
    runtime_dir.mkdir(mode=0o700)
    home = work / "home"
    home.mkdir()
    env0 = base_env(home)
    env_root = {**env0, "PYTHONPATH": str(ROOT), "XDG_RUNTIME_DIR": str(runtime_dir)}
    warm_env = {**env_root, "TODO_DAEMON": "1"}
    server_pid: int | None = None
    try:
        with ExitStack() as stack:
            target = ("127.0.0.1", 5432)
            proxies = {rtt: stack.enter_context(Proxy(target, delay=rtt / 2000)) for rtt in RTTS_MS}
            urls: dict[tuple[str, str], str] = {}
            for backend in backends:
                for ds in sets:
                    log(f"roundtrips: preparing {backend} data set {ds}")
                    urls[(backend, ds)] = datagen.database_url(
                        backend, specs[ds], opts.seed, "rtt", work
                    )
                    if backend == "postgresql":
                        pg_databases.append(urls[(backend, ds)].rsplit("/", 1)[1])
            started = subprocess.run(
                [TODO, "daemon", "start", "--json"], env=warm_env, capture_output=True, timeout=60
            )
            if started.returncode != 0:
                raise RuntimeError(f"todo daemon start failed: {started.stderr.decode()}")
            server_pid = int(json.loads(started.stdout)["server"]["pid"])
            log(f"roundtrips: warm server {server_pid} in {runtime_dir}")

            cases: list[Case] = [
                Case(FLOOR_PASS, fixed(PYTHON, "-c", "pass"), env0, str(work),
                     labels={"tool": "floor", "command": FLOOR_PASS}),
                Case(FLOOR_SQLMODEL, fixed(PYTHON, "-c", "import sqlmodel"), env0, str(work),
                     labels={"tool": "floor", "command": FLOOR_SQLMODEL}),
            ]  # fmt: skip
            counts: list[dict[str, Any]] = []
            # Per case: the probe, the runs, and one spare.
            numbers = {key: _Numbers(100, runs + 2) for key in urls}
            for (backend, ds), url in urls.items():
                rtts = (None,) if backend == "sqlite" else (RTTS_MS if ds == "tiny" else (0,))
                for rtt in rtts:
                    database = url if rtt is None else _proxied(url, proxies[rtt])
                    for mode in ("cold", "warm"):
                        env = {
                            **env_root,
                            "TODO_DATABASE_URL": database,
                            "TODO_USER": "bench",
                            "TODO_DAEMON": "1" if mode == "warm" else "0",
                        }
                        for command in COMMANDS:
                            pick = numbers[(backend, ds)].take() if command == "done" else None
                            labels = {
                                "tool": "todo",
                                "command": f"todo {command}",
                                "backend": backend,
                                "dataset": ds,
                                "db_tasks": specs[ds].tasks,
                                "mode": mode,
                                "rtt_ms": rtt,
                            }
                            where = f"{backend} · {specs[ds].tasks:,} tasks" + (
                                "" if rtt is None else f" · {rtt} ms"
                            )
                            cases.append(
                                Case(
                                    f"todo {command} · {mode} · {where}",
                                    _argv(command, pick),
                                    env,
                                    str(work),
                                    labels=labels,
                                )
                            )
                        if backend == "postgresql" and rtt == 0:
                            for command in COMMANDS:
                                pick = numbers[(backend, ds)].take() if command == "done" else None
                                argv = _argv(command, pick)
                                if mode == "warm":  # the server's connection, made and checked
                                    subprocess.run(argv(0), env=env, capture_output=True)
                                counted = _count(
                                    proxies[0],
                                    argv(1),
                                    env,
                                    warm_env=warm_env if mode == "warm" else None,
                                )
                                counted.update(command=f"todo {command}", mode=mode, dataset=ds)
                                counts.append(counted)
                                log(
                                    f"  round trips: todo {command} · {mode} · {ds}: "
                                    f"{counted['round_trips']} ({counted['pings']} pings, "
                                    f"{counted['connections']} connects)"
                                )
            loaded: dict[str, compared.Loaded] = {}
            if tools["task"]:
                tw = compared.taskwarrior(100, opts.seed, work, env0)
                loaded["task"] = tw
                cases += _taskwarrior_cases(tw, str(work))
            tt = compared.todo_txt(100, opts.seed, work, env0)
            loaded["todo.txt"] = tt
            cases += _todo_txt_cases(tt, str(work))

            log(f"roundtrips: {len(cases)} cases × {runs} interleaved rounds")
            measured = run_interleaved(cases, runs=runs, warmup=1, seed=opts.seed)
            served = _served(warm_env)
        data = {
            "finished_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "runs": runs,
            "rtts_ms": list(RTTS_MS),
            "backends": backends,
            "datasets": {ds: vars(specs[ds]) for ds in sets},
            "warm_server_commands": served,
            "counts": counts,
            "cases": [m.as_dict() for m in measured],
        }
        save_result("roundtrips", data)
        markdown = render(data)
        (RESULTS_DIR / "roundtrips.md").write_text(markdown)
        print(markdown)
        return data
    finally:
        subprocess.run([TODO, "daemon", "stop"], env=warm_env, capture_output=True, timeout=60)
        if server_pid is not None:
            try:
                os.kill(server_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            time.sleep(0.2)
        if not opts.keep_db:
            for name in pg_databases:
                pg_drop(name)
        shutil.rmtree(work, ignore_errors=True)


def _taskwarrior_cases(tw: compared.Loaded, cwd: str) -> list[Case]:
    labels = {"tool": "taskwarrior", "db_tasks": 100}
    pending = tw.pending
    return [
        Case("task next · 100", fixed("task", "next"), tw.env, cwd,
             labels={**labels, "command": "task next"}),
        Case("task add · 100", lambda i: ["task", "add", f"Benchmark task {i}"], tw.env, cwd,
             labels={**labels, "command": "task add"}),
        Case("task <uuid> done · 100", lambda i: ["task", pending[-1 - i], "done"], tw.env, cwd,
             labels={**labels, "command": "task <uuid> done"}),
    ]  # fmt: skip


def _todo_txt_cases(tt: compared.Loaded, cwd: str) -> list[Case]:
    """todo.txt as the shell does it: the least a plain-text task list can cost."""
    path = str(tt.home / "todo.txt")
    labels = {"tool": "todo.txt", "db_tasks": 100}
    pending = tt.pending
    return [
        Case("grep -v '^x ' todo.txt · 100", fixed("grep", "-v", "^x ", path), tt.env, cwd,
             labels={**labels, "command": "grep -v '^x ' todo.txt"}),
        Case("printf … >> todo.txt · 100",
             lambda i: ["sh", "-c", 'printf "%s\\n" "$1" >> "$2"', "sh", f"Benchmark task {i}",
                        path],
             tt.env, cwd, labels={**labels, "command": "printf … >> todo.txt"}),
        Case("sed -i 'Ns/^/x /' todo.txt · 100",
             lambda i: ["sed", "-i", f"{pending[-1 - i]}s/^/x /", path], tt.env, cwd,
             labels={**labels, "command": "sed -i 'Ns/^/x /' todo.txt"}),
    ]  # fmt: skip


# --- the report ---------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _median(cases: list[dict[str, Any]], **labels: Any) -> float | None:
    for case in cases:
        if all(case.get(k) == v for k, v in labels.items()) and "ms" in case:
            return float(case["ms"]["median"])
    return None


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def render(data: dict[str, Any]) -> str:
    """The section's Markdown: round trips, wall time by RTT, ratios to the floors."""
    cases: list[dict[str, Any]] = data.get("cases", [])
    parts = ["## Round trips and the warm server\n"]
    parts.append(
        f"`bench/run --only roundtrips` (`bench/round_trips.py`), {data.get('runs')} "
        "interleaved rounds, finished "
        f"{data.get('finished_at', '?')}; ms spawn to exit, medians. PostgreSQL through "
        "`bench/latency_proxy.py` at the round-trip time shown (0 ms: the proxy alone). "
        "*cold*: `TODO_DAEMON=0`, a process of its own that connects; *warm*: served by a "
        "warm server that keeps its connection.\n"
    )
    counts = data.get("counts", [])
    if counts:
        parts.append(
            "### Round trips to PostgreSQL\n\nEach command once after a warm-up, back to "
            "back, through the 0 ms proxy. *round trips*: the command's own; *pings*: the "
            "pool's, after a connection sat idle over a second; *prepares*: psycopg "
            "preparing a statement on its 6th use on a connection (a Parse and a Sync, once per "
            "statement and connection: the warm server's connection pays each once); "
            "*connects*: TCP connections opened (each a round trip more on a real network, "
            "and TLS more on Neon).\n"
        )
        rows = []
        for c in counts:
            if "asked" in c:  # classified again from the log, by the current rules
                kinds = [kind_of(trip.split(" ; ")) for trip in c["asked"]]
                c = {**c, "pings": kinds.count("ping"), "prepares": kinds.count("prepare")}
            rows.append(
                [
                    c["command"],
                    c["mode"],
                    f"{datagen_tasks(data, c['dataset'])}",
                    str(c["round_trips"] - c["pings"] - c.get("prepares", 0)),
                    str(c["pings"]),
                    str(c.get("prepares", 0)),
                    str(c["connections"]),
                    "yes" if c.get("served_warm", c["mode"] == "cold") else "**no**",
                ]
            )
        parts.append(
            _table(
                [
                    "command",
                    "mode",
                    "tasks",
                    "round trips",
                    "pings",
                    "prepares",
                    "connects",
                    "as meant",
                ],
                rows,
            )
        )
    parts.append("### Wall time by round-trip time (PostgreSQL, 100 tasks)\n")
    header = ["command", "mode", *[f"{rtt} ms RTT" for rtt in data.get("rtts_ms", [])]]
    rows = []
    for mode in ("cold", "warm"):
        for command in COMMANDS:
            row = [f"`todo {command}`", mode]
            for rtt in data.get("rtts_ms", []):
                row.append(
                    _ms(
                        _median(
                            cases,
                            command=f"todo {command}",
                            mode=mode,
                            backend="postgresql",
                            dataset="tiny",
                            rtt_ms=rtt,
                        )
                    )
                )
            rows.append(row)
    parts.append(_table(header, rows))
    passes = _median(cases, command=FLOOR_PASS)
    sqlmodel = _median(cases, command=FLOOR_SQLMODEL)
    parts.append(
        "### Against the floors\n\n"
        f'`python -c pass` {_ms(passes)} ms, `python -c "import sqlmodel"` {_ms(sqlmodel)} '
        "ms in the same loop. Budgets (issue 18): warm ≤ 2.5 × `python -c pass`, cold ≤ "
        "1.0 × `import sqlmodel`. PostgreSQL rows at 0 ms (through the proxy).\n"
    )
    rows = []
    for ds, spec in (data.get("datasets") or {}).items():
        for backend in data.get("backends", []):
            rtt = None if backend == "sqlite" else 0
            for command in COMMANDS:
                where = {"command": f"todo {command}", "backend": backend, "dataset": ds,
                         "rtt_ms": rtt}  # fmt: skip
                warm = _median(cases, mode="warm", **where)
                cold = _median(cases, mode="cold", **where)
                rw, rc = ratio(warm, passes), ratio(cold, sqlmodel)
                rows.append(
                    [
                        f"`todo {command}`",
                        backend,
                        f"{spec['tasks']:,}",
                        _ms(warm),
                        f"{_x(rw)} {_ok(rw, 2.5)}",
                        _ms(cold),
                        f"{_x(rc)} {_ok(rc, 1.0)}",
                    ]
                )
    parts.append(
        _table(
            ["command", "backend", "tasks", "warm ms", "warm / pass", "cold ms", "cold / sqlmodel"],
            rows,
        )
    )
    parts.append("### Taskwarrior and todo.txt (100 tasks), same loop\n")
    rows = [
        [
            f"`{c['command']}`",
            c["tool"],
            _ms(c["ms"]["median"]),
            _x(ratio(c["ms"]["median"], passes)),
        ]
        for c in cases
        if c.get("tool") in ("taskwarrior", "todo.txt") and "ms" in c
    ]
    parts.append(_table(["command", "tool", "median ms", "/ python -c pass"], rows))
    failed = [c["name"] for c in cases if "error" in c]
    if failed:
        parts.append("Not measured (failed): " + ", ".join(failed) + "\n")
    return "\n".join(parts)


def datagen_tasks(data: dict[str, Any], ds: str) -> str:
    spec = (data.get("datasets") or {}).get(ds) or {}
    tasks = spec.get("tasks")
    return f"{tasks:,}" if isinstance(tasks, int) else ds


def _ok(value: float | None, limit: float) -> str:
    if value is None:
        return ""
    return "(PASS)" if value <= limit else "(FAIL)"
