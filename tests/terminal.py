"""The installed `todo` on a real pseudo-terminal, as a person at a terminal runs it.

stdin, stdout and stderr are all the terminal (so they arrive merged, as on a screen),
the window has the size the test asks for, and answers to prompts are typed into it
once the prompt has appeared.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

TODO = Path(sys.executable).parent / "todo"
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Screen:
    returncode: int
    text: str  # what the terminal showed, escape codes included, newlines as "\n"

    @property
    def plain(self) -> str:
        return _ESCAPES.sub("", self.text)


def run_on_terminal(
    *args: str,
    env: dict[str, str],
    rows: int = 24,
    columns: int = 80,
    answer: tuple[str, str] | None = None,
    timeout: float = 120.0,
) -> Screen:
    """`todo ARGS` on a terminal of `rows` × `columns`; `answer` = (prompt, typed text)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        [str(TODO), *args], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: every process holding the terminal has gone
                    break
                if not chunk:
                    break
                shown += chunk
                if answer is not None and answer[0].encode() in shown:
                    os.write(leader, answer[1].encode())
                    answer = None
            elif process.poll() is not None:
                break
        else:
            process.kill()
            raise TimeoutError(f"todo {' '.join(args)} hung; showed: {shown!r}")
        returncode = process.wait(timeout=timeout)
    finally:
        os.close(leader)
    return Screen(returncode, shown.decode("utf-8", "replace").replace("\r\n", "\n"))
