"""Taskwarrior and todo.txt-cli, loaded with the same number of tasks as `todo`'s user."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import CACHE_DIR, log
from bench.datagen import COMPLETED_SHARE, END, START, make_title


@dataclass
class Loaded:
    """A tool's private data directory plus what the commands need to address tasks."""

    home: Path
    env: dict[str, str]
    pending: list[str]  # Taskwarrior: UUIDs; todo.txt: line numbers


def _tw_time(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _tasks(count: int, seed: int) -> list[tuple[str, str, datetime, bool]]:
    rng = random.Random(f"{seed}-compared-{count}")
    span = (END - START).total_seconds()
    rows = []
    for _ in range(count):
        created = START + timedelta(seconds=rng.random() * span)
        rows.append(
            (
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                make_title(rng),
                created,
                rng.random() < COMPLETED_SHARE,
            )
        )
    rows.sort(key=lambda r: r[2])
    return rows


def taskwarrior(count: int, seed: int, workdir: Path, base_env: dict[str, str]) -> Loaded:
    """A Taskwarrior data directory with `count` tasks (~20% completed), via `task import`.

    The imported directory is cached; each run gets a copy.
    """
    cache = CACHE_DIR / f"taskwarrior_{count}_s{seed}"
    rows = _tasks(count, seed)
    if not (cache / "data" / "pending.data").exists():
        started = time.monotonic()
        shutil.rmtree(cache, ignore_errors=True)
        (cache / "data").mkdir(parents=True)
        export = []
        for task_uuid, title, created, completed in rows:
            item = {
                "uuid": task_uuid,
                "description": title,
                "entry": _tw_time(created),
                "modified": _tw_time(created),
                "status": "completed" if completed else "pending",
            }
            if completed:
                item["end"] = _tw_time(min(created + timedelta(days=3), END))
            export.append(item)
        source = cache / "import.json"
        source.write_text(json.dumps(export))
        env = _tw_env(cache, base_env)
        subprocess.run(
            ["task", "import", str(source)], env=env, capture_output=True, check=True, timeout=900
        )
        source.unlink()
        log(f"imported {count:,} tasks into Taskwarrior in {time.monotonic() - started:.1f}s")
    home = workdir / f"taskwarrior_{count}"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(cache, home)
    pending = [r[0] for r in rows if not r[3]]
    return Loaded(home, _tw_env(home, base_env), pending)


def _tw_env(home: Path, base_env: dict[str, str]) -> dict[str, str]:
    rc = home / ".taskrc"
    rc.write_text(
        f"data.location={home / 'data'}\nconfirmation=off\nverbose=nothing\n"
        "color=off\nhooks=off\nnews.version=2.6.0\n"
    )
    return {**base_env, "HOME": str(home), "TASKRC": str(rc)}


def todo_txt(count: int, seed: int, workdir: Path, base_env: dict[str, str]) -> Loaded:
    """A todo.txt of `count` lines (~20% done, not archived) and its config file."""
    home = workdir / f"todotxt_{count}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    rows = _tasks(count, seed)
    lines = []
    pending = []
    for number, (_, title, created, completed) in enumerate(rows, start=1):
        day = created.strftime("%Y-%m-%d")
        if completed:
            done_day = min(created + timedelta(days=3), END).strftime("%Y-%m-%d")
            lines.append(f"x {done_day} {day} {title}")
        else:
            lines.append(f"{day} {title}")
            pending.append(str(number))
    (home / "todo.txt").write_text("\n".join(lines) + "\n")
    (home / "done.txt").write_text("")
    (home / "config").write_text(
        f'export TODO_DIR="{home}"\n'
        'export TODO_FILE="$TODO_DIR/todo.txt"\n'
        'export DONE_FILE="$TODO_DIR/done.txt"\n'
        'export REPORT_FILE="$TODO_DIR/report.txt"\n'
    )
    return Loaded(home, {**base_env, "HOME": str(home)}, pending)


def now_utc() -> datetime:
    return datetime.now(UTC)
