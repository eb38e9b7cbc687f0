"""Memory: peak RSS of `todo list --json` for a user with 100 and with 100,000 tasks.

Both users live in the same large database; peak RSS is the child's `ru_maxrss` from
`wait4`. The service-layer stand-in runs the same way (what streaming with `iter_tasks`
costs), and `python -c "import sqlmodel"` gives the floor.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench import datagen
from bench.cli_latency import base_env
from bench.common import PYTHON, ROOT, TODO, Options, log, pg_available, pg_drop, save_result
from bench.runner import Case, fixed, run_interleaved


def run(opts: Options) -> dict[str, Any]:
    spec = datagen.specs(opts.quick)["large"]
    runs = opts.pick(3, 1)
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    work = Path(tempfile.mkdtemp(prefix="todo-bench-mem-"))
    pg_name = None
    try:
        home = work / "home"
        home.mkdir()
        env0 = {**base_env(home), "PYTHONPATH": str(ROOT)}
        cases = [
            Case(
                'python -c "import sqlmodel"',
                fixed(PYTHON, "-c", "import sqlmodel"),
                env0,
                str(work),
                labels={"tool": "floor"},
            )
        ]
        for backend in backends:
            log(f"memory: preparing {backend} {spec.name}")
            url = datagen.database_url(backend, spec, opts.seed, "mem", work)
            if backend == "postgresql":
                pg_name = url.rsplit("/", 1)[1]
            for user in ("bench", "huge"):
                owned = spec.owned(user)
                env = {**env0, "TODO_DATABASE_URL": url, "TODO_USER": user}
                labels = {"backend": backend, "own_tasks": owned}
                cases.append(
                    Case(
                        f"todo list --json · {backend} · {owned:,} tasks",
                        fixed(TODO, "list", "--json"),
                        env,
                        str(work),
                        labels={**labels, "tool": "todo"},
                    )
                )
                cases.append(
                    Case(
                        f"stand-in list --json · {backend} · {owned:,} tasks",
                        fixed(PYTHON, "-m", "bench.standin_cli", "list-json"),
                        env,
                        str(work),
                        labels={**labels, "tool": "stand-in"},
                    )
                )
        for i, case in enumerate(cases):
            case.rss_file = str(work / f"rss_{i}.txt")
        measured = run_interleaved(cases, runs=runs, warmup=1, seed=opts.seed)
        data = {"dataset": vars(spec), "runs": runs, "cases": [m.as_dict() for m in measured]}
        for m in measured:
            if m.error is None:
                log(f"  {m.case.name}: peak RSS {max(m.rss_kib) / 1024:.1f} MiB")
        save_result("memory", data)
        return data
    finally:
        if pg_name and not opts.keep_db:
            pg_drop(pg_name)
        shutil.rmtree(work, ignore_errors=True)
