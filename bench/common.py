"""What every section shares: paths, statistics, logging, tools, PostgreSQL admin."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"
REPORT_PATH = ROOT / "docs" / "performance.md"

PYTHON = sys.executable
BIN_DIR = Path(sys.executable).parent
TODO = str(BIN_DIR / "todo") if (BIN_DIR / "todo").exists() else "todo"

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_PREFIX = "todo_bench_"

_T0 = time.monotonic()


def log(message: str) -> None:
    """Progress on stderr, prefixed with the elapsed time of the whole run."""
    elapsed = time.monotonic() - _T0
    print(f"[bench {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Options:
    """The command line, as every section sees it."""

    quick: bool = False
    no_auth: bool = False
    runs: int | None = None
    api_cmd: str | None = None
    api_workers: int = 2
    api_duration: float | None = None
    keep_db: bool = False
    seed: int = 20261127
    extra: dict[str, Any] = field(default_factory=dict)

    def pick(self, full: int, quick: int) -> int:
        return quick if self.quick else full


# --- statistics ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), like numpy's default."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, p95, p99, min, max and count of a sample (same unit as the input)."""
    return {
        "n": len(values),
        "median": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "min": min(values) if values else math.nan,
        "max": max(values) if values else math.nan,
        "mean": sum(values) / len(values) if values else math.nan,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return None
    return a / b


# --- results ------------------------------------------------------------------------------


def save_result(section: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {"section": section, "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"), **data}
    path = RESULTS_DIR / f"{section}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def load_result(section: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{section}.json"
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


# --- processes ----------------------------------------------------------------------------


def raise_nofile_limit() -> None:
    """1,000 connections need more than the usual 1,024 descriptors (inherited by children)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def output_of(argv: Sequence[str], *, env: dict[str, str] | None = None) -> str | None:
    """First line of a command's output, or None if it cannot run."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=30, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0].strip() if text and done.returncode == 0 else None


# --- external tools -----------------------------------------------------------------------

# command → Debian package
TOOLS = {
    "hyperfine": "hyperfine",
    "wrk": "wrk",
    "task": "taskwarrior",
    "todo-txt": "todotxt-cli",
}
_apt_updated = False


def ensure_tools(commands: Iterable[str]) -> dict[str, str | None]:
    """Install missing tools with apt-get (saying so); return command → path or None."""
    global _apt_updated
    found: dict[str, str | None] = {}
    missing = [c for c in commands if shutil.which(c) is None]
    if missing and shutil.which("apt-get"):
        packages = sorted({TOOLS[c] for c in missing})
        log(f"installing missing tools with apt-get: {' '.join(packages)}")
        sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else [])
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not _apt_updated:
            subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=False)
            _apt_updated = True
        done = subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-qq", *packages],
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            log(f"apt-get install failed: {done.stderr.strip()[-300:]}")
    for command in commands:
        found[command] = shutil.which(command)
        if found[command] is None:
            log(f"{command} is not available; its measurements are skipped")
    return found


# --- machine and versions -----------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib: float | None = None
    try:
        meminfo = Path("/proc/meminfo").read_text()
        match = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
        if match:
            mem_gib = round(int(match.group(1)) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": mem_gib,
        "kernel": platform.release(),
        "os": _os_name(),
        "load_avg_at_start": os.getloadavg(),
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_server_version(),
        "todo": output_of([TODO, "--version"]),
        "taskwarrior": output_of(["task", "--version"]),
        "todo.txt-cli": _todo_txt_version(),
        "hyperfine": output_of(["hyperfine", "--version"]),
        "wrk": _wrk_version(),
    }
    for package in ("sqlalchemy", "sqlmodel", "psycopg", "typer", "rich", "fastapi", "uvicorn"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def _todo_txt_version() -> str | None:
    if shutil.which("todo-txt") is None:
        return None
    done = subprocess.run(["todo-txt", "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"(?:version\s+|Interface v)(\S+)", done.stdout + done.stderr, re.IGNORECASE)
    return match.group(1) if match else None


def _wrk_version() -> str | None:
    if shutil.which("wrk") is None:
        return None
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    text = (done.stdout + done.stderr).strip()
    return text.split("Copyright")[0].strip() or None


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_url(dbname: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


def pg_admin() -> Any:
    import psycopg

    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)


def pg_available() -> bool:
    try:
        with pg_admin():
            return True
    except Exception:
        return False


def pg_server_version() -> str | None:
    try:
        with pg_admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except Exception:
        return None


def pg_settings() -> dict[str, str]:
    names = ("shared_buffers", "max_connections", "work_mem", "synchronous_commit", "jit")
    try:
        with pg_admin() as conn:
            rows = {n: conn.execute(f"SHOW {n}").fetchone() for n in names}
            return {n: str(row[0]) for n, row in rows.items() if row}
    except Exception:
        return {}


def pg_database_exists(name: str) -> bool:
    with pg_admin() as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


def pg_drop(name: str) -> None:
    from psycopg import sql

    assert name.startswith(DB_PREFIX), name
    with pg_admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def pg_copy_database(template: str, name: str) -> str:
    """A fresh copy of a cached database (file-level copy: seconds for a million rows)."""
    from psycopg import sql

    pg_drop(name)
    with pg_admin() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return pg_url(name)


def pg_bench_databases() -> list[str]:
    with pg_admin() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1", (DB_PREFIX + "%",)
        ).fetchall()
    return [str(r[0]) for r in rows]
