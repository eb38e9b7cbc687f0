"""When the warm server must not be used: stale, unsafe, or switched off; and the
client's own rules (which commands never go to a server, `TODO_DAEMON` in `.env`).

Each test that starts a server uses a socket directory of its own and stops it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.warm import Warm, make_runtime_dir
from tests.warm import warm_server as warm_server  # the `server` fixture
from todo_cli.errors import ExitCode
from todo_cli.warm import client


def test_a_stale_server_is_bypassed_then_replaced(server: Warm) -> None:
    """A changed package file: the command runs in-process, and a fresh server follows."""
    old_pid = server.start()
    assert server.run("add", "one", warm=True).returncode == 0
    served = server.served()
    touched = Path(client.package_dir()) / "warm" / "__init__.py"
    status = touched.stat()
    os.utime(touched, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    try:
        warm = server.run("list", warm=True)
        cold = server.run("list", warm=False)
        assert (warm.returncode, warm.stdout, warm.stderr) == (
            cold.returncode,
            cold.stdout,
            cold.stderr,
        )
        assert b"one" in warm.stdout
        report = server.status()
        if report["server"] is not None and report["server"]["pid"] == old_pid:
            assert report["server"]["commands"] == served  # it did not run `list`
        deadline = time.monotonic() + 30
        report = server.status()
        while time.monotonic() < deadline and (
            report["server"] is None or report["server"]["pid"] == old_pid
        ):
            time.sleep(0.1)
            report = server.status()
        assert report["server"] is not None and report["server"]["pid"] != old_pid
        assert report["server"]["commands"] == 0
        before = server.served()
        assert server.run("list", warm=True).stdout == cold.stdout
        assert server.served() == before + 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(old_pid):
            time.sleep(0.1)
        assert not _alive(old_pid)  # replaced servers go away
    finally:
        server.stop()
        os.utime(touched, ns=(status.st_atime_ns, status.st_mtime_ns))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("problem", ["mode", "owner", "symlink"])
def test_an_unsafe_socket_directory_is_refused(server: Warm, tmp_path: Path, problem: str) -> None:
    directory = server.runtime_dir / "todo"
    if problem == "symlink":
        target = tmp_path / "elsewhere"
        target.mkdir(mode=0o700)
        directory.symlink_to(target)
    else:
        directory.mkdir(mode=0o700)
        if problem == "mode":
            directory.chmod(0o755)
        elif os.getuid() == 0:
            os.chown(directory, 65534, 65534)
        else:
            pytest.skip("giving a directory away needs root")
    warm = server.run("add", "safe anyway", warm=True)
    cold = server.run("list", warm=False)
    assert warm.returncode == 0 and warm.stderr == b""  # ran in-process, said nothing
    assert b"safe anyway" in cold.stdout
    started = server.run("daemon", "start", warm=True)
    assert started.returncode == ExitCode.UNAVAILABLE
    assert b"Cannot use the socket directory" in started.stderr
    as_json = server.run("daemon", "start", "--json", warm=True)
    assert as_json.returncode == ExitCode.UNAVAILABLE and as_json.stdout == b""
    assert json.loads(as_json.stderr)["error"]["code"] == "SERVICE_UNAVAILABLE"
    status = server.run("daemon", "status", warm=True)
    assert b"Not used:" in status.stdout and b"No warm server is running" in status.stdout
    assert not os.path.lexists(directory / client.SOCKET_NAME)


def test_todo_daemon_off_never_starts_a_server(server: Warm) -> None:
    assert server.run("list", warm=False).returncode == 0
    assert not (server.runtime_dir / "todo" / client.SOCKET_NAME).exists()
    assert server.status()["server"] is None


def test_todo_daemon_is_read_from_the_environment_then_dotenv(tmp_path: Path) -> None:
    os.chdir(tmp_path)
    assert client.daemon_enabled({})
    assert not client.daemon_enabled({"TODO_DAEMON": "0"})
    assert not client.daemon_enabled({"TODO_DAEMON": "off"})
    (tmp_path / ".env").write_text("# comment\nexport TODO_DAEMON='false'  # off here\n")
    assert not client.daemon_enabled({})
    assert client.daemon_enabled({"TODO_DAEMON": "1"})  # the environment wins


@pytest.mark.parametrize(
    ("argv", "here"),
    [
        (["todo", "list"], False),
        (["todo", "-u", "alice", "list"], False),
        (["todo", "add", "--", "db"], False),
        (["todo"], True),
        (["todo", "--help"], True),
        (["todo", "list", "--help"], True),
        (["todo", "--version"], True),
        (["todo", "--install-completion"], True),
        (["todo", "db", "upgrade"], True),
        (["todo", "serve"], True),
        (["todo", "daemon", "status"], True),
    ],
)
def test_commands_that_always_run_in_process(argv: list[str], here: bool) -> None:
    assert client.runs_in_process(argv, {}) is here


def test_completion_always_runs_in_process() -> None:
    assert client.runs_in_process(["todo", "list"], {"_TODO_COMPLETE": "complete_zsh"})


def test_the_clients_exit_code_for_a_lost_server_is_the_unexpected_one() -> None:
    assert client.EXIT_UNEXPECTED == ExitCode.UNEXPECTED


def test_frames_round_trip() -> None:
    fields = [b"", b"run", bytes(range(256)) * 100]
    packed = client.pack(fields)
    assert client.unpack(packed[4:]) == fields
    assert int.from_bytes(packed[:4], "big") == len(packed) - 4


def test_the_server_starts_with_no_secret_in_its_environment() -> None:
    kept = client.server_environment(
        {
            "PATH": "/bin",
            "TODO_DATABASE_URL": "postgresql://u:secret@h/db",
            "DATABASE_URL": "postgresql://u:secret@h/db",
            "PGPASSWORD": "secret",
            "LC_ALL": "C.UTF-8",
            "PYTHONUTF8": "1",
            "TODO_DAEMON_IDLE": "5",
        }
    )
    assert "secret" not in repr(kept)
    assert set(kept) == {"PATH", "LC_ALL", "PYTHONUTF8", "TODO_DAEMON_IDLE"}


_OTHER_UID = 65534  # nobody
_KNOCK = """
import socket, sys
sys.path.insert(0, sys.argv[1])
from todo_cli.warm import client
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
sock.connect(sys.argv[2])
try:
    client.send_frame(sock, [b"status", client.PROTOCOL])
except BrokenPipeError:
    pass  # refused before reading a byte: the answer waits in the socket all the same
fields, _ = client.recv_frame(sock)
print(fields[0].decode())
"""


@pytest.mark.skipif(
    os.getuid() != 0 or shutil.which("setpriv") is None,
    reason="running a client as another user needs root and setpriv",
)
def test_a_connection_from_another_user_is_refused() -> None:
    """The server asks the kernel who connected (SO_PEERCRED) and serves only its own uid.

    The socket directory (0700) and the socket (0600) keep other users out to begin
    with; here both are opened up, as a mistake or an attack might, so that another
    user's client reaches the server itself, which must still refuse it. (The socket
    directory is under /tmp itself: pytest's own temporary directory is private.)
    """
    top = Path(tempfile.mkdtemp(prefix="todo-peercred-"))
    server = Warm(make_runtime_dir(top))
    try:
        _knock_as_another_user(server, top)
    finally:
        server.stop()
        shutil.rmtree(top, ignore_errors=True)


def _knock_as_another_user(server: Warm, top: Path) -> None:
    server.start()
    directory = server.runtime_dir / "todo"
    socket_path = directory / client.SOCKET_NAME
    code_root = str(Path(client.__file__).resolve().parents[2])
    try:
        for path in (top, server.runtime_dir, directory):
            path.chmod(0o711)
        socket_path.chmod(0o666)
        knock = subprocess.run(
            ["setpriv", f"--reuid={_OTHER_UID}", f"--regid={_OTHER_UID}", "--clear-groups"]
            + [sys.executable if _readable_by_others(sys.executable) else "/usr/bin/python3"]
            + ["-I", "-c", _KNOCK, code_root, str(socket_path)],
            capture_output=True,
            timeout=60,
        )
    finally:
        socket_path.chmod(0o600)
        for path in (directory, server.runtime_dir, top):
            path.chmod(0o700)
    assert knock.returncode == 0, knock.stderr
    assert knock.stdout.strip() == b"refused"
    # The owner is still served, by the same server.
    assert server.status()["running"] and server.served() == 0


def _readable_by_others(executable: str) -> bool:
    """Whether another user could run this interpreter (a venv under /root cannot)."""
    real = Path(executable).resolve()
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in [real, *real.parents][1:]) and bool(
        os.stat(real).st_mode & 0o001
    )
