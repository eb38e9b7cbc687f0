"""Real `todo` processes for the reliability tests: CLI commands released together, and
a `todo serve` subprocess.

`run_together` starts every command, lets each import what it needs, and only then
releases them all at once through a pipe, so the commands race on the database rather
than on Python's start-up (which on two cores would spread 20 processes over seconds).
The commands run through the console script's own `main()`, exactly as `todo …` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

# Generous: only there so that a hang fails the test instead of stalling the run.
HANG_TIMEOUT = 180.0

# The child: load the command's modules, report ready, wait at the gate, run `todo …`.
_LAUNCHER = """
import os, sys
import sqlalchemy, sqlmodel, psycopg, typer, rich  # warm: the race is on the database
import todo_cli.cli, todo_cli.service, todo_cli.db, todo_cli.output
ready, gate = int(sys.argv[1]), int(sys.argv[2])
os.write(ready, b".")
os.close(ready)
os.read(gate, 1)  # returns once the parent closes its end: everyone at once
os.close(gate)
sys.argv = ["todo", *sys.argv[3:]]
from todo_cli.__main__ import main
main()
"""


@dataclass(frozen=True)
class Finished:
    """One command's outcome."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def todo_env(**variables: str) -> dict[str, str]:
    """The test's environment (already cleaned of the developer's TODO_*) plus these."""
    return {**os.environ, "NO_COLOR": "1", **variables}


def run_together(
    commands: list[list[str]], env: dict[str, str], cwd: Path | None = None
) -> list[Finished]:
    """Run every `todo` command in its own process, all released at the same moment."""
    ready_read, ready_write = os.pipe()
    gate_read, gate_write = os.pipe()
    processes: list[subprocess.Popen[str]] = []
    try:
        for args in commands:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", _LAUNCHER, str(ready_write), str(gate_read), *args],
                    env=env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    pass_fds=(ready_write, gate_read),
                )
            )
        os.close(ready_write)
        ready_write = -1
        arrived = 0
        deadline = time.monotonic() + HANG_TIMEOUT
        while arrived < len(commands) and time.monotonic() < deadline:
            chunk = os.read(ready_read, len(commands))
            if not chunk:  # every child closed its end: some died before the gate
                break
            arrived += len(chunk)
    finally:
        if ready_write >= 0:
            os.close(ready_write)
        os.close(ready_read)
        os.close(gate_read)
        os.close(gate_write)  # the gate opens
    finished: list[Finished] = []
    for args, process in zip(commands, processes, strict=True):
        try:
            out, err = process.communicate(timeout=HANG_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            err += "\n(killed: hung)"
        finished.append(Finished(tuple(args), process.returncode, out, err))
    return finished


def failures(results: list[Finished]) -> list[Finished]:
    return [result for result in results if result.returncode != 0]


class TodoServer:
    """`todo serve` in a subprocess on a free port, stopped (and reaped) by `stop`."""

    def __init__(self, port: int, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self._log = cwd / f"serve-{port}.log"
        with self._log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "todo_cli", "serve", "--port", str(port), *args],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_serving(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"todo serve exited with {self.process.returncode}:\n{self.log}")
            try:
                httpx.get(f"{self.base}/openapi.json", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"todo serve did not answer within {timeout} seconds:\n{self.log}")

    @property
    def log(self) -> str:
        """Everything the server printed (uvicorn's log, tracebacks of 500s)."""
        return self._log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
