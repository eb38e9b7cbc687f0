"""`todo --version` and `todo db …`, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from importlib.metadata import version

import pytest

from tests.cli import invoke
from tests.terminal import TODO, run_on_terminal
from todo_cli import __version__, db
from todo_cli.cli.serve import DISTRIBUTION
from todo_cli.config import DatabaseURL


def test_version_matches_the_installed_distribution() -> None:
    assert __version__ == version(DISTRIBUTION)
    code, out, _ = invoke("--version")
    assert (code, out) == (0, f"todo {__version__}\n")


def test_upgrade_current_downgrade(
    new_database: Callable[[str], DatabaseURL], backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = new_database(backend)
    monkeypatch.setenv("TODO_DATABASE_URL", url.reveal())

    code, out, _ = invoke("db", "current", "--json")
    assert code == 0 and json.loads(out)["revision"] is None

    for _ in range(2):
        code, out, err = invoke("db", "upgrade")
        assert (code, err) == (0, "")
    code, out, _ = invoke("db", "current")
    assert out == f"{url.masked}: revision {db.HEAD_REVISION} (up to date)\n"

    code, out, _ = invoke("db", "current", "--json")
    head = db.HEAD_REVISION
    assert json.loads(out) == {"revision": head, "head": head, "database": url.masked}

    code, out, _ = invoke("db", "downgrade", "base", "--yes")
    assert (code, out) == (0, f"Downgraded {head} → none on {url.masked}\n")
    assert json.loads(invoke("db", "current", "--json")[1])["revision"] is None


def todo_db(url: DatabaseURL, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `todo db ARGS` on `url`, from a script (stdin not a terminal)."""
    return subprocess.run(
        [str(TODO), "db", *args],
        env={**os.environ, "TODO_DATABASE_URL": url.reveal()},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_upgrade_says_what_it_did(new_database: Callable[[str], DatabaseURL], backend: str) -> None:
    url = new_database(backend)
    first, head = db.SCHEMA_REVISIONS[0], db.HEAD_REVISION
    steps = [
        ((first,), f"Upgraded none → {first} on {url.masked} (head is {head})\n"),
        ((), f"Upgraded {first} → {head} on {url.masked}\n"),
        ((), f"Already at {head} on {url.masked}\n"),
        (("head",), f"Already at {head} on {url.masked}\n"),
    ]
    for args, said in steps:
        done = todo_db(url, "upgrade", *args)
        assert (done.returncode, done.stdout, done.stderr) == (0, said, ""), args
    report = json.loads(todo_db(url, "upgrade", "--json").stdout)
    assert report == {"revision": head, "head": head, "database": url.masked}


def test_downgrade_without_a_terminal_needs_yes_and_changes_nothing(
    new_database: Callable[[str], DatabaseURL], backend: str
) -> None:
    url = new_database(backend)
    db.upgrade(url)
    head = db.HEAD_REVISION
    done = todo_db(url, "downgrade", "base")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"Error: Taking the schema of {url.masked} from {head} back to base can drop tables "
        "and their data, so it needs confirmation; pass --yes.\n"
    )
    assert db.revision_of(url) == head
    body = json.loads(todo_db(url, "downgrade", "base", "--json").stderr)
    assert body["error"]["code"] == "VALIDATION_ERROR" and db.revision_of(url) == head
    done = todo_db(url, "downgrade", "base", "-y")
    assert (done.returncode, done.stderr) == (0, "")
    assert db.revision_of(url) is None
    # Nothing to take back: nothing to confirm.
    assert todo_db(url, "downgrade", "base").stdout == f"Already at none on {url.masked}\n"


@pytest.mark.parametrize(("answer", "confirmed"), [("y\n", True), ("n\n", False), ("\n", False)])
def test_downgrade_asks_on_a_terminal(
    new_database: Callable[[str], DatabaseURL], backend: str, answer: str, confirmed: bool
) -> None:
    url = new_database(backend)
    db.upgrade(url)
    head = db.HEAD_REVISION
    question = (
        f"Take the schema of {url.masked} from {head} back to base? "
        "Tables it drops lose their data. [y/N] "
    )
    screen = run_on_terminal(
        "db",
        "downgrade",
        "base",
        env={**os.environ, "TODO_DATABASE_URL": url.reveal(), "NO_COLOR": "1"},
        answer=(question, answer),
    )
    assert question in screen.plain
    if confirmed:
        assert screen.returncode == 0
        assert f"Downgraded {head} → none on {url.masked}\n" in screen.plain
        assert db.revision_of(url) is None
    else:
        assert screen.returncode == 2
        assert f"Error: Not confirmed; the schema was left at {head}.\n" in screen.plain
        assert db.revision_of(url) == head


def test_bad_revision_is_exit_2_with_one_sentence(
    new_database: Callable[[str], DatabaseURL], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_DATABASE_URL", new_database("sqlite").reveal())
    code, out, err = invoke("db", "upgrade", "nosuchrev")
    assert code == 2 and out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1 and "nosuchrev" in err


def test_unreachable_database_is_exit_5_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TODO_DATABASE_URL", "postgresql://me:hunter2@127.0.0.1:9/todo")
    monkeypatch.setenv("TODO_CONNECT_TIMEOUT", "0.5")
    code, out, err = invoke("db", "upgrade")
    assert code == 5 and out == ""
    assert err.startswith("Error: Cannot reach the database at postgresql+psycopg://me:***@")
    assert "hunter2" not in err and "Traceback" not in err

    code, _, err = invoke("db", "current", "--json")
    body = json.loads(err)
    assert code == 5 and body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "hunter2" not in err


def test_percent_in_the_password_works(
    new_database: Callable[[str], DatabaseURL], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alembic's ini parser would choke on '%'; the URL never goes through it."""
    url = new_database("postgresql")
    with_password = url.reveal().replace("postgres@", "postgres:100%25sure%%@", 1)
    monkeypatch.setenv("TODO_DATABASE_URL", with_password)
    code, out, err = invoke("db", "upgrade")
    assert (code, err) == (0, ""), err
    assert "100%" not in out


def test_db_without_subcommand_shows_help() -> None:
    code, out, _ = invoke("db")
    assert "upgrade" in out and "downgrade" in out and "current" in out
    assert code in (0, 2)


def test_migration_errors_name_the_direct_url_they_used(
    database_url: DatabaseURL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrations run on TODO_DATABASE_URL_DIRECT: a failure there must name (and mask) it."""
    monkeypatch.setenv("TODO_DATABASE_URL", database_url.reveal())
    monkeypatch.setenv("TODO_DATABASE_URL_DIRECT", "postgresql://bob:DirectPw@127.0.0.1:9/x")
    monkeypatch.setenv("TODO_CONNECT_TIMEOUT", "0.5")
    for command in (["db", "upgrade"], ["db", "current"], ["db", "downgrade", "base"]):
        code, _, err = invoke(*command)
        assert code == 5, err  # before any question: the database is read first
        assert "Cannot reach the database at postgresql+psycopg://bob:***@127.0.0.1:9/x" in err
        assert "DirectPw" not in err


def test_a_schema_newer_than_this_todo_is_exit_5_not_a_usage_error(
    new_database: Callable[[str], DatabaseURL], backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    url = new_database(backend)
    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    monkeypatch.setenv("TODO_DATABASE_URL", url.reveal())
    for command in (["db", "upgrade"], ["db", "downgrade", "base"]):
        code, _, err = invoke(*command)
        assert code == 5, err
        assert "newer than this todo knows; upgrade todo" in err
