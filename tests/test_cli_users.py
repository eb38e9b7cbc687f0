"""`todo user …`, identity (who a task command acts as) and `todo config`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from tests.cli import as_json, invoke
from todo_cli import service
from todo_cli.cli import _common, users
from todo_cli.config import DatabaseURL, get_settings
from todo_cli.errors import UserNotFound
from todo_cli.models import Task, TaskCreate

UNREACHABLE = "postgresql://me:hunter2@127.0.0.1:9/todo"


# --- user add / list / rm ---------------------------------------------------------------


def test_add_and_list_users(use_database: DatabaseURL) -> None:
    code, out, err = invoke("user", "add", "alice")
    assert (code, err) == (0, "")
    assert out.startswith("Created user alice (") and out.endswith(").\n")
    bob = as_json("user", "add", "bob")
    assert set(bob) == {"id", "name", "created_at"} and bob["name"] == "bob"
    listed = as_json("user", "list")
    assert [u["name"] for u in listed] == ["alice", "bob"]
    assert listed[1] == bob
    code, out, _ = invoke("user", "list")
    assert code == 0 and out.splitlines()[0].split() == ["name", "id", "created"]
    assert out.splitlines()[2].split()[:2] == ["bob", bob["id"]]


def test_duplicate_user_is_exit_4_regardless_of_case(use_database: DatabaseURL) -> None:
    invoke("user", "add", "alice")
    code, out, err = invoke("user", "add", "ALICE")
    assert (code, out, err) == (4, "", "Error: A user named 'ALICE' already exists.\n")


@pytest.mark.parametrize("name", ["", "bad name", "x" * 65, "émile"])
def test_invalid_user_name_is_exit_2(use_database: DatabaseURL, name: str) -> None:
    code, out, err = invoke("user", "add", name)
    assert (code, out) == (2, "")
    assert err.startswith("Error: user name must be 1–64 characters")


def test_empty_user_list_says_how_to_add_one(use_database: DatabaseURL) -> None:
    assert invoke("user", "list") == (0, "No users yet. Add one with: todo user add NAME\n", "")
    assert as_json("user", "list") == []


def test_rm_with_yes_deletes_the_user_and_their_tasks(
    use_database: DatabaseURL, session: Session
) -> None:
    alice = service.create_user(session, name="alice").id
    bob = service.create_user(session, name="bob").id
    service.create_task(session, user_id=alice, task=TaskCreate(title="a"))
    service.create_task(session, user_id=bob, task=TaskCreate(title="b"))
    assert invoke("user", "rm", "alice", "--yes") == (
        0,
        "Deleted user alice and all of their tasks.\n",
        "",
    )
    assert [u["name"] for u in as_json("user", "list")] == ["bob"]
    assert as_json("user", "rm", str(bob), "-y")["name"] == "bob"
    session.expire_all()
    # The users are gone (the service now says so: 404), and their rows with them.
    left = select(func.count()).select_from(Task).where(col(Task.user_id).in_([alice, bob]))
    assert session.exec(left).one() == 0
    with pytest.raises(UserNotFound):
        service.count_tasks(session, user_id=alice, status="all")


def test_rm_without_yes_and_without_a_terminal_refuses(
    use_database: DatabaseURL, session: Session
) -> None:
    alice = service.create_user(session, name="alice")
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="a"))
    code, out, err = invoke("user", "rm", "alice")
    assert (code, out) == (2, "")
    assert err == "Error: Deleting user 'alice' and their 1 task needs confirmation; pass --yes.\n"
    assert [u["name"] for u in as_json("user", "list")] == ["alice"]


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("n\n", False), ("\n", False)])
def test_rm_asks_on_a_terminal(
    use_database: DatabaseURL, monkeypatch: pytest.MonkeyPatch, answer: str, deleted: bool
) -> None:
    monkeypatch.setattr(users, "can_ask", lambda: True)
    invoke("user", "add", "alice")
    code, out, err = invoke("user", "rm", "alice", input=answer)
    assert "Delete user 'alice' and their 0 tasks? [y/N]" in err
    if deleted:
        assert (code, out) == (0, "Deleted user alice and all of their tasks.\n")
        assert as_json("user", "list") == []
    else:
        assert (code, out) == (2, "")
        assert "Not confirmed; user 'alice' and their 0 tasks were kept." in err
        assert len(as_json("user", "list")) == 1


def test_rm_unknown_user_is_exit_3(use_database: DatabaseURL) -> None:
    code, out, err = invoke("user", "rm", "nobody", "--yes")
    assert (code, out) == (3, "")
    assert err == "Error: No user 'nobody'; create it with `todo user add`.\n"


# --- identity ---------------------------------------------------------------------------


def test_first_run_works_with_no_setup_at_all(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No TODO_* at all: the embedded SQLite file is created in the user data directory."""
    data = Path(str(tmp_path_factory.getbasetemp())) / "first-run-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("LOGNAME", "jane")
    database = data / "todo" / "todo.db"
    assert not database.exists()

    assert invoke("add", "Buy milk") == (0, "Added task 1: Buy milk\n", "")
    assert database.is_file()
    code, out, err = invoke("list")
    assert (code, err) == (0, "")
    assert out.splitlines()[1].split()[:5] == ["1", "[", "]", "Buy", "milk"]
    assert [u["name"] for u in as_json("user", "list")] == ["jane"]
    assert as_json("list")[0]["user_id"] == as_json("user", "list")[0]["id"]


def test_explicit_sqlite_url_is_created_and_uses_the_login_name(
    new_database: Callable[[str], DatabaseURL], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = new_database("sqlite")
    monkeypatch.setenv("TODO_DATABASE_URL", url.reveal())
    monkeypatch.setenv("LOGNAME", "Jane Doe")
    assert as_json("add", "x")["number"] == 1
    assert [u["name"] for u in as_json("user", "list")] == ["Jane-Doe"]


@pytest.mark.parametrize(
    ("login", "name"),
    [
        ("alice", "alice"),
        ("DOMAIN\\Jane Doe", "DOMAIN-Jane-Doe"),
        ("jürgen", "j-rgen"),
        ("!!!", _common.FALLBACK_USER_NAME),
        ("a" * 80, "a" * 64),
    ],
)
def test_login_name_is_trimmed_to_a_valid_user_name(
    monkeypatch: pytest.MonkeyPatch, login: str, name: str
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: login)
    assert _common.login_name() == name
    assert service.clean_user_name(_common.login_name()) == name


def test_no_login_name_at_all_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> str:
        raise OSError("no passwd entry")

    monkeypatch.setattr("getpass.getuser", fail)
    assert _common.login_name() == _common.FALLBACK_USER_NAME


def test_user_option_env_and_dotenv(
    use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = service.create_user(session, name="alice")
    service.create_user(session, name="bob")
    assert as_json("add", "by option", "-u", "alice")["user_id"] == str(alice.id)
    assert as_json("add", "by uuid", "--user", str(alice.id))["user_id"] == str(alice.id)
    Path(".env").write_text("TODO_USER=bob\n")
    assert as_json("list") == []  # bob, from .env
    monkeypatch.setenv("TODO_USER", "Alice")  # the environment wins; names ignore case
    assert len(as_json("list")) == 2
    assert as_json("list", "-u", "bob") == []  # the option wins over both


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_a_blank_user_option_is_refused_not_replaced_by_the_default(
    use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    """`-u "$WHO"` with WHO unset must not act as TODO_USER or the login name instead."""
    service.create_user(session, name="alice")
    monkeypatch.setenv("TODO_USER", "alice")
    for args in (("list", "-u", blank), ("add", "x", "--user", blank)):
        code, out, err = invoke(*args)
        assert (code, out) == (2, "")
        assert err == "Error: --user (or TODO_USER) is blank; give a user name or UUID.\n"
    assert [user["name"] for user in as_json("user", "list")] == ["alice"]
    assert as_json("list", "-u", "alice") == []


def test_unknown_user_is_exit_3_naming_user_add(use_database: DatabaseURL) -> None:
    for args in (("list", "-u", "nobody"), ("add", "x", "-u", "nobody")):
        code, out, err = invoke(*args)
        assert (code, out) == (3, "")
        assert err == "Error: No user 'nobody'; create it with `todo user add`.\n"
    assert as_json("user", "list") == []  # an explicit user is never created implicitly


def test_postgres_without_a_user_is_a_usage_error(
    postgres_url: DatabaseURL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_DATABASE_URL", postgres_url.reveal())
    for command in (["list"], ["add", "x"], ["done", "1"]):
        code, out, err = invoke(*command)
        assert (code, out) == (2, "")
        assert "pass --user NAME or set TODO_USER" in err and "todo user add" in err


def test_postgres_schema_out_of_date_is_exit_5_naming_db_upgrade(
    new_database: Callable[[str], DatabaseURL], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = new_database("postgresql")
    monkeypatch.setenv("TODO_DATABASE_URL", url.reveal())
    for command in (["list", "-u", "alice"], ["user", "add", "alice"], ["user", "list"]):
        code, out, err = invoke(*command)
        assert (code, out) == (5, "")
        assert err == "Error: The database has no todo schema yet; run `todo db upgrade`.\n"
    assert invoke("db", "upgrade")[0] == 0
    assert as_json("user", "add", "alice")["name"] == "alice"


def test_unreachable_database_is_exit_5_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TODO_DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("TODO_CONNECT_TIMEOUT", "0.5")
    for command in (["list", "-u", "alice"], ["add", "x", "-u", "a"], ["user", "list"]):
        code, out, err = invoke(*command)
        assert (code, out) == (5, "")
        assert err.startswith("Error: Cannot reach the database at postgresql+psycopg://me:***@")
        assert err.count("\n") == 1 and "hunter2" not in err


# --- config -----------------------------------------------------------------------------


def test_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "jane")
    report = as_json("config")
    url = get_settings().db_url()
    assert report["database_url"] == {
        "value": url.masked,
        "source": "default",
        "variable": "TODO_DATABASE_URL",
    }
    assert report["user"] == {"value": "jane", "source": "default", "variable": "TODO_USER"}
    assert report["connect_timeout"]["value"] == 5.0
    assert report["api_secret"]["value"] is None
    code, out, _ = invoke("config")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert lines["TODO_USER"].split() == ["TODO_USER", "jane", "default", "(login", "name)"]
    assert "default (embedded SQLite)" in lines["TODO_DATABASE_URL"]


def test_config_says_where_each_value_came_from_and_masks_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path(".env").write_text(
        "TODO_USER=zoe\nTODO_CONNECT_TIMEOUT=7\nTODO_API_SECRET=s3cret-s3cret-s3cret-s3cret-s3cret\n"
    )
    monkeypatch.setenv("DATABASE_URL", "postgres://alex:hunter2@db.example.com/app")
    monkeypatch.setenv("TODO_CONNECT_TIMEOUT", "3")
    report = as_json("config")
    assert report["database_url"] == {
        "value": "postgresql+psycopg://alex:***@db.example.com/app",
        "source": "environment",
        "variable": "DATABASE_URL",
    }
    assert report["connect_timeout"] == {
        "value": 3.0,
        "source": "environment",
        "variable": "TODO_CONNECT_TIMEOUT",
    }
    assert report["user"] == {"value": "zoe", "source": "env_file", "variable": "TODO_USER"}
    assert report["api_secret"] == {
        "value": "***",
        "source": "env_file",
        "variable": "TODO_API_SECRET",
    }
    assert report["database_pooler"]["value"] is False
    code, out, _ = invoke("config")
    assert code == 0 and "hunter2" not in out and "s3cret" not in out
    assert "environment (DATABASE_URL)" in out and ".env file (TODO_USER)" in out


def test_config_on_postgres_without_a_user_says_one_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TODO_DATABASE_URL", "postgresql://u@db.example.com/app")
    assert as_json("config")["user"]["value"] is None
    _, out, _ = invoke("config")
    assert "none: required on PostgreSQL" in out


def test_config_with_an_invalid_setting_is_exit_5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_CONNECT_TIMEOUT", "soon")
    code, out, err = invoke("config")
    assert (code, out) == (5, "")
    assert err.startswith("Error: TODO_CONNECT_TIMEOUT is invalid")
