"""The README's Taskwarrior-style session ("Planning") is real output of the installed
`todo`: replayed command by command, on the day the README says, it prints exactly that.

The clock is the real one, set by libfaketime (Debian's `faketime`, which `.ci/run`
installs) to Tuesday 1 December 2026, 10:36 UTC, one second later for each command and
standing still within one, so that relative days (`fri`, `tomorrow`) and the order of
creation are those of the README.
Only the task's random UUID is compared by shape.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import postgres_required

README = Path(__file__).resolve().parents[1] / "README.md"
START = datetime(2026, 12, 1, 10, 36, tzinfo=UTC)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def session_block(text: str) -> str:
    section = text.split("## Planning: dates, priority, projects, tags, notes", 1)[1]
    block = re.search(r"```console\n(.+?)```", section, re.DOTALL)
    assert block is not None
    return block.group(1)


def steps(block: str) -> list[tuple[str, str]]:
    """(command line, expected output) pairs of a console block."""
    out: list[tuple[str, str]] = []
    for line in block.splitlines(keepends=True):
        if line.startswith("$ todo "):
            out.append((line[2:].rstrip("\n"), ""))
        else:
            command, expected = out[-1]
            out[-1] = (command, expected + line)
    return out


def replay(block: str, workdir: Path) -> str:
    """The block as the installed `todo` prints it, from an empty database."""
    faketime = shutil.which("faketime")
    if faketime is None:
        if postgres_required():  # CI: every tool the tests need is installed
            pytest.fail("faketime is not installed (Debian package faketime)")
        pytest.skip("faketime is not installed (Debian package faketime)")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TODO_") and key not in {"TZ", "COLUMNS", "LINES"}
    }
    env.update(
        TODO_DATABASE_URL=f"sqlite:///{workdir / 'todo.db'}",
        TODO_TZ="Europe/Paris",
        TODO_DAEMON="0",
        LOGNAME="alex",
        COLUMNS="100",
        NO_COLOR="1",
    )
    transcript = []
    for index, (command, _) in enumerate(steps(block)):
        moment = START + timedelta(seconds=index)
        result = subprocess.run(
            # -f: the clock stands still at that moment (monotonic time runs on).
            [faketime, "-f", moment.strftime("%Y-%m-%d %H:%M:%S"), *shlex.split(command)],
            env={**env, "DONT_FAKE_MONOTONIC": "1"},
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in result.stderr, result.stderr
        transcript.append(f"$ {command}\n{result.stdout}{result.stderr}")
    return "".join(transcript)


def test_the_planning_session_of_the_readme_is_real_output(tmp_path: Path) -> None:
    expected = session_block(README.read_text())
    got = replay(expected, tmp_path)
    assert _UUID.sub("<uuid>", got) == _UUID.sub("<uuid>", expected)
