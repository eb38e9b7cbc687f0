"""The warm server runs commands byte for byte as `TODO_DAEMON=0` does, only sooner.

Real `todo` processes of the installed console script, each command run warm (and
checked to have been served by the server) and in-process, with exit code, stdout and
stderr compared byte for byte: on both backends, on a terminal, at a prompt, under
Ctrl-C, into a closed pipe, with a `.env` elsewhere, and two at once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import BACKENDS
from tests.warm import TIMEOUT, TODO, Ran, Warm, make_runtime_dir, on_terminal
from todo_cli.config import DatabaseURL

OLD = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warm]:
    """One server for the module, in a socket directory of its own; stopped at the end."""
    server = Warm(make_runtime_dir(tmp_path_factory.mktemp("warm")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def running(warm: Warm) -> Warm:
    warm.start()
    return warm


def _age_everything(url: DatabaseURL) -> None:
    """Fixed old timestamps, so that "age" reads the same however long a test takes."""
    engine = create_engine(url.reveal())
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE tasks SET created_at = :t, updated_at = :t"), {"t": OLD}
            )
            connection.execute(text("UPDATE users SET created_at = :t"), {"t": OLD})
    finally:
        engine.dispose()


def _prepared(
    warm: Warm, new_database: Callable[[str], DatabaseURL], backend: str
) -> tuple[DatabaseURL, dict[str, str]]:
    url = new_database(backend)
    variables = {"TODO_DATABASE_URL": url.reveal()}
    if backend == "postgresql":
        variables["TODO_USER"] = "alice"
        for args in (("db", "upgrade"), ("user", "add", "alice")):
            done = warm.run(*args, warm=False, env=variables)
            assert done.returncode == 0, done.stderr
    return url, variables


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_INSTANT = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _twin(ran: Ran) -> Ran:
    """The output of a write with what must differ between twin databases blanked:
    the UUIDs each one made and the instants each one wrote."""
    return Ran(ran.returncode, _blank(ran.stdout), _blank(ran.stderr))


def _blank(data: bytes) -> bytes:
    return _INSTANT.sub(b"<instant>", _UUID.sub(b"<uuid>", data))


def _same(warm: Ran, cold: Ran, expected_code: int | None = None) -> None:
    assert (warm.returncode, warm.stdout, warm.stderr) == (
        cold.returncode,
        cold.stdout,
        cold.stderr,
    )
    if expected_code is not None:
        assert warm.returncode == expected_code, warm.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_commands_match_in_process_byte_for_byte(
    running: Warm, new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    """Writes run warm on one database and in-process on a twin; reads on the same one."""
    url_a, env_a = _prepared(running, new_database, backend)
    url_b, env_b = _prepared(running, new_database, backend)
    writes: list[tuple[tuple[str, ...], int]] = [
        (("add", "Buy milk", "+home", "pri:H"), 0),
        (("add", "Pay rent", "project:house"), 0),
        (("add", "--", "Call", "mum", "+family"), 0),
        (("done", "1"), 0),
        (("done", "99"), 3),
        (("edit", "2"), 2),
        (("add", ""), 2),
        (("add", "x" * 256), 2),
        (("reopen", "1"), 0),
        (("rm", "3"), 0),
        (("undo",), 0),
        (("user", "add", "bob"), 0),
        (("user", "add", "bob"), 4),
        (("done", "1", "--json"), 0),
        (("show", "nope"), 2),
    ]
    reads: list[tuple[tuple[str, ...], int]] = [
        (("list",), 0),
        (("list", "--all"), 0),
        (("list", "--json"), 0),
        (("list", "--all", "--json"), 0),
        (("show", "2"), 0),
        (("show", "2", "--json"), 0),
        (("show", "2", "--tz", "Asia/Tokyo"), 0),  # every instant on that clock
        (("show", "42", "--json"), 3),
        (("list", "--bogus"), 2),
        (("user", "list"), 0),
        (("config", "--json"), 0),
    ]
    for args, code in writes:
        before = running.served()
        warm = running.run(*args, warm=True, env=env_a)
        assert running.served() == before + 1
        cold = running.run(*args, warm=False, env=env_b)
        _same(_twin(warm), _twin(cold), code)
    _age_everything(url_a)
    running.variables = env_a
    try:
        for args, code in reads:
            _same(*running.both(*args), code)
    finally:
        running.variables = {}


def test_terminal_width_and_colour_follow_the_client(
    running: Warm, new_database: Callable[[str], DatabaseURL]
) -> None:
    url, variables = _prepared(running, new_database, "sqlite")
    title = "A title long enough to be cut at the terminal's width " * 3
    assert running.run("add", title, warm=False, env=variables).returncode == 0
    _age_everything(url)
    base = {**running.env(warm=False, **variables), "TERM": "xterm-256color"}
    base.pop("NO_COLOR")
    widths = []
    for columns in (40, 100):
        before = running.served()
        warm = on_terminal(["list"], {**base, "TODO_DAEMON": "1"}, columns=columns)
        assert running.served() == before + 1
        cold = on_terminal(["list"], base, columns=columns)
        assert warm == cold
        assert warm[0] == 0 and b"\x1b[" in warm[1]  # colour, on a terminal
        visible = re.sub(rb"\x1b\[[0-9;]*m", b"", warm[1]).decode()
        widest = max(len(line) for line in visible.split("\r\n"))
        assert widest <= columns
        widths.append(widest)
    assert widths[0] < widths[1]  # the client's terminal's width, not the server's


def test_a_prompt_reads_the_clients_terminal(
    running: Warm, new_database: Callable[[str], DatabaseURL]
) -> None:
    _url, variables = _prepared(running, new_database, "sqlite")
    env = running.env(warm=False, **variables)
    for name in ("bob", "carol"):
        assert running.run("user", "add", name, warm=False, env=variables).returncode == 0
    prompt = b"[y/N] "
    forked = running.status()["server"]["commands_forked"]
    warm_no = on_terminal(
        ["user", "rm", "bob"], {**env, "TODO_DAEMON": "1"}, answers=((prompt, b"n\r"),)
    )
    cold_no = on_terminal(["user", "rm", "bob"], env, answers=((prompt, b"n\r"),))
    assert warm_no == cold_no and warm_no[0] == 2
    assert b"were kept" in warm_no[1]
    warm_yes = on_terminal(
        ["user", "rm", "bob"], {**env, "TODO_DAEMON": "1"}, answers=((prompt, b"y\r"),)
    )
    cold_yes = on_terminal(["user", "rm", "carol"], env, answers=((prompt, b"y\r"),))
    assert warm_yes[0] == cold_yes[0] == 0
    assert warm_yes[1].replace(b"bob", b"carol") == cold_yes[1]
    # A prompting command never runs in (and blocks) the server itself: it is forked.
    assert running.status()["server"]["commands_forked"] == forked + 2
    assert running.run("user", "list", warm=False, env=variables).stdout.count(b"\n") >= 1
    gone = running.run("user", "list", warm=True, env=variables).stdout
    assert b"bob" not in gone and b"carol" not in gone


def test_two_commands_at_once_neither_waits_for_the_others_prompt(
    running: Warm, new_database: Callable[[str], DatabaseURL]
) -> None:
    _url, variables = _prepared(running, new_database, "sqlite")
    assert running.run("user", "add", "bob", warm=False, env=variables).returncode == 0
    assert running.run("add", "meanwhile", warm=False, env=variables).returncode == 0
    env = running.env(warm=True, **variables)
    seen: list[Ran] = []

    def meanwhile(process: subprocess.Popen[bytes]) -> None:
        # The prompt is waiting for a person: another command completes, warm.
        assert process.poll() is None
        before = running.served()
        started = time.monotonic()
        seen.append(running.run("list", warm=True, env=variables))
        assert time.monotonic() - started < 10
        assert running.served() == before + 1
        assert process.poll() is None  # still asking

    code, transcript = on_terminal(
        ["user", "rm", "bob"], env, answers=((b"[y/N] ", b"n\r"),), started=meanwhile
    )
    assert code == 2 and b"were kept" in transcript
    assert seen and seen[0].returncode == 0 and b"meanwhile" in seen[0].stdout


@pytest.mark.postgres_only
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_a_command_waiting_for_a_row_lock(
    running: Warm, new_database: Callable[[str], DatabaseURL], signum: int
) -> None:
    url, variables = _prepared(running, new_database, "postgresql")
    assert running.run("add", "locked", warm=False, env=variables).returncode == 0
    conninfo = url.reveal().replace("postgresql+psycopg://", "postgresql://")
    outcomes = []
    for warm in (True, False):
        with psycopg.connect(conninfo) as holder, psycopg.connect(conninfo, autocommit=True) as spy:
            holder.execute("SELECT * FROM tasks FOR UPDATE")  # held until rollback
            process = subprocess.Popen(
                [TODO, "done", "1"],
                env=running.env(warm=warm, **variables),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            _wait_for_lock_wait(spy)
            process.send_signal(signum)
            out, err = process.communicate(timeout=TIMEOUT)
            holder.rollback()
        outcomes.append((process.returncode, out, err))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == (130 if signum == signal.SIGINT else -signum)
    # Nothing changed, and the server serves the next command as usual (no signal left).
    before = running.served()
    listed = running.run("list", warm=True, env=variables)
    assert listed.returncode == 0 and b"locked" in listed.stdout
    assert running.served() == before + 1


def _wait_for_lock_wait(spy: psycopg.Connection) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        waiting = spy.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        if waiting and waiting[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the command never waited for the lock")


def test_a_closed_pipe_ends_the_same_way(
    running: Warm, new_database: Callable[[str], DatabaseURL]
) -> None:
    _url, variables = _prepared(running, new_database, "sqlite")
    for i in range(50):
        assert running.run("add", f"task {i}", warm=False, env=variables).returncode == 0
    outcomes = []
    for warm in (True, False):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first byte (`| head -0`)
        before = running.served()
        done = subprocess.run(
            [TODO, "list", "--json"],
            env=running.env(warm=warm, **variables),
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=TIMEOUT,
        )
        os.close(write_end)
        if warm:
            assert running.served() == before + 1
        outcomes.append((done.returncode, done.stderr))
    assert outcomes[0] == outcomes[1] == (1, b"")


def test_dotenv_of_the_clients_directory_applies(
    running: Warm, tmp_path: Path, new_database: Callable[[str], DatabaseURL]
) -> None:
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    other_db = tmp_path / "other.db"
    (elsewhere / ".env").write_text(f"TODO_DATABASE_URL=sqlite:///{other_db}\nTODO_DEBUG=1\n")
    done = running.run("add", "only in the project database", warm=False, cwd=elsewhere)
    assert done.returncode == 0
    engine_url = DatabaseURL.parse(f"sqlite:///{other_db}")
    _age_everything(engine_url)
    here, here_cold = running.both("list", cwd=elsewhere)
    _same(here, here_cold, 0)
    assert b"only in the project database" in here.stdout
    config, config_cold = running.both("config", "--json", cwd=elsewhere)
    _same(config, config_cold, 0)
    assert b"env_file" in config.stdout
    # And the settings do not stick: from another directory, the default database.
    away, away_cold = running.both("list", cwd=tmp_path)
    _same(away, away_cold, 0)
    assert b"only in the project database" not in away.stdout


def test_help_and_completion_never_reach_the_server(running: Warm) -> None:
    before = running.served()
    for args in (("--help",), ("list", "--help"), ("--version",), ("daemon", "status")):
        warm = running.run(*args, warm=True)
        cold = running.run(*args, warm=False)
        if args != ("daemon", "status"):
            _same(warm, cold, 0)
    completion = running.run(
        "",
        warm=True,
        env={"_TODO_COMPLETE": "complete_bash", "COMP_WORDS": "todo ", "COMP_CWORD": "1"},
    )
    assert completion.returncode == 0
    assert running.served() == before


def test_the_client_loads_only_the_cheap_standard_library() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import todo_cli.warm.client"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    heavy = {"typer", "click", "sqlalchemy", "sqlmodel", "pydantic", "rich", "socket", "signal"}
    assert loaded and not heavy & {name.split(".")[0] for name in loaded}


def test_idle_server_exits_by_itself(tmp_path: Path) -> None:
    server = Warm(make_runtime_dir(tmp_path), TODO_DAEMON_IDLE="1")
    try:
        server.start()
        deadline = time.monotonic() + 20
        while server.status()["running"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not server.status()["running"]
        assert not (server.runtime_dir / "todo" / "server.sock").exists()
    finally:
        server.stop()
