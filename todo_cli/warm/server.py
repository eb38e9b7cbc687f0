"""The warm command server: one per user, everything imported, database runtimes kept.

Started detached by the client (`todo_cli.warm.client.start_server`), it loads the CLI
and its libraries, forks a *spare* while it is still clean, binds a private socket name
and renames it onto `server.sock` only once all of that is done. Then:

- A command normally runs in the server's own process (`run_command`): the client's
  descriptors are dup2'ed onto 0/1/2, fresh `sys.std*` streams made the way the
  interpreter makes them, the working directory, environment, umask and `TZ` taken
  from the client, the settings read afresh, and the Typer app run exactly as the
  console script runs it (`todo_cli.cli.run`). Database runtimes are kept per URL
  (`Runtimes`), so connections are reused.
- A command that may wait for a person or for its stdin (a prompt on a terminal,
  `import -`), or that arrives while the server is busy, runs in a child of the spare.
  The spare was forked before any command or connection existed, so its children
  start from a clean copy: no lock held by another thread, no SQLite or PostgreSQL
  connection shared with the parent (forking the busy server itself would copy both).
- Every connection's peer must be this user (SO_PEERCRED); the socket directory is
  checked by the client and again here.
- The server exits after `TODO_DAEMON_IDLE` seconds without a command (default 600),
  when replaced (another server renamed its socket over ours), or on `todo daemon
  stop`; after `MAX_COMMANDS` commands or an unexpected error it starts its successor
  and exits once that one has taken the socket.
"""

from __future__ import annotations

import _socket
import io
import os
import sys
import time
from typing import TYPE_CHECKING, TextIO

from todo_cli.warm import client

if TYPE_CHECKING:
    from todo_cli.config import Settings
    from todo_cli.db import Database

MAX_COMMANDS = 2000
DEFAULT_IDLE_SECONDS = 600.0
# Pooled connections are closed after this long without a command: an idle connection
# would keep a scaled-to-zero database awake and block a `DROP DATABASE`.
CONNECTION_IDLE_SECONDS = 60.0
# How long the spare leaves a waiting connection to an idle parent before taking it
# itself (the parent normally takes it within microseconds).
SPARE_GRACE_SECONDS = 0.05
REQUEST_TIMEOUT = 2.0
_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def main(argv: list[str] | None = None) -> None:
    """`python -m todo_cli.warm.server --dir DIR [--lock-fd FD]` (what the client runs)."""
    import argparse

    parser = argparse.ArgumentParser(prog="todo-warm-server")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--lock-fd", type=int, default=-1)
    options = parser.parse_args(argv)
    # Computed before anything is imported: a file changed while loading makes this
    # server stale at once rather than never.
    fingerprint = client.fingerprint()
    problem = client.unsafe_dir(options.dir, create=False)
    if problem is not None:
        _log(f"refusing to start: {problem}")
        os._exit(1)
    _trim_log(options.dir)
    _load()
    server = Server(options.dir, fingerprint, idle=_idle_seconds())
    server.start(options.lock_fd)
    server.serve()


def _idle_seconds() -> float:
    raw = os.environ.get("TODO_DAEMON_IDLE", "")
    try:
        value = float(raw) if raw else DEFAULT_IDLE_SECONDS
    except ValueError:
        value = DEFAULT_IDLE_SECONDS
    return value if value > 0 else DEFAULT_IDLE_SECONDS


def _load() -> None:
    """Import what commands import lazily, then keep it out of the collector's sight."""
    import gc
    from importlib import import_module

    for name in _PRELOADED:
        import_module(name)
    import_module("todo_cli.models").build_validators()
    gc.collect()
    gc.freeze()


# What a task command loads on its way (the CLI modules import nothing heavy at the top).
_PRELOADED = (
    "getpass",
    "json",
    "zoneinfo",
    "psycopg",
    "rich.console",
    "rich.table",
    "rich.text",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.postgresql.psycopg",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlmodel",
    "todo_cli.config",
    "todo_cli.models",
    "todo_cli.db",
    "todo_cli.service",
    "todo_cli.output",
    "todo_cli.cli",
    "todo_cli.cli.history",
    "todo_cli.cli.settings",
    "todo_cli.cli.tasks",
    "todo_cli.cli.users",
)


def _log(message: str) -> None:
    """One line in the server's log (its stderr); never an environment or an argv."""
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {message}\n"
    try:
        os.write(_LOG_FD, line.encode("utf-8", "backslashreplace"))
    except OSError:
        pass


# The log's own descriptor: fd 2 belongs to the command while one runs.
_LOG_FD = 2


def _trim_log(directory: str, limit: int = 1 << 20) -> None:
    path = os.path.join(directory, client.LOG_NAME)
    try:
        if os.path.getsize(path) > limit:
            os.truncate(path, 0)
    except OSError:
        pass


# --- the request --------------------------------------------------------------------------


class Request:
    """A `run` request: what the client sent, parsed; its descriptors owned here."""

    def __init__(self, fields: list[bytes], fds: list[int]) -> None:
        if len(fds) != 4 or len(fields) < 17:
            raise ValueError("malformed run request")
        self.fds = fds  # stdin, stdout, stderr, working directory
        self.fingerprint = fields[2]
        self.umask = int(fields[3], 8)
        self.streams = [
            (
                fields[i].decode(),
                fields[i + 1].decode(),
                fields[i + 2] == b"1",
                fields[i + 3] == b"1",
            )
            for i in (4, 8, 12)
        ]
        count = int(fields[16])
        self.argv = [os.fsdecode(arg) for arg in fields[17 : 17 + count]]
        self.environ: dict[bytes, bytes] = {}
        for entry in fields[17 + count :]:
            key, _, value = entry.partition(b"=")
            self.environ[key] = value

    def may_wait(self) -> bool:
        """Whether the command may wait for a person or its stdin: it gets a process."""
        words = self.argv[1:]
        if "--" in words:
            words = words[: words.index("--")]
        if "-" in words:
            return True  # reads stdin (`todo import -`), which may take its time
        command = [word for word in words if not word.startswith("-")][:2]
        if not command:
            return False
        try:
            on_terminal = os.isatty(self.fds[0])
        except OSError:
            on_terminal = False
        if not on_terminal:
            return False  # nobody to ask: prompting commands refuse instead
        name = command[0] if command[0] not in GROUPS else " ".join(command)
        return name not in NEVER_ASKS

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


# Commands that never read stdin nor ask anything; any other command, on a terminal, may
# (`todo user rm` asks; bulk changes by filter ask), so it gets a process of its own.
NEVER_ASKS = frozenset(
    {
        "add",
        "list",
        "show",
        "next",
        "count",
        "note",
        "history",
        "log",
        "undo",
        "redo",
        "config",
        "export",
        "user add",
        "user list",
        "token create",
    }
)
GROUPS = frozenset({"user", "token"})


# --- running one command ------------------------------------------------------------------


class _Killed(BaseException):
    """A forwarded SIGTERM or SIGHUP: the command ends as if its process had died of it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Outcome:
    def __init__(self, kind: bytes, number: int, *, broken: bool = False) -> None:
        self.kind = kind
        self.number = number
        self.broken = broken  # the process state is suspect: restart


def _command_signal(signum: int, _frame: object) -> None:
    import signal

    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise _Killed(signum)


def _idle_signal(signum: int, _frame: object) -> None:
    import signal

    if signum == signal.SIGTERM:
        raise SystemExit(0)  # someone stops the server itself (shutdown, kill)
    # A late Ctrl-C forwarded by a client whose command has just ended: nothing to stop.


def _set_signals(handler: object) -> None:
    import signal

    for name in _SIGNALS:
        signal.signal(getattr(signal, name), handler)  # type: ignore[arg-type]


def _stream(fd: int, mode: str, options: tuple[str, str, bool, bool]) -> io.TextIOWrapper:
    """A `sys.std*` stream for `fd`, made as the interpreter makes its own.

    Encoding, error handler, line buffering and write-through are the client's own
    streams' (its locale, `PYTHONIOENCODING`, `-u`), so the bytes written are the same.
    """
    encoding, errors, line_buffering, write_through = options
    binary: io.BufferedReader | io.BufferedWriter
    raw = io.FileIO(fd, mode, closefd=False)
    raw.name = {0: "<stdin>", 1: "<stdout>", 2: "<stderr>"}[fd]
    # The buffer size io.open would choose (the descriptor's block size), as at start-up.
    size = _block_size(fd)
    binary = io.BufferedReader(raw, size) if mode == "r" else io.BufferedWriter(raw, size)
    return io.TextIOWrapper(
        binary,
        encoding=encoding,
        errors=errors,
        newline="\n",
        line_buffering=line_buffering,
        write_through=write_through,
    )


def _block_size(fd: int) -> int:
    try:
        size = os.fstat(fd).st_blksize
    except OSError:
        size = 0
    return size if size > 1 else io.DEFAULT_BUFFER_SIZE


def run_command(request: Request) -> _Outcome:
    """Run `request`'s command in this process as the console script would, then undo
    every trace of it (descriptors, streams, directory, environment, umask, zone)."""
    import signal
    import traceback

    from todo_cli import cli
    from todo_cli.config import get_settings

    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    saved_streams: tuple[TextIO, TextIO, TextIO] = (sys.stdin, sys.stdout, sys.stderr)
    saved_environ = dict(os.environb)
    saved_argv = sys.argv
    saved_umask = os.umask(0o077)
    streams: list[io.TextIOWrapper] = []
    global _LOG_FD
    _LOG_FD = saved_fds[2]
    try:
        for target, fd in zip((0, 1, 2), request.fds[:3], strict=True):
            os.dup2(fd, target)
        os.fchdir(request.fds[3])
        os.environb.clear()
        os.environb.update(request.environ)
        os.umask(request.umask)
        time.tzset()
        streams = [
            _stream(fd, mode, options)
            for fd, mode, options in zip((0, 1, 2), "rww", request.streams, strict=True)
        ]
        sys.stdin, sys.stdout, sys.stderr = streams
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams  # type: ignore[misc]
        sys.argv = request.argv
        get_settings.cache_clear()
        _set_signals(_command_signal)
        try:
            return _Outcome(b"exit", cli.run())
        except _Killed as killed:
            return _Outcome(b"signal", killed.signum)
        except KeyboardInterrupt:
            # Past the app's own handling: the interpreter would print it and die of it.
            traceback.print_exc()
            return _Outcome(b"signal", signal.SIGINT)
        except BaseException as exc:  # what the interpreter would print for a bug
            sys.excepthook(type(exc), exc, exc.__traceback__)
            return _Outcome(b"exit", client.EXIT_UNEXPECTED, broken=True)
        finally:
            _set_signals(_idle_signal)
            for stream in streams:
                try:
                    stream.close()
                except Exception:  # a reader gone: the command's exit code says so already
                    pass
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = saved_streams  # type: ignore[misc,assignment]
        sys.argv = saved_argv
        for target, fd in zip((0, 1, 2), saved_fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        _LOG_FD = 2
        os.chdir("/")
        os.environb.clear()
        os.environb.update(saved_environ)
        os.umask(saved_umask)
        time.tzset()
        get_settings.cache_clear()


class Runtimes:
    """One `db.Database` per database, kept across commands (the warm server's hook for
    `cli._common.database`): pooled connections and the schema check are reused.

    A SQLite file is identified by its inode as well, so a deleted or replaced file is
    opened afresh, as a new process would; an in-memory database is never kept.
    """

    def __init__(self, limit: int = 8) -> None:
        self._kept: dict[tuple[str, bool, float], tuple[Database, tuple[int, int] | None]] = {}
        self._transient: list[Database] = []
        self._limit = limit
        self.used = 0.0

    def __call__(self, settings: Settings) -> Database:
        from todo_cli.db import Database

        self.used = time.monotonic()
        url = settings.db_url()
        if url.backend == "sqlite" and url.sqlite_path is None:
            runtime = Database.from_settings(settings, origin="cli")
            self._transient.append(runtime)
            return runtime
        key = (url.reveal(), url.pooler, settings.connect_timeout)
        identity = _file_identity(url.sqlite_path) if url.sqlite_path is not None else None
        kept = self._kept.pop(key, None)
        if kept is not None and kept[1] == identity:
            self._kept[key] = kept  # most recently used last
            return kept[0]
        if kept is not None:
            kept[0].dispose()
        while len(self._kept) >= self._limit:
            oldest = next(iter(self._kept))
            self._kept.pop(oldest)[0].dispose()
        runtime = Database.from_settings(settings, origin="cli")
        self._kept[key] = (runtime, identity)
        return runtime

    def after_command(self) -> None:
        while self._transient:
            self._transient.pop().dispose()

    def forget(self) -> None:
        """Close every connection and forget every schema check (after `todo db …`)."""
        self.after_command()
        while self._kept:
            _, (runtime, _identity) = self._kept.popitem()
            runtime.dispose()


def _file_identity(path: object) -> tuple[int, int] | None:
    try:
        status = os.stat(str(path))
    except OSError:
        return None
    return status.st_dev, status.st_ino


# --- the server -----------------------------------------------------------------------------


class Server:
    def __init__(self, directory: str, fingerprint: bytes, *, idle: float) -> None:
        import mmap

        self.directory = directory
        self.path = os.path.join(directory, client.SOCKET_NAME)
        self.fingerprint = fingerprint
        self.idle = idle
        self.started = time.time()
        self.commands = 0
        self.handed_off = 0
        self.last_command = time.monotonic()
        self.retiring = False
        self.stopping = False
        self.inode = 0
        # Shared with the spare: [0] the parent is running a command, [8:16] commands the
        # spare's children ran.
        self.shared = mmap.mmap(-1, 16)
        self.runtimes = Runtimes()
        self.listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self.spare_pid = 0
        self.spare_channel: _socket.socket | None = None

    def start(self, lock_fd: int) -> None:
        """Bind a private name, fork the spare, then take the socket name atomically."""

        private = os.path.join(self.directory, f"server-{os.getpid()}.sock")
        try:
            os.unlink(private)
        except FileNotFoundError:
            pass
        self.listener.bind(private)
        self.listener.listen(64)
        parent_end, spare_end = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self.spare_pid = os.fork()
        if self.spare_pid == 0:
            parent_end.close()
            if lock_fd >= 0:
                os.close(lock_fd)
            Spare(self, spare_end).run()
            os._exit(0)
        spare_end.close()
        self.spare_channel = parent_end
        os.rename(private, self.path)
        self.inode = os.stat(self.path).st_ino
        if lock_fd >= 0:
            os.close(lock_fd)  # loaded and listening: the next server may start
        from todo_cli.cli import _common

        _common.kept_runtime = self.runtimes
        _set_signals(_idle_signal)
        _log(f"serving on {self.path} (spare {self.spare_pid})")

    def serve(self) -> None:
        try:
            while not self.stopping:
                self._serve_one()
                if self._replaced():
                    _log("replaced by a newer server")
                    break
                now = time.monotonic()
                if now - self.last_command > self.idle:
                    _log("idle; exiting")
                    break
                if self.runtimes.used and now - self.runtimes.used > CONNECTION_IDLE_SECONDS:
                    self.runtimes.forget()
                    self.runtimes.used = 0.0
                if not self._spare_alive() and not self.retiring:
                    _log("the spare has gone; starting a successor")
                    self._retire()
        except SystemExit:
            _log("stopped by a signal")
        except BaseException:
            _log(f"unexpected error: {_scrubbed_traceback()}")
        finally:
            self._shut_down()

    def _serve_one(self) -> None:
        self.listener.settimeout(min(5.0, self.idle))
        try:
            conn = _accept(self.listener)
        except TimeoutError:
            if not self.retiring and client.fingerprint() != self.fingerprint:
                _log("the installed files changed; starting a successor")
                self._retire()
            return
        except OSError:
            return
        try:
            self._handle(conn)
        except Exception as exc:
            _log(f"unexpected {type(exc).__name__} in the server: {_scrubbed_traceback()}")
            self._retire()
        finally:
            conn.close()

    def _handle(self, conn: _socket.socket) -> None:
        conn.settimeout(REQUEST_TIMEOUT)
        if client.peer_uid(conn) != os.getuid():
            client.send_frame(conn, [b"refused", b"another user's connection"])
            return
        try:
            fields, fds = client.recv_frame(conn, max_fds=4)
        except (OSError, EOFError, ValueError):
            return
        try:
            kind = fields[0] if fields else b""
            if len(fields) < 2 or fields[1] != client.PROTOCOL:
                client.send_frame(conn, [b"stale", b"protocol"])
            elif kind == b"status":
                client.send_frame(conn, [b"status", self._status()])
            elif kind == b"stop":
                self.stopping = True
                client.send_frame(conn, [b"stopping", b"%d" % os.getpid()])
            elif kind == b"forget":
                self.runtimes.forget()
                client.send_frame(conn, [b"forgotten"])
            elif kind == b"run":
                try:
                    request = Request(fields, fds)
                except (ValueError, IndexError, UnicodeDecodeError):
                    client.send_frame(conn, [b"refused", b"malformed request"])
                    return
                fds = []
                self._run(conn, request, fields)
        finally:
            for fd in fds:
                os.close(fd)

    def _run(self, conn: _socket.socket, request: Request, fields: list[bytes]) -> None:
        try:
            if request.fingerprint != self.fingerprint:
                # The client starts the successor (its own installation), which takes
                # the socket; this server then exits.
                client.send_frame(conn, [b"stale", b"fingerprint"])
                return
            if request.may_wait() and self.spare_channel is not None:
                # Hand the whole conversation to the spare, which forks for it.
                client.send_frame(self.spare_channel, fields, [conn.fileno(), *request.fds])
                self.handed_off += 1
                self.last_command = time.monotonic()
                return
            if not _agreed(conn, os.getpid()):
                return
            self.shared[0] = 1
            started = time.monotonic()
            try:
                outcome = run_command(request)
            finally:
                self.shared[0] = 0
                self.runtimes.after_command()
            self.commands += 1
            self.last_command = time.monotonic()
            _report(conn, outcome)
            _log(
                f"ran a command in-process: {outcome.kind.decode()} {outcome.number} "
                f"in {1000 * (self.last_command - started):.1f} ms"
            )
            if outcome.broken or self.commands >= MAX_COMMANDS:
                self._retire()
        finally:
            request.close()

    def _status(self) -> bytes:
        import hashlib
        import json

        from todo_cli import __version__

        forked = int.from_bytes(self.shared[8:16], "little")
        return json.dumps(
            {
                "pid": os.getpid(),
                "version": __version__,
                "fingerprint": hashlib.sha256(self.fingerprint).hexdigest()[:16],
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                "uptime_seconds": round(time.time() - self.started, 1),
                "commands": self.commands + forked,
                "commands_in_process": self.commands,
                "commands_forked": forked,
                "idle_timeout_seconds": self.idle,
                "socket": self.path,
                "log": os.path.join(self.directory, client.LOG_NAME),
                "python": sys.executable,
            }
        ).encode()

    def _replaced(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self.inode
        except OSError:
            return True

    def _spare_alive(self) -> bool:
        try:
            pid, _ = os.waitpid(self.spare_pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0

    def _retire(self) -> None:
        """Start a successor; this server exits once it has taken the socket."""
        if self.retiring:
            return
        self.retiring = True
        self.idle = min(self.idle, 60.0)  # should the successor fail to start
        try:
            client.start_server(self.directory)
        except OSError as exc:
            _log(f"cannot start a successor: {exc}")

    def _shut_down(self) -> None:
        import signal

        if not self._replaced():
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self.listener.close()
        if self.spare_channel is not None:
            self.spare_channel.close()  # the spare exits on EOF
        try:
            os.kill(self.spare_pid, signal.SIGTERM)
            os.waitpid(self.spare_pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self.runtimes.forget()
        _log("exited")
        os._exit(0)


def _accept(listener: _socket.socket) -> _socket.socket:
    fd, _ = listener._accept()  # type: ignore[attr-defined]
    return _socket.socket(fileno=fd)


def _agreed(conn: _socket.socket, pid: int) -> bool:
    """Say who will run the command; run it only if the client still wants it.

    A client that gave up waiting runs the command itself: without its "go" the command
    must not run here too.
    """
    try:
        client.send_frame(conn, [b"ready", b"%d" % pid])
        answer, _ = client.recv_frame(conn)
    except (OSError, EOFError, ValueError):
        return False
    return answer == [b"go"]


def _report(conn: _socket.socket, outcome: _Outcome) -> None:
    """Send the outcome, then wait (briefly) for the client to hang up: any signal it
    forwarded has then arrived, and cannot strike the next command."""
    try:
        client.send_frame(conn, [outcome.kind, b"%d" % outcome.number])
        conn.settimeout(1.0)
        conn.recv(1)
    except OSError:
        pass


def _scrubbed_traceback() -> str:
    import traceback

    from todo_cli.config import known_secrets, redact

    return redact(traceback.format_exc(), *known_secrets())


# --- the spare ----------------------------------------------------------------------------


class Spare:
    """A clean copy of the loaded server that forks a child per command it is given.

    Commands come from the parent (those that may wait) or straight from the listening
    socket when the parent is busy: the spare polls it too and takes a connection only
    if the parent is running a command, or has left it waiting past a short grace.
    """

    def __init__(self, server: Server, channel: _socket.socket) -> None:
        self.server = server
        self.channel = channel
        self.children: set[int] = set()

    def run(self) -> None:
        import select
        import signal

        for name in _SIGNALS:
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        listener = self.server.listener
        poller = select.poll()
        poller.register(listener.fileno(), select.POLLIN)
        poller.register(self.channel.fileno(), select.POLLIN)
        waiting_since = 0.0
        while True:
            self._reap()
            events = dict(poller.poll(2 if waiting_since else 1000))
            if self.channel.fileno() in events:
                try:
                    fields, fds = client.recv_frame(self.channel, max_fds=5)
                except (OSError, EOFError, ValueError):
                    os._exit(0)  # the parent has gone
                self._fork(fields, fds)
            if listener.fileno() not in events:
                waiting_since = 0.0
                continue
            now = time.monotonic()
            waiting_since = waiting_since or now
            if self.server.shared[0] or now - waiting_since > SPARE_GRACE_SECONDS:
                waiting_since = 0.0
                listener.setblocking(False)
                try:
                    fd, _ = listener._accept()  # type: ignore[attr-defined]
                except BlockingIOError:
                    continue  # the parent took it after all
                self._fork(None, [fd])
            else:
                time.sleep(0.001)

    def _reap(self) -> None:
        for pid in list(self.children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.children.discard(pid)

    def _fork(self, fields: list[bytes] | None, fds: list[int]) -> None:
        pid = os.fork()
        if pid:
            self.children.add(pid)
            for fd in fds:
                os.close(fd)
            return
        code = 0
        try:
            self._child(fields, fds)
        except BaseException:
            _log(f"unexpected error in a forked command: {_scrubbed_traceback()}")
            code = 1
        os._exit(code)

    def _child(self, fields: list[bytes] | None, fds: list[int]) -> None:

        from todo_cli.cli import _common

        self.server.listener.close()
        self.channel.close()
        _common.kept_runtime = None  # a runtime of its own, disposed at the end
        conn = _socket.socket(fileno=fds[0])
        conn.setblocking(True)
        conn.settimeout(REQUEST_TIMEOUT)
        if fields is None:  # straight from the listener: the whole conversation is ours
            if client.peer_uid(conn) != os.getuid():
                client.send_frame(conn, [b"refused", b"another user's connection"])
                return
            fields, fds = client.recv_frame(conn, max_fds=4)
            fds = [conn.fileno(), *fds]
            if len(fields) < 2 or fields[1] != client.PROTOCOL or fields[0] != b"run":
                client.send_frame(conn, [b"refused", b"busy"])
                return
        request = Request(fields, fds[1:])
        if request.fingerprint != self.server.fingerprint:
            client.send_frame(conn, [b"stale", b"fingerprint"])
            return
        if not _agreed(conn, os.getpid()):
            return
        outcome = run_command(request)
        count = int.from_bytes(self.server.shared[8:16], "little") + 1
        self.server.shared[8:16] = count.to_bytes(8, "little")
        _report(conn, outcome)


if __name__ == "__main__":
    main()
