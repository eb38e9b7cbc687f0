"""The `todo` entry point: hand the command to the warm server, or run it right here.

A command that runs in a fresh process spends most of its life importing SQLAlchemy,
SQLModel and pydantic. This client hands its argv, working directory (as a descriptor),
environment, umask and stdin/stdout/stderr (SCM_RIGHTS) to a per-user server that has
all of that loaded already (`todo_cli.warm.server`), and exits with the command's code,
or dies of the command's signal. Whenever the server cannot be used (none running,
stale, busy past a short wait, refusing, failing, `TODO_DAEMON=0`, an unsafe socket
directory) the command runs in this process instead, exactly as it always did: a warm
server may make a command faster, never different. With no server, one is started,
fully detached, for the next command; this one never waits for it.

This module is on the path of every command, so it imports only the cheapest parts of
the standard library: `_socket` and `_signal` rather than `socket` and `signal`, whose
enums alone cost about 10 ms to build.
"""

from __future__ import annotations

import _signal
import _socket
import os
import sys

PROTOCOL = b"todo-warm/1"
SOCKET_NAME = "server.sock"
LOG_NAME = "server.log"
LOCK_NAME = "spawn.lock"
# How long a client waits for the server to say it will run the command: an idle server
# answers in well under a millisecond, a busy one hands the command to its fork server
# in a few. Past this, running here (a cold start, ~250 ms) is the faster way.
HANDSHAKE_TIMEOUT = 0.5
# Never run in the server: `serve` is a long-lived process of its own, `db` migrates
# (and must see the schema fresh), `daemon` manages the server itself.
IN_PROCESS_COMMANDS = frozenset({"serve", "db", "daemon"})
# Root options that end a command before any subcommand runs: Typer's help and shell
# completion live here, and must stay within their own (in-process) budgets.
IN_PROCESS_OPTIONS = frozenset({"--help", "--install-completion", "--show-completion"})
# Signals a person or a supervisor sends to a running command; forwarded to the process
# that runs it, so that Ctrl-C stops the command and not just this client.
FORWARDED_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
# Kept in step with errors.ExitCode.UNEXPECTED by a test (importing errors costs time).
EXIT_UNEXPECTED = 1
# The libraries whose installed files are part of the fingerprint: an upgrade of any
# of them makes a running server stale.
DEPENDENCIES = (
    "typer",
    "rich",
    "sqlalchemy",
    "sqlmodel",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "psycopg",
    "psycopg_binary",
    "alembic",
    "dotenv",
    "platformdirs",
)
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})
_LENGTH = 4  # bytes of every length prefix, big-endian


# --- when to use the server -----------------------------------------------------------------


def daemon_enabled(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """`TODO_DAEMON`: from the environment, else the `.env` of the working directory.

    Read by hand because pydantic-settings is what this client exists to avoid loading;
    only plain `TODO_DAEMON=value` lines (optionally `export`ed or quoted) are understood,
    which is all a boolean needs. Unset or empty means on.
    """
    env = os.environ if environ is None else environ
    value = env.get("TODO_DAEMON", "")
    if not value:
        value = dotenv_value("TODO_DAEMON")
    return value.strip().lower() not in _FALSE_WORDS


def dotenv_value(name: str, path: str = ".env") -> str:
    """The last value `path` gives `name`, or "" (no file, no such line, unreadable)."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read(1 << 16)
    except (OSError, UnicodeDecodeError):
        return ""
    found = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, equals, value = line.partition("=")
        if equals and key.strip() == name:
            value = value.split(" #", 1)[0].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            found = value
    return found


def runs_in_process(argv: list[str], environ: dict[str, str] | os._Environ[str]) -> bool:
    """Whether this command line must run here whatever the server could do."""
    if any(name.startswith("_TODO_COMPLETE") for name in environ):
        return True  # shell completion: its own stdlib-only fast path
    options = argv[1 : argv.index("--")] if "--" in argv else argv[1:]
    if any(arg in IN_PROCESS_OPTIONS for arg in options):
        return True
    words = [arg for arg in options if not arg.startswith("-")]
    if not words or words[0] in IN_PROCESS_COMMANDS:
        return True
    # `todo edit REF` alone, on a terminal, opens $VISUAL/$EDITOR: an editor needs the
    # terminal's job control (Ctrl-Z, resizing), which only this process has.
    return words[0] == "edit" and len(options) == 2 and _is_terminal(0)


def _is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


# --- the socket directory -------------------------------------------------------------------


def socket_dir(environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """`$XDG_RUNTIME_DIR/todo`, else `todo-<uid>` in the temporary directory."""
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "todo")
    temp = env.get("TMPDIR", "")
    if not (temp and os.path.isabs(temp) and os.path.isdir(temp)):
        temp = "/tmp"
    return os.path.join(temp, f"todo-{os.getuid()}")


def unsafe_dir(path: str, *, create: bool = True) -> str | None:
    """Why `path` must not hold the socket, or None if it is safe (made if missing).

    Anyone who can write to the directory could put their own socket there and read
    every command's environment, passwords included: it must be a real directory (not
    a symlink), owned by this user, with no access for group or others.
    """
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            return f"cannot create {path}: {exc.strerror}"
    try:
        status = os.lstat(path)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if (status.st_mode & 0o170000) != 0o040000:
        return f"{path} is not a directory (a symlink or a file)"
    if status.st_uid != os.getuid():
        return f"{path} belongs to uid {status.st_uid}, not to you (uid {os.getuid()})"
    if status.st_mode & 0o077:
        return f"{path} has mode {status.st_mode & 0o777:o}; it must be 700"
    return None


# --- the fingerprint ------------------------------------------------------------------------


def package_dir() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fingerprint() -> bytes:
    """What a server must share with this client to run its commands unchanged.

    The interpreter and how it was started (flags, `PYTHON*` variables, filesystem
    encoding), the module search path, the size and modification time of every Python
    file of this package and of the key dependencies' `__init__.py`. Computed afresh by
    every client (about 0.3 ms of `stat` calls), and once by a server before it imports
    anything: editing a file or upgrading a library makes a running server stale.
    """
    parts = [
        PROTOCOL.decode(),
        sys.executable,
        sys.version,
        repr(tuple(sys.flags)),
        sys.getfilesystemencoding(),
        sys.getfilesystemencodeerrors(),
        # sys.path[0] is the script's directory or the working directory (`-m`): it says
        # how this process was started, not what it runs.
        "\0".join(sys.path[1:]),
        "\0".join(sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("PYTHON"))),
    ]
    _tree(package_dir(), parts)
    for name in DEPENDENCIES:
        for entry in sys.path[1:]:
            path = os.path.join(entry, name, "__init__.py")
            try:
                status = os.stat(path)
            except OSError:
                continue
            parts.append(f"{path}:{status.st_mtime_ns}:{status.st_size}")
            break
    return "\n".join(parts).encode("utf-8", "surrogateescape")


def _tree(path: str, parts: list[str]) -> None:
    found: list[str] = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    _tree(entry.path, parts)
            elif entry.name.endswith(".py"):
                status = entry.stat()
                found.append(f"{entry.path}:{status.st_mtime_ns}:{status.st_size}")
    parts.extend(sorted(found))


# --- the wire format ------------------------------------------------------------------------
# A frame is a 4-byte length and that many bytes: a sequence of fields, each a 4-byte
# length and its bytes. File descriptors travel with the first bytes of a frame.


def pack(fields: list[bytes]) -> bytes:
    body = b"".join(len(field).to_bytes(_LENGTH, "big") + field for field in fields)
    return len(body).to_bytes(_LENGTH, "big") + body


def unpack(body: bytes) -> list[bytes]:
    fields: list[bytes] = []
    at = 0
    while at < len(body):
        size = int.from_bytes(body[at : at + _LENGTH], "big")
        at += _LENGTH
        if at + size > len(body):
            raise ValueError("truncated field")
        fields.append(body[at : at + size])
        at += size
    return fields


def send_frame(sock: _socket.socket, fields: list[bytes], fds: list[int] | None = None) -> None:
    data = pack(fields)
    if fds:
        rights = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
        sent = sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
        data = data[sent:]
    if data:
        sock.sendall(data)


def recv_frame(
    sock: _socket.socket, *, max_fds: int = 0, limit: int = 1 << 22
) -> tuple[list[bytes], list[int]]:
    """One frame and the descriptors that came with it; EOFError if the peer is gone.

    Descriptors received are the caller's to close, even when this raises after them.
    """
    fds: list[int] = []
    chunks: list[bytes] = []
    have = 0
    need = _LENGTH
    header: int | None = None
    while True:
        if max_fds and not fds and not chunks:
            space = _socket.CMSG_SPACE(max_fds * 4)
            data, ancillary, _flags, _address = sock.recvmsg(65536, space)
            for level, kind, payload in ancillary:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    usable = len(payload) - len(payload) % 4
                    fds.extend(
                        int.from_bytes(payload[i : i + 4], sys.byteorder, signed=True)
                        for i in range(0, usable, 4)
                    )
        else:
            data = sock.recv(max(need - have, 4096) if header is None else need - have)
        if not data:
            raise EOFError("connection closed")
        chunks.append(data)
        have += len(data)
        if header is None and have >= _LENGTH:
            joined = b"".join(chunks)
            header = int.from_bytes(joined[:_LENGTH], "big")
            if header > limit:
                raise ValueError("frame too large")
            chunks = [joined]
            need = _LENGTH + header
        if header is not None and have >= need:
            joined = b"".join(chunks)
            if have > need:
                raise ValueError("more than one frame")
            return unpack(joined[_LENGTH:need]), fds


def peer_uid(sock: _socket.socket) -> int:
    """The uid of the process at the other end (Linux SO_PEERCRED: pid, uid, gid)."""
    if not hasattr(_socket, "SO_PEERCRED"):
        raise PermissionError("cannot tell who is at the other end on this system")
    credentials = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return int.from_bytes(credentials[4:8], sys.byteorder)


def connect(directory: str, timeout: float = HANDSHAKE_TIMEOUT) -> _socket.socket:
    """A connection to the server in `directory` that is known to run as this user."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(os.path.join(directory, SOCKET_NAME))
        if peer_uid(sock) != os.getuid():
            raise PermissionError("the server runs as another user")
    except BaseException:
        sock.close()
        raise
    return sock


def ask(directory: str, kind: bytes, timeout: float = 5.0) -> list[bytes]:
    """One control request (`status`, `stop`) and the server's answer."""
    sock = connect(directory, timeout)
    try:
        send_frame(sock, [kind, PROTOCOL])
        fields, _ = recv_frame(sock)
        return fields
    finally:
        sock.close()


# --- the entry point ------------------------------------------------------------------------


def main() -> None:
    """The `todo` console script."""
    argv = sys.argv
    if daemon_enabled():
        if not runs_in_process(argv, os.environ):
            directory = socket_dir()
            # An unsafe directory is reported by `todo daemon status`, never here: the
            # command itself runs here unchanged, and its stderr stays its own.
            if unsafe_dir(directory) is None:
                outcome = _through_server(directory, argv)
                if outcome is not None:
                    _finish(*outcome)
        elif "db" in argv[1:2]:
            _forget_schemas()
    run_here()


def _forget_schemas() -> None:
    """Before `todo db …` changes a schema: the server drops its connections and its
    schema checks, so that its next command sees the schema as a new process would."""
    directory = socket_dir()
    if unsafe_dir(directory, create=False) is None:
        try:
            ask(directory, b"forget", timeout=1.0)
        except (OSError, EOFError, ValueError):
            pass  # no server: nothing to forget


def run_here() -> None:
    """Run the command in this process, as `todo` always did."""
    from todo_cli._startup import pause_gc

    pause_gc()  # until the command has imported what it needs (see todo_cli._startup)
    from todo_cli.cli import main as run

    run()


class _Forwarder:
    """Sends the signals this client receives to the process running its command."""

    def __init__(self) -> None:
        self.pid = 0
        self.pending: list[int] = []
        self.installed: list[int] = []

    def install(self) -> None:
        for signum in FORWARDED_SIGNALS:
            # An ignored signal (`nohup`, a background job of a script) would have been
            # ignored by the command too: leave it so.
            if _signal.getsignal(signum) != _signal.SIG_IGN:
                _signal.signal(signum, self._forward)
                self.installed.append(signum)

    def _forward(self, signum: int, _frame: object) -> None:
        if not self.pid:
            self.pending.append(signum)
            return
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass  # the command has just ended; its outcome is on its way


def _through_server(directory: str, argv: list[str]) -> tuple[str, int] | None:
    """("exit", code) or ("signal", number) from the server, or None: run here."""
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)  # a closed stdio descriptor cannot be passed: let Python cope
        cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    forwarder = _Forwarder()
    try:
        try:
            sock = connect(directory)
        except (FileNotFoundError, ConnectionRefusedError):
            start_server(directory)  # none running (or a stale socket file)
            return None
        except OSError:
            return None  # timed out in a full backlog, another user's socket, …
        try:
            return _converse(sock, directory, argv, cwd, forwarder)
        finally:
            sock.close()
    finally:
        os.close(cwd)


def _converse(
    sock: _socket.socket, directory: str, argv: list[str], cwd: int, forwarder: _Forwarder
) -> tuple[str, int] | None:
    umask = os.umask(0o077)
    os.umask(umask)
    streams = []
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        streams += [
            stream.encoding.encode(),
            stream.errors.encode() if stream.errors else b"strict",
            b"1" if stream.line_buffering else b"0",
            b"1" if getattr(stream, "write_through", False) else b"0",
        ]
    arguments = [os.fsencode(arg) for arg in argv]
    environment = [key + b"=" + value for key, value in os.environb.items()]
    fields = [b"run", PROTOCOL, fingerprint(), b"%o" % umask, *streams]
    fields += [b"%d" % len(arguments), *arguments, *environment]
    try:
        send_frame(sock, fields, [0, 1, 2, cwd])
        answer, _ = recv_frame(sock)
    except (OSError, EOFError, ValueError):
        return None  # busy past the wait, or gone: nothing has run
    if answer[:1] == [b"stale"]:
        start_server(directory)  # it replaces the stale one once it is loaded
        return None
    if answer[:1] != [b"ready"] or len(answer) < 2:
        return None
    # From "go" on, the command is running there; signals go to it.
    forwarder.install()
    try:
        if forwarder.pending:
            return "signal", forwarder.pending[0]  # interrupted before anything ran
        sock.settimeout(None)
        send_frame(sock, [b"go"])
        forwarder.pid = int(answer[1])
        for signum in forwarder.pending:
            os.kill(forwarder.pid, signum)
        try:
            result, _ = recv_frame(sock)
        except (OSError, EOFError, ValueError):
            result = []
    finally:
        for signum in forwarder.installed:
            _signal.signal(signum, _signal.SIG_DFL)
    if len(result) == 2 and result[0] in (b"exit", b"signal"):
        return result[0].decode(), int(result[1])
    os.write(
        2,
        b"Error: the warm todo server stopped while running this command; whether it "
        b"took effect is unknown (see `todo daemon status`).\n",
    )
    return "exit", EXIT_UNEXPECTED


def _finish(kind: str, number: int) -> None:
    if kind == "signal":
        _signal.signal(number, _signal.SIG_DFL)
        os.kill(os.getpid(), number)
        number = 128 + number  # a signal this process could not die of
    os._exit(number)


# --- starting a server ----------------------------------------------------------------------


def start_server(directory: str) -> bool:
    """Start a detached server for `directory`, unless one is starting already.

    The spawn lock (an flock the new server holds until its socket is in place) keeps
    a burst of commands from starting a server each. The server gets a new session,
    /dev/null for stdin, its own log for stdout and stderr, and no other descriptor of
    this process: it must never hold a terminal, a pipe or a CI log open.
    """
    import fcntl

    lock = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        child = os.fork()
        if child == 0:
            try:
                os.setsid()
                if os.fork() == 0:
                    _exec_server(directory, lock)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        return True
    finally:
        os.close(lock)


def server_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """What the server starts with: what shapes the interpreter, and nothing secret.

    Each command brings its own environment; the server's own must not hold a database
    password (it would outlive the command in /proc and in crash reports).
    """
    kept = {"PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR", "XDG_RUNTIME_DIR", "TODO_DAEMON_IDLE"}
    return {
        key: value
        for key, value in environ.items()
        if key in kept or key.startswith(("PYTHON", "LC_"))
    }


def interpreter_options(orig_argv: list[str]) -> list[str]:
    """The interpreter's own options of this process (`-X dev`, `-W error`), if any."""
    options: list[str] = []
    args = iter(orig_argv[1:])
    for arg in args:
        if not arg.startswith("-") or arg in ("-m", "-c", "-"):
            break
        options.append(arg)
        if arg in ("-X", "-W"):
            options.append(next(args, ""))
    return options


def _exec_server(directory: str, lock: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open(os.path.join(directory, LOG_NAME), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    keep = 3 if lock != 3 else 4
    os.dup2(lock, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
    os.closerange(3, keep)
    environment = server_environment(os.environ)
    if "TODO_DAEMON_IDLE" not in environment:
        idle = dotenv_value("TODO_DAEMON_IDLE")  # the .env of the directory it starts in
        if idle:
            environment["TODO_DAEMON_IDLE"] = idle
    os.chdir("/")
    os.umask(0o077)
    command = [sys.executable, *interpreter_options(list(getattr(sys, "orig_argv", []))), "-m"]
    command += ["todo_cli.warm.server", "--lock-fd", str(keep), "--dir", directory]
    os.execve(sys.executable, command, environment)
