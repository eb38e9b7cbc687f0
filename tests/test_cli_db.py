"""`todo --version` and `todo db …`, through the real command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import version

import pytest

from tests.cli import invoke
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
        assert f"revision {db.HEAD_REVISION} (up to date)" in out

    code, out, _ = invoke("db", "current", "--json")
    head = db.HEAD_REVISION
    assert json.loads(out) == {"revision": head, "head": head, "database": url.masked}

    code, out, _ = invoke("db", "downgrade", "base")
    assert code == 0 and "revision none" in out


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
        assert code == 5, err
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
