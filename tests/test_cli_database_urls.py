"""Database URL mistakes, through the installed `todo` as a user runs it.

Each mistake is exit 5 with one sentence on stderr that says what is wrong and what to
write instead: never a traceback, never exit 1, never "run `todo db upgrade`" where that
would not help. A database that holds tables of todo's names but records no todo
revision is never touched, by a command or by `todo db upgrade`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.processes import todo_env
from todo_cli import db
from todo_cli.config import DatabaseURL

TODO = shutil.which("todo", path=str(Path(sys.executable).parent))


def run_todo(*args: str, url: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`todo ARGS…` from the venv's console script, as a shell would run it."""
    assert TODO is not None, "the todo console script is not installed in this venv"
    return subprocess.run(
        [TODO, *args],
        env=todo_env(TODO_DATABASE_URL=url, **env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_sentence(result: subprocess.CompletedProcess[str], *, code: int = 5) -> str:
    assert result.returncode == code, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("url", "advice"),
    [
        ("sqlite:todo.db", "sqlite:///todo.db"),
        ("sqlite:/srv/todo.db", "sqlite:////srv/todo.db"),
    ],
)
def test_a_sqlite_url_without_its_slashes_says_how_to_write_it(
    tmp_path: Path, url: str, advice: str
) -> None:
    err = assert_one_sentence(run_todo("list", url=url, cwd=tmp_path))
    assert advice in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///"])
def test_an_in_memory_sqlite_database_is_refused_not_sent_to_db_upgrade(
    tmp_path: Path, url: str
) -> None:
    for command in (("list",), ("db", "upgrade")):
        err = assert_one_sentence(run_todo(*command, url=url, cwd=tmp_path))
        assert "in-memory" in err and "db upgrade" not in err


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Buy milk\n" * 100)
    for command in (("list",), ("db", "upgrade"), ("db", "current")):
        err = assert_one_sentence(run_todo(*command, url=f"sqlite:///{notes}", cwd=tmp_path))
        assert f"{notes} is not a SQLite database" in err
    assert notes.read_text() == "Buy milk\n" * 100


def test_a_file_in_the_way_of_the_database_directory_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    err = assert_one_sentence(run_todo("list", url="sqlite:///data/todo.db", cwd=tmp_path))
    assert "Cannot create the directory data" in err


def test_a_tilde_is_the_home_directory(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    added = run_todo("add", "Buy milk", url="sqlite:///~/tasks/todo.db", cwd=work, HOME=str(home))
    assert added.returncode == 0, added.stderr
    assert (home / "tasks" / "todo.db").is_file()
    assert list(work.iterdir()) == []  # no literal "~" directory
    shown = run_todo("config", "--json", url="sqlite:///~/tasks/todo.db", cwd=work, HOME=str(home))
    assert str(home / "tasks" / "todo.db") in shown.stdout


# --- tables of todo's names, but no todo revision --------------------------------------


def _sql(url: DatabaseURL, *statements: str) -> None:
    if url.backend == "sqlite":
        with sqlite3.connect(str(url.sqlite_path)) as connection:
            for statement in statements:
                connection.execute(statement)
        return
    conninfo = url.reveal().replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def _rows(url: DatabaseURL, query: str) -> list[tuple[object, ...]]:
    if url.backend == "sqlite":
        with sqlite3.connect(str(url.sqlite_path)) as connection:
            return list(connection.execute(query))
    conninfo = url.reveal().replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo) as connection:
        return list(connection.execute(query))


def _tables(url: DatabaseURL) -> set[str]:
    if url.backend == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    return {str(row[0]) for row in _rows(url, query)}


def test_another_applications_users_table_is_never_touched(
    new_database: Callable[[str], DatabaseURL], backend: str, tmp_path: Path
) -> None:
    url = new_database(backend)
    _sql(
        url,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, password_hash TEXT)",
        "INSERT INTO users (id, email, password_hash) VALUES (1, 'ann@example.com', 'x')",
    )
    for command in (("db", "upgrade"), ("user", "list"), ("list", "--user", "ann")):
        err = assert_one_sentence(run_todo(*command, url=url.reveal(), cwd=tmp_path))
        assert "todo did not create" in err and "`users`" in err, err
        assert "run `todo db upgrade`" not in err
    assert _tables(url) == {"users"}
    assert _rows(url, "SELECT id, email, password_hash FROM users") == [(1, "ann@example.com", "x")]


def test_todos_tables_without_a_recorded_revision_are_never_touched(
    new_database: Callable[[str], DatabaseURL], backend: str, tmp_path: Path
) -> None:
    url = new_database(backend)
    db.upgrade(url)
    _sql(url, "DELETE FROM alembic_version")
    before = _tables(url)
    for command in (("db", "upgrade"), ("user", "list"), ("list", "--user", "ann")):
        err = assert_one_sentence(run_todo(*command, url=url.reveal(), cwd=tmp_path))
        assert "no schema revision" in err and "`tasks`" in err and "`users`" in err, err
        assert "run `todo db upgrade`" not in err
    assert _tables(url) == before
    assert _rows(url, "SELECT * FROM alembic_version") == []

    _sql(url, "DROP TABLE alembic_version")
    err = assert_one_sentence(run_todo("db", "upgrade", url=url.reveal(), cwd=tmp_path))
    assert "no schema revision" in err
    assert "alembic_version" not in _tables(url)


def test_an_empty_database_is_still_sent_to_db_upgrade(
    new_database: Callable[[str], DatabaseURL], tmp_path: Path
) -> None:
    """The refusals above need tables of todo's names: an empty database is no such case."""
    url = new_database("postgresql")
    err = assert_one_sentence(run_todo("user", "list", url=url.reveal(), cwd=tmp_path))
    assert "run `todo db upgrade`" in err
    assert run_todo("db", "upgrade", url=url.reveal(), cwd=tmp_path).returncode == 0


# --- connecting: permanent failures at once, a slow start said on a terminal -------------


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://ann:pw-4f1c@127.0.0.1:{port}/todo"


def _run_on_a_terminal(*args: str, url: str, cwd: Path, **env: str) -> tuple[int, str]:
    """`todo ARGS…` with stderr on a pseudo-terminal: its exit code and what it showed."""
    import pty

    assert TODO is not None
    controller, terminal = pty.openpty()
    try:
        process = subprocess.run(
            [TODO, *args],
            env=todo_env(TODO_DATABASE_URL=url, **env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=terminal,
            timeout=120,
        )
    finally:
        os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return process.returncode, shown.decode().replace("\r\n", "\n")


def test_a_slow_connect_says_so_once_on_a_terminal_and_never_when_piped(tmp_path: Path) -> None:
    url = _closed_port_url()  # refused: retried with backoff for the whole budget
    code, shown = _run_on_a_terminal(
        "user", "list", url=url, cwd=tmp_path, TODO_CONNECT_TIMEOUT="2.5"
    )
    lines = shown.splitlines()
    assert code == 5
    assert lines[0] == "Waiting for the database (it may be waking up)…"
    assert len(lines) == 2 and lines[1].startswith("Error: Cannot reach the database")
    assert "pw-4f1c" not in shown

    piped = run_todo("user", "list", url=url, cwd=tmp_path, TODO_CONNECT_TIMEOUT="2.5")
    assert_one_sentence(piped)
    assert "Waiting" not in piped.stderr


def test_a_tls_refusal_fails_at_once_naming_the_cause(
    postgres_url: DatabaseURL, tmp_path: Path
) -> None:
    """The test server has no TLS: `sslmode=require` can never work, so no retrying."""
    url = f"{postgres_url.reveal()}?sslmode=require"
    started = time.monotonic()
    code, shown = _run_on_a_terminal(
        "user", "list", url=url, cwd=tmp_path, TODO_CONNECT_TIMEOUT="30"
    )
    assert time.monotonic() - started < 10  # start-up included; the budget is 30 s
    assert code == 5
    assert shown == (
        f"Error: Cannot connect to the database at {DatabaseURL.parse(url).masked}: the "
        "server does not support TLS, but the URL requires it (sslmode).\n"
    )
