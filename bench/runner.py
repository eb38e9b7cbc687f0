"""An interleaved whole-command runner, and hyperfine in alternating rounds.

Each round runs every case once, in a shuffled order, so slow drift of a noisy machine
lands on all cases alike. Time is `perf_counter_ns` around spawn-to-reap; the child's
peak RSS and CPU time (user + system, which a busy machine inflates far less than wall
time) come with it from `wait4`. A case whose first (warm-up) run fails is reported
as not available, with the reason, and not run again.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import log, summarize

ArgvFactory = Callable[[int], list[str]]


@dataclass
class Case:
    name: str
    argv: ArgvFactory
    env: dict[str, str] | None = None
    cwd: str | None = None
    prepare: Callable[[int], None] | None = None
    labels: dict[str, Any] = field(default_factory=dict)
    # Peak RSS through GNU time (a small forker): Linux carries the spawning process's
    # high-water mark over a fork + exec into the child's ru_maxrss, so wait4's figure
    # from a big parent (this harness) is inflated. Latency cases leave this off.
    rss_file: str | None = None


def fixed(*argv: str) -> ArgvFactory:
    return lambda _i: list(argv)


@dataclass
class Measured:
    case: Case
    times_ms: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.case.name, **self.case.labels}
        data["argv"] = " ".join(self.case.argv(0))
        if self.error is not None:
            data["error"] = self.error
            return data
        data["ms"] = summarize(self.times_ms)
        data["samples_ms"] = [round(t, 3) for t in self.times_ms]
        data["peak_rss_kib"] = summarize([float(r) for r in self.rss_kib])
        data["cpu_ms"] = summarize(self.cpu_ms)
        return data


def _spawn(case: Case, i: int) -> tuple[float, int, int, float]:
    """Run once; (milliseconds, peak RSS KiB, exit status, CPU milliseconds)."""
    if case.prepare is not None:
        case.prepare(i)
    argv = case.argv(i)
    if case.rss_file is not None:
        argv = ["/usr/bin/time", "-f", "%M", "-o", case.rss_file, *argv]
    start = time.perf_counter_ns()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=case.env, cwd=case.cwd
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss
    if case.rss_file is not None:
        lines = Path(case.rss_file).read_text().split()
        rss = int(lines[-1]) if lines and lines[-1].isdigit() else -1
    cpu = (usage.ru_utime + usage.ru_stime) * 1000
    return elapsed, rss, proc.returncode, cpu


def _probe(case: Case, i: int) -> str | None:
    """Warm-up run; None if it worked, else why not."""
    if case.prepare is not None:
        case.prepare(i)
    try:
        done = subprocess.run(
            case.argv(i),
            capture_output=True,
            env=case.env,
            cwd=case.cwd,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if done.returncode == 0:
        return None
    text = (done.stderr or done.stdout).decode(errors="replace")
    # Rich draws usage errors in a box; keep the words.
    lines = [ln.strip(" │╭╮╰╯─\t") for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    pick = [ln for ln in lines if "rror" in ln or "No such" in ln or "not " in ln]
    reason = (pick or lines or [""])[-1]
    return f"exit {done.returncode}: {reason[:160]}"


def run_interleaved(
    cases: Sequence[Case], *, runs: int, warmup: int = 1, seed: int = 0
) -> list[Measured]:
    results = [Measured(c) for c in cases]
    for m in results:
        m.error = _probe(m.case, 0)
        for w in range(1, warmup):
            if m.error is None:
                _spawn(m.case, w)
        if m.error is not None:
            log(f"  not available: {m.case.name} ({m.error})")
    active = [m for m in results if m.error is None]
    rng = random.Random(seed)
    for r in range(runs):
        order = active[:]
        rng.shuffle(order)
        for m in order:
            elapsed, rss, code, cpu = _spawn(m.case, warmup + r)
            if code != 0:
                m.error = f"exit {code} on run {r + 1}"
                log(f"  failed: {m.case.name} ({m.error})")
                active.remove(m)
                continue
            m.times_ms.append(elapsed)
            m.rss_kib.append(rss)
            m.cpu_ms.append(cpu)
        log(f"  round {r + 1}/{runs} done")
    return results


def hyperfine_rounds(
    commands: Sequence[tuple[str, str]],
    *,
    rounds: int,
    runs: int,
    env: dict[str, str],
    cwd: str,
) -> dict[str, dict[str, Any]]:
    """hyperfine runs its commands one after another; alternate the order across rounds.

    Returns name → summary of all rounds' times (milliseconds), or an error.
    """
    times: dict[str, list[float]] = {name: [] for name, _ in commands}
    errors: dict[str, str] = {}
    for r in range(rounds):
        order = list(commands[r % len(commands) :]) + list(commands[: r % len(commands)])
        if r % 2:
            order.reverse()
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
            export = Path(out.name)
        argv = ["hyperfine", "-N", "--warmup", "1", "--runs", str(runs), "--style", "none"]
        argv += ["--ignore-failure", "--export-json", str(export)]
        for name, command in order:
            argv += ["-n", name, command]
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log(f"  hyperfine failed: {done.stderr.strip()[-300:]}")
            export.unlink(missing_ok=True)
            continue
        data = json.loads(export.read_text())
        export.unlink(missing_ok=True)
        for result in data["results"]:
            codes = result.get("exit_codes") or []
            if any(codes):
                errors[result["command"]] = f"exit {max(codes)}"
            times[result["command"]].extend(t * 1000 for t in result["times"])
    summary: dict[str, dict[str, Any]] = {}
    for name, command in commands:
        if name in errors:
            summary[name] = {"command": command, "error": errors[name]}
        elif times[name]:
            summary[name] = {"command": command, "ms": summarize(times[name])}
    return summary
