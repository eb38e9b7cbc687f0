"""Database servers that tests start, stop and break on purpose.

- `PgBouncer`: Debian's pgbouncer in transaction mode in front of the test server, as
  Neon's pooled endpoint is.
- `PrivatePostgres`: a PostgreSQL cluster of the test run's own, on a free loopback port,
  which fault tests may stop and start without disturbing anything else.

Both refuse to run as root, so when the tests run as root they drop to the `postgres`
user, and their directories are made accessible to it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

_PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_service_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _service_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def _wait_for(conninfo: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(conninfo, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def pg_binary(name: str) -> str | None:
    for directory in _PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    return shutil.which(name)


class PgBouncer:
    """pgbouncer in transaction mode on a free port, forwarding to `upstream`."""

    def __init__(self, upstream: dict[str, str]) -> None:
        self.dir = _service_dir("todo-pgbouncer-")
        self.port = free_port()
        user = upstream.get("user", "postgres")
        (self.dir / "users.txt").write_text(f'"{user}" "{upstream.get("password", "")}"\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={upstream.get('host', '127.0.0.1')} port={upstream.get('port', '5432')}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "auth_type = trust\n"
            f"auth_file = {self.dir / 'users.txt'}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 500\n"
            # Fewer server connections than clients: transactions of one client land on
            # different server connections, which is what breaks prepared statements.
            "default_pool_size = 3\n"
            "unix_socket_dir =\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
            f"pidfile = {self.dir / 'pgbouncer.pid'}\n"
        )
        if os.geteuid() == 0:
            for path in self.dir.iterdir():
                shutil.chown(path, "postgres", "postgres")
        self.user = user

    def start(self) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        command = [binary, "-d", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command.insert(1, "-u")
            command.insert(2, "postgres")
        subprocess.run(command, check=True, capture_output=True)
        _wait_for(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres")

    def stop(self) -> None:
        pidfile = self.dir / "pgbouncer.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), 15)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, dbname: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"


class PrivatePostgres:
    """A throwaway PostgreSQL cluster that a test may stop and start at will."""

    def __init__(self) -> None:
        self.dir = _service_dir("todo-pgcluster-")
        self.data = self.dir / "data"
        self.port = free_port()
        initdb = pg_binary("initdb")
        if initdb is None:
            raise RuntimeError("initdb not found")
        subprocess.run(
            _as_service_user(
                [initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = pg_binary("pg_ctl")
        assert pg_ctl is not None
        subprocess.run(
            _as_service_user([pg_ctl, "-D", str(self.data), "-w", *args]),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-l", str(self.dir / "server.log"), "-o", options, "start")
        _wait_for(self.conninfo)

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
