"""Helpers for the warm server tests: real `todo` processes, warm and in-process.

Every server a test starts lives in that test's own socket directory
(`XDG_RUNTIME_DIR`) and is stopped by the test; every comparison also checks, through
`todo daemon status`, that the warm run really was served by the server, so that a
comparison cannot pass by both runs having been in-process.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from todo_cli.warm import client

TODO = str(Path(sys.executable).parent / "todo")
TIMEOUT = 60.0


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: bytes
    stderr: bytes


class Warm:
    """A socket directory and the `todo` environments that use it, warm or not."""

    def __init__(self, runtime_dir: Path, **variables: str) -> None:
        self.runtime_dir = runtime_dir
        self.variables = variables
        self.pids: set[int] = set()

    def env(self, *, warm: bool, **variables: str) -> dict[str, str]:
        return {
            **os.environ,
            "NO_COLOR": "1",
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            **self.variables,
            **variables,
            "TODO_DAEMON": "1" if warm else "0",
        }

    def run(
        self,
        *args: str,
        warm: bool,
        cwd: Path | None = None,
        input: bytes = b"",
        env: dict[str, str] | None = None,
    ) -> Ran:
        """`todo ARGS`, with `env` added to this directory's environment."""
        done = subprocess.run(
            [TODO, *args],
            env=self.env(warm=warm, **(env or {})),
            cwd=cwd,
            input=input,
            capture_output=True,
            timeout=TIMEOUT,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    def status(self) -> dict[str, Any]:
        """What `todo daemon status --json` says (asked directly: a subprocess is slow)."""
        try:
            answer = client.ask(str(self.runtime_dir / "todo"), b"status")
        except (OSError, EOFError):
            return {"running": False, "server": None}
        server: dict[str, Any] = json.loads(answer[1])
        self.pids.add(server["pid"])
        return {"running": True, "server": server}

    def served(self) -> int:
        server = self.status()["server"]
        return -1 if server is None else int(server["commands"])

    def start(self) -> int:
        done = self.run("daemon", "start", "--json", warm=True)
        assert done.returncode == 0, done.stderr
        pid = int(json.loads(done.stdout)["server"]["pid"])
        self.pids.add(pid)
        return pid

    def stop(self) -> None:
        self.run("daemon", "stop", warm=True)
        for pid in self.pids:  # a server replaced or retiring must not outlive the test
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        for pid in self.pids:
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.02)

    def both(self, *args: str, cwd: Path | None = None, input: bytes = b"") -> tuple[Ran, Ran]:
        """The command warm (checked to be served by the server) and in-process."""
        before = self.served()
        warm = self.run(*args, warm=True, cwd=cwd, input=input)
        assert self.served() == before + 1, f"todo {' '.join(args)} was not served warm"
        cold = self.run(*args, warm=False, cwd=cwd, input=input)
        return warm, cold


def make_runtime_dir(tmp: Path) -> Path:
    path = tmp / "run"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture(name="server")
def warm_server(tmp_path: Path) -> Iterator[Warm]:
    """A warm server with a socket directory of its own, stopped after the test (a module
    imports this to have the `server` fixture)."""
    warm = Warm(make_runtime_dir(tmp_path))
    try:
        yield warm
    finally:
        warm.stop()


def on_terminal(
    args: list[str],
    env: dict[str, str],
    *,
    answers: tuple[tuple[bytes, bytes], ...] = (),
    columns: int = 60,
    rows: int = 20,
    started: Any = None,
) -> tuple[int, bytes]:
    """Run `todo ARGS` on a pseudo-terminal of the given size; answer prompts.

    `answers` pairs a prompt (bytes the command prints) with what to type once it has
    appeared. `started`, if given, is called with the process once every answer but the
    last is typed and the last prompt is on screen (to do something while it waits).
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen([TODO, *args], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    transcript = b""
    pending = list(answers)
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal has closed it
                    break
                if not chunk:
                    break
                transcript += chunk
            if pending and pending[0][0] in transcript:
                prompt, answer = pending.pop(0)
                if not pending and started is not None:
                    started(process)
                os.write(master, answer)
            if process.poll() is not None and not ready:
                break
        return process.wait(timeout=TIMEOUT), transcript
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
