"""`bench/run` / `python -m bench`: run the sections, then write docs/performance.md."""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench.common import (
    REPORT_PATH,
    Options,
    load_result,
    log,
    machine_info,
    pg_available,
    pg_bench_databases,
    pg_drop,
    pg_settings,
    raise_nofile_limit,
    save_result,
    versions,
)

SECTIONS = ("cli", "service", "api", "memory", "import")
# Not part of a full run: revisions needs a revision to compare with (--against);
# completion (issue 15) is recorded by hand in docs/performance.md → Completion; filters'
# tables go to bench/results/filters.md, for the "Filters" section of docs/performance.md;
# roundtrips (round trips and the warm server, cold and warm at 0/20/50 ms) is run alone.
EXTRA_SECTIONS = ("revisions", "completion", "filters", "roundtrips")


def _section(name: str) -> Callable[[Options], dict[str, Any]]:
    if name == "cli":
        from bench import cli_latency

        return cli_latency.run
    if name == "service":
        from bench import service_bench

        return service_bench.run
    if name == "api":
        from bench import api_bench

        return api_bench.run
    if name == "filters":
        from bench import filter_bench

        return filter_bench.run
    if name == "revisions":
        from bench import revisions

        return revisions.run
    if name == "import":
        from bench import import_bench

        return import_bench.run
    if name == "completion":
        from bench import completion_bench

        return completion_bench.run
    if name == "roundtrips":
        from bench import round_trips

        return round_trips.run
    from bench import memory

    return memory.run


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, Options]:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Run todo's benchmarks and write docs/performance.md.",
    )
    parser.add_argument("--quick", action="store_true", help="few runs, small large data set")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS + EXTRA_SECTIONS,
        help="run only this section (repeatable); the report keeps the others' last results",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="same-run CLI comparison: REV's committed code (old) against --new, each in its "
        "own venv under bench/.cache/revisions/ (adds the revisions section; alone, runs only it)",
    )
    parser.add_argument(
        "--new",
        metavar="REV",
        default="HEAD",
        help="the new side of --against (default HEAD: committed code only)",
    )
    parser.add_argument(
        "--against-part",
        action="append",
        choices=("cli", "service", "api"),
        help="run only this part of the --against comparison (repeatable; default cli and "
        "service; api: each revision's `todo serve` under the mixed load, ~9 minutes)",
    )
    parser.add_argument("--runs", type=int, help="runs per CLI case / calls per service op")
    parser.add_argument(
        "--api-cmd",
        help="server command; {host} {port} {workers} are filled in "
        "(default: `todo serve` if it exists, else the stand-in app)",
    )
    parser.add_argument("--api-workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--api-duration", type=float, help="seconds of the wrk mixed run")
    parser.add_argument(
        "--no-auth", action="store_true", help="no bearer tokens (server --no-auth)"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the PostgreSQL working copies after the run"
    )
    parser.add_argument(
        "--clean",
        action="store_true",
        help="drop every todo_bench_* database (cached templates too) and exit",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the report and exit")
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args(argv)
    if args.against and "revisions" not in (args.only or []):
        args.only = [*(args.only or []), "revisions"]
    if args.only and "revisions" in args.only and not args.against:
        parser.error("the revisions section needs --against REV")
    opts = Options(
        quick=args.quick,
        no_auth=args.no_auth,
        runs=args.runs,
        api_cmd=args.api_cmd,
        api_workers=args.api_workers,
        api_duration=args.api_duration,
        keep_db=args.keep_db,
        seed=args.seed,
        extra={"against": args.against, "new": args.new, "parts": args.against_part},
    )
    return args, opts


def main(argv: list[str] | None = None) -> int:
    args, opts = parse(argv)
    if args.clean:
        for name in pg_bench_databases() if pg_available() else []:
            log(f"dropping {name}")
            pg_drop(name)
        return 0
    if not args.report_only:
        raise_nofile_limit()
        started = time.monotonic()
        meta = {
            "machine": machine_info(),
            "versions": versions(),
            "pg_settings": pg_settings(),
            "quick": opts.quick,
        }
        sections = args.only or list(SECTIONS)
        failed = []
        for name in sections:
            log(f"=== section {name} ===")
            t0 = time.monotonic()
            try:
                _section(name)(opts)
            except Exception as exc:  # one broken section must not lose the others
                traceback.print_exc()
                failed.append(name)
                save_result(name, {"error": f"{type(exc).__name__}: {exc}"})
            seconds = round(time.monotonic() - t0, 1)
            result = load_result(name) or {}
            result.pop("section", None)
            result.pop("finished_at", None)
            save_result(
                name,
                {**result, "section_seconds": seconds, "load_avg_at_end": os.getloadavg()},
            )
            log(f"=== section {name} took {seconds:.0f}s ===")
        if failed:
            log(f"sections that failed: {', '.join(failed)}")
        if set(sections) <= set(EXTRA_SECTIONS):
            # A comparison between revisions is not part of docs/performance.md's report:
            # its table is printed and kept in bench/results/revisions.md.
            return 1 if failed else 0
        # Read again now: a section may have installed a tool that was missing at the start.
        meta["versions"] = versions()
        meta["sections_run"] = sections
        meta["total_seconds"] = round(time.monotonic() - started, 1)
        save_result("meta", meta)
    from bench import report

    text = report.render()
    if REPORT_PATH.exists():
        text = report.merged(text, REPORT_PATH.read_text())
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text(text)
    log(f"wrote {REPORT_PATH}")
    if os.environ.get("BENCH_PRINT_JSON"):
        print(json.dumps(load_result("meta"), indent=2))
    return 0
