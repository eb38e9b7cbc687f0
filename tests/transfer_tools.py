"""The real Taskwarrior (`task` 2.6) for the transfer tests, in a throwaway data directory.

Each `Taskwarrior` has its own TASKDATA and TASKRC (with a numeric UDA `estimate`), runs in
a given time zone, and never asks anything (`rc.confirmation=off`), so a test can make a
file the way a user's `task export` would and read back what `task import` made of ours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import postgres_required


def require_taskwarrior() -> str:
    """The `task` program; missing, a skip, or a failure where CI must have it."""
    found = shutil.which("task")
    if found is None:
        message = "task (Debian package taskwarrior) is not installed (CI installs it: see .ci/run)"
        if postgres_required() or os.environ.get("CI"):
            pytest.fail(f"{message} and TODO_REQUIRE_POSTGRES=1 or CI is set", pytrace=False)
        pytest.skip(message)
    return found


class Taskwarrior:
    def __init__(self, root: Path, *, zone: str = "UTC") -> None:
        self.program = require_taskwarrior()
        root.mkdir(parents=True, exist_ok=True)
        self.data = root / "data"
        self.rc = root / "taskrc"
        self.rc.write_text(
            f"data.location={self.data}\n"
            "confirmation=off\n"
            "verbose=nothing\n"
            "uda.estimate.type=numeric\n"
            "uda.estimate.label=Estimate\n"
        )
        self.zone = zone

    def run(self, *args: str, input: str | None = None) -> str:
        done = subprocess.run(
            [self.program, "rc.confirmation=off", "rc.hooks=off", *args],
            env={
                **os.environ,
                "TASKDATA": str(self.data),
                "TASKRC": str(self.rc),
                "TZ": self.zone,
            },
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def add(self, *words: str) -> str:
        """Add a task; its UUID."""
        said = self.run("rc.verbose=new-uuid", "add", *words)
        return said.split()[2].rstrip(".")  # "Created task UUID." (or "UUID (recurrence…")

    def export(self, *, array: bool = True) -> str:
        return self.run("export", f"rc.json.array={'on' if array else 'off'}")

    def tasks(self) -> list[dict[str, Any]]:
        return list(json.loads(self.export()))

    def import_file(self, path: Path) -> str:
        return self.run("import", str(path))
