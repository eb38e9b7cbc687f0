"""CLI latency: `todo` against the Python floors, Taskwarrior and todo.txt-cli, interleaved.

Every case is a whole process, spawn to exit, stdout to /dev/null (like hyperfine). All
cases of the section run in one interleaved loop (bench.runner), so they share the
machine's drift. Mutating commands act on a different task each run (`done`), or only
append (`add`), so every run does real work on nearly the same state.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench import compared, datagen
from bench.common import PYTHON, TODO, Options, ensure_tools, log, pg_available, save_result
from bench.runner import Case, fixed, hyperfine_rounds, run_interleaved

FLOORS = {
    "python -c pass": [PYTHON, "-c", "pass"],
    'python -c "import typer"': [PYTHON, "-c", "import typer"],
    'python -c "import sqlmodel"': [PYTHON, "-c", "import sqlmodel"],
}
COMPLETION = "_TODO_COMPLETE=complete_bash todo"  # what bash runs on TAB after `todo `
COMPLETION_ENV = {"_TODO_COMPLETE": "complete_bash", "COMP_WORDS": "todo ", "COMP_CWORD": "1"}
# (data set, user) pairs measured per backend; the user's own task count is in the spec.
PLAN: list[tuple[str, str, tuple[str, ...]]] = [
    ("tiny", "bench", ("add", "list", "list --json", "done")),
    ("mid", "bench", ("add", "list", "list --json", "done")),
    ("mid", "heavy", ("list", "list --json")),
    ("large", "bench", ("add", "list", "list --json", "done")),
    ("large", "heavy", ("list", "list --json")),
]
# The stand-in (the least a SQLModel command can cost) for reading todo's figures against;
# on the small set only, to keep the section within its time.
STANDIN_PLAN: list[tuple[str, str]] = [("tiny", "bench")]
COMPARED_COUNTS = (100, 10_000)


def base_env(home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TERM", "TZ")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        NO_COLOR="1",
        COLUMNS="100",
    )
    return env


def _todo_case(
    command: str, backend: str, spec: datagen.DatasetSpec, user: str, env: dict[str, str], cwd: str
) -> Case:
    owned = spec.owned(user)
    labels = {
        "tool": "todo",
        "command": f"todo {command}",
        "backend": backend,
        "db_tasks": spec.tasks,
        "own_tasks": owned,
        "dataset": spec.name,
        "user": user,
    }
    name = f"todo {command} · {backend} · db {spec.tasks:,} · own {owned:,}"
    if command == "add":
        return Case(name, lambda i: [TODO, "add", f"Benchmark task {i}"], env, cwd, labels=labels)
    if command == "done":
        # A different pending task every run (the named users' tasks are all pending).
        return Case(name, lambda i: [TODO, "done", str(owned - i)], env, cwd, labels=labels)
    return Case(name, fixed(TODO, *command.split()), env, cwd, labels=labels)


def _standin_case(
    command: str, backend: str, spec: datagen.DatasetSpec, user: str, env: dict[str, str], cwd: str
) -> Case:
    owned = spec.owned(user)
    labels = {
        "tool": "stand-in",
        "command": f"stand-in {command}",
        "backend": backend,
        "db_tasks": spec.tasks,
        "own_tasks": owned,
        "dataset": spec.name,
        "user": user,
    }
    name = f"stand-in {command} · {backend} · db {spec.tasks:,} · own {owned:,}"
    base = [PYTHON, "-m", "bench.standin_cli"]
    if command == "add":
        return Case(name, lambda i: [*base, "add", f"Stand-in task {i}"], env, cwd, labels=labels)
    if command == "done":
        # Counts down from the top; `todo done` (if it runs) takes the numbers from the top
        # too, so start half way down to keep both on pending tasks.
        return Case(name, lambda i: [*base, "done", str(owned // 2 - i)], env, cwd, labels=labels)
    return Case(name, fixed(*base, "list-json"), env, cwd, labels=labels)


def run(opts: Options) -> dict[str, Any]:
    runs = opts.runs or opts.pick(15, 3)
    tools = ensure_tools(["hyperfine", "task", "todo-txt"])
    specs = datagen.specs(opts.quick)
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    if "postgresql" not in backends:
        log("PostgreSQL is not reachable: CLI cases on PostgreSQL are skipped")
    work = Path(tempfile.mkdtemp(prefix="todo-bench-cli-"))
    pg_databases: list[str] = []
    try:
        home = work / "home"
        home.mkdir()
        env0 = base_env(home)
        cwd = str(work)
        env_root = {**env0, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        cases: list[Case] = [
            Case(name, fixed(*argv), env0, cwd, labels={"tool": "floor", "command": name})
            for name, argv in FLOORS.items()
        ]
        cases.append(
            Case(
                "todo --help",
                fixed(TODO, "--help"),
                env0,
                cwd,
                labels={"tool": "todo", "command": "todo --help"},
            )
        )
        # What bash runs on TAB after `todo ` (the completion script Typer installs).
        completion_env = {**env0, **COMPLETION_ENV}
        cases.append(
            Case(
                COMPLETION,
                fixed(TODO),
                completion_env,
                cwd,
                labels={"tool": "todo", "command": COMPLETION},
            )
        )
        urls: dict[tuple[str, str], str] = {}
        for backend in backends:
            for ds in ("tiny", "mid", "large"):
                log(f"preparing {backend} data set {ds}")
                urls[(backend, ds)] = datagen.database_url(
                    backend, specs[ds], opts.seed, "cli", work
                )
                if backend == "postgresql":
                    pg_databases.append(urls[(backend, ds)].rsplit("/", 1)[1])
        for backend in backends:
            for ds, user, commands in PLAN:
                env = {**env_root, "TODO_DATABASE_URL": urls[(backend, ds)], "TODO_USER": user}
                for command in commands:
                    cases.append(_todo_case(command, backend, specs[ds], user, env, cwd))
            for ds, user in STANDIN_PLAN:
                env = {**env_root, "TODO_DATABASE_URL": urls[(backend, ds)], "TODO_USER": user}
                for command in ("add", "list --json", "done"):
                    cases.append(_standin_case(command, backend, specs[ds], user, env, cwd))
        loaded: dict[str, compared.Loaded] = {}
        if tools["task"]:
            for count in COMPARED_COUNTS:
                tw = compared.taskwarrior(count, opts.seed, work, env0)
                loaded[f"task{count}"] = tw
                cases += _taskwarrior_cases(tw, count, cwd)
        if tools["todo-txt"]:
            for count in COMPARED_COUNTS:
                tt = compared.todo_txt(count, opts.seed, work, env0)
                loaded[f"todotxt{count}"] = tt
                cases += _todo_txt_cases(tt, count, cwd)
        log(f"CLI latency: {len(cases)} cases × {runs} interleaved rounds")
        measured = run_interleaved(cases, runs=runs, warmup=1, seed=opts.seed)
        cross: dict[str, Any] = {}
        if tools["hyperfine"]:
            log("hyperfine cross-check of the floors and read-only commands")
            hf_env = dict(env0)
            hf_commands = [(n, " ".join(_quote(a) for a in argv)) for n, argv in FLOORS.items()]
            hf_commands.append(("todo --help", f"{TODO} --help"))
            if "task100" in loaded:
                hf_env.update(loaded["task100"].env)
                hf_commands.append(("task next · 100", "task next"))
            if "todotxt100" in loaded:
                cfg = loaded["todotxt100"].home / "config"
                hf_commands.append(("todo-txt ls · 100", f"todo-txt -d {cfg} -p ls"))
            cross = hyperfine_rounds(
                hf_commands, rounds=opts.pick(3, 1), runs=opts.pick(5, 3), env=hf_env, cwd=cwd
            )
        data = {
            "runs": runs,
            "backends": backends,
            "datasets": {k: vars(v) for k, v in specs.items()},
            "cases": [m.as_dict() for m in measured],
            "hyperfine": cross,
        }
        save_result("cli", data)
        return data
    finally:
        if not opts.keep_db:
            from bench.common import pg_drop

            for name in pg_databases:
                pg_drop(name)
        shutil.rmtree(work, ignore_errors=True)


def _quote(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


def _taskwarrior_cases(tw: compared.Loaded, count: int, cwd: str) -> list[Case]:
    labels = {"tool": "taskwarrior", "own_tasks": count, "db_tasks": count}
    pending = tw.pending
    return [
        Case(
            f"task add · {count:,}",
            lambda i: ["task", "add", f"Benchmark task {i}"],
            tw.env,
            cwd,
            labels={**labels, "command": "task add"},
        ),
        Case(
            f"task next · {count:,}",
            fixed("task", "next"),
            tw.env,
            cwd,
            labels={**labels, "command": "task next"},
        ),
        Case(
            f"task list · {count:,}",
            fixed("task", "list"),
            tw.env,
            cwd,
            labels={**labels, "command": "task list"},
        ),
        Case(
            f"task <uuid> done · {count:,}",
            lambda i: ["task", pending[-1 - i], "done"],
            tw.env,
            cwd,
            labels={**labels, "command": "task <uuid> done"},
        ),
    ]


def _todo_txt_cases(tt: compared.Loaded, count: int, cwd: str) -> list[Case]:
    cfg = str(tt.home / "config")
    labels = {"tool": "todo.txt", "own_tasks": count, "db_tasks": count}
    pending = tt.pending
    return [
        Case(
            f"todo-txt add · {count:,}",
            lambda i: ["todo-txt", "-d", cfg, "-a", "-f", "add", f"Benchmark task {i}"],
            tt.env,
            cwd,
            labels={**labels, "command": "todo-txt add"},
        ),
        Case(
            f"todo-txt ls · {count:,}",
            fixed("todo-txt", "-d", cfg, "-p", "ls"),
            tt.env,
            cwd,
            labels={**labels, "command": "todo-txt ls"},
        ),
        Case(
            f"todo-txt do · {count:,}",
            lambda i: ["todo-txt", "-d", cfg, "-a", "-f", "do", pending[-1 - i]],
            tt.env,
            cwd,
            labels={**labels, "command": "todo-txt do"},
        ),
    ]
