"""Task commands through the real command line, on SQLite and PostgreSQL.

Every test acts as `alice` (via TODO_USER) on the backend's test database; output is
what a pipe gets (CliRunner's stdout is not a terminal), so it is plain text.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import update
from sqlmodel import Session, col

from tests.cli import as_json, invoke
from tests.conftest import TASK_FIELDS
from todo_cli import service
from todo_cli.config import DatabaseURL
from todo_cli.models import Task, TaskCreate, User


@pytest.fixture
def alice(use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    monkeypatch.setenv("TODO_USER", "alice")
    return service.create_user(session, name="alice")


def hex_prefix(task_id: str, length: int) -> str:
    """A UUID prefix that is not all digits (an all-digit reference is a task number)."""
    digits = task_id.replace("-", "")
    while digits[:length].isdigit():
        length += 1
    return digits[:length]


def titles(*args: str) -> list[str]:
    return [task["title"] for task in as_json("list", *args)]


# --- add ------------------------------------------------------------------------------


def test_add_prints_number_and_title(alice: User) -> None:
    assert invoke("add", "Buy milk") == (0, "Added task 1: Buy milk\n", "")
    assert invoke("add", "Call", "mom", "-d", "Sunday") == (0, "Added task 2: Call mom\n", "")
    task = as_json("show", "2")
    assert (task["title"], task["description"]) == ("Call mom", "Sunday")


def test_add_json_is_exactly_the_task_object(alice: User) -> None:
    task = as_json("add", "  Buy milk  ", "-d", "2 litres")
    assert set(task) == set(TASK_FIELDS)
    assert task["number"] == 1 and task["title"] == "Buy milk"
    assert task["user_id"] == str(alice.id) and task["is_completed"] is False
    assert task["version"] == 1 and task["created_at"].endswith("Z")


@pytest.mark.parametrize("title", ["", "   ", "x" * 256])
def test_bad_title_is_exit_2_and_creates_nothing(alice: User, title: str) -> None:
    code, out, err = invoke("add", title)
    assert (code, out) == (2, "")
    assert err.startswith("Error: title must ") and err.count("\n") == 1
    assert as_json("list", "--all") == []


def test_title_of_255_characters_is_accepted(alice: User) -> None:
    assert as_json("add", "x" * 255)["title"] == "x" * 255


def test_add_without_a_title_is_a_usage_error(alice: User) -> None:
    code, out, err = invoke("add")
    assert (code, out) == (2, "")
    assert "Missing argument" in err


# --- list -----------------------------------------------------------------------------


def test_list_filters_and_orders_newest_first(alice: User) -> None:
    for title in ("one", "two", "three"):
        invoke("add", title)
    invoke("done", "2")
    assert titles() == ["three", "one"]
    assert titles("--done") == ["two"]
    assert titles("--all") == ["three", "two", "one"]
    assert titles("--all", "--limit", "2") == ["three", "two"]


def test_list_table_is_plain_when_piped(alice: User) -> None:
    invoke("add", "Buy milk")
    invoke("add", "Call mom")
    invoke("done", "1")
    code, out, err = invoke("list", "--all")
    assert (code, err) == (0, "")
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[0].split() == ["#", "status", "title", "age"]
    assert lines[1].split()[:4] == ["2", "[", "]", "Call"]
    assert lines[2].split()[:3] == ["1", "[✓]", "Buy"]
    assert all(line == line.rstrip() for line in lines)


def test_piped_list_prints_every_matching_row_and_nothing_else(
    alice: User, session: Session
) -> None:
    for number in range(45):
        service.create_task(session, user_id=alice.id, task=TaskCreate(title=f"task {number + 1}"))
    code, out, _ = invoke("list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 1 + 45
    assert [line.split()[0] for line in lines[1:]] == [str(n) for n in range(45, 0, -1)]
    code, out, _ = invoke("list", "--limit", "2", "--all")
    assert [line.split()[0] for line in out.splitlines()] == ["#", "45", "44"]
    assert invoke("list", "--limit", "0") == (0, "", "")
    assert len(as_json("list")) == 45


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), 'No pending tasks. Add one with: todo add "Buy milk"\n'),
        (("--done",), "No completed tasks.\n"),
    ],
)
def test_empty_list_says_so(alice: User, args: tuple[str, ...], message: str) -> None:
    assert invoke("list", *args) == (0, message, "")
    assert as_json("list", *args) == []


def test_all_and_done_together_is_a_usage_error(alice: User) -> None:
    code, out, err = invoke("list", "--all", "--done")
    assert (code, out) == (2, "")
    assert "cannot be combined" in err


# --- show / edit ----------------------------------------------------------------------


def test_show_by_number_uuid_and_prefix(alice: User) -> None:
    task = as_json("add", "Buy milk", "-d", "oat")
    for ref in ("1", task["id"], hex_prefix(task["id"], 4), hex_prefix(task["id"], 10)):
        assert as_json("show", ref) == task
    code, out, _ = invoke("show", "1")
    assert code == 0
    assert out.startswith("Task 1: Buy milk\n")
    assert "status       pending" in out and "description  oat" in out
    assert f"id           {task['id']}" in out and "version      1" in out


def test_edit_changes_only_what_is_given(alice: User) -> None:
    invoke("add", "Buy milk", "-d", "oat")
    assert invoke("edit", "1", "--title", "Buy oat milk") == (
        0,
        "Updated task 1: Buy oat milk\n",
        "",
    )
    task = as_json("show", "1")
    assert (task["title"], task["description"], task["version"]) == ("Buy oat milk", "oat", 2)
    assert as_json("edit", "1", "-d", "2 litres")["description"] == "2 litres"
    assert as_json("edit", "1", "--no-description")["description"] is None
    assert as_json("show", "1")["title"] == "Buy oat milk"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Nothing to change"),
        (("-d", "x", "--no-description"), "cannot be combined"),
        (("--title", "  "), "title must not be empty"),
        (("--title", "x" * 256), "at most 255 characters"),
    ],
)
def test_bad_edits_are_exit_2_and_change_nothing(
    alice: User, args: tuple[str, ...], message: str
) -> None:
    before = as_json("add", "Buy milk", "-d", "oat")
    code, out, err = invoke("edit", "1", *args)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1
    assert as_json("show", "1") == before


# --- done / reopen / rm ---------------------------------------------------------------


def test_done_reopen_rm_several_at_once(alice: User) -> None:
    for title in ("a", "b", "c"):
        invoke("add", title)
    assert invoke("done", "1", "3") == (
        0,
        "Completed task 1: a\nCompleted task 3: c\n",
        "",
    )
    assert titles("--done") == ["c", "a"]
    reopened = as_json("reopen", "1", "3")
    assert [t["number"] for t in reopened] == [1, 3]
    assert not any(t["is_completed"] for t in reopened)
    assert invoke("rm", "2") == (0, "Deleted task 2: b\n", "")
    deleted = as_json("rm", "1", "3")
    assert [t["title"] for t in deleted] == ["a", "c"]
    assert as_json("list", "--all") == []
    assert as_json("add", "d")["number"] == 4  # numbers are never reused


@pytest.mark.parametrize("command", ["done", "reopen", "rm"])
def test_multi_task_commands_are_all_or_nothing(alice: User, command: str) -> None:
    invoke("add", "a")
    invoke("add", "b")
    invoke("done", "2")
    before = as_json("list", "--all")
    code, out, err = invoke(command, "1", "2", "98", "99")
    assert (code, out) == (3, "")
    assert err == "Error: Tasks 98, 99 not found; nothing was changed.\n"
    assert as_json("list", "--all") == before


# --- references and isolation -----------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("show", "{ref}"),
        ("edit", "{ref}", "--title", "stolen"),
        ("done", "{ref}"),
        ("reopen", "{ref}"),
        ("rm", "{ref}"),
    ],
)
@pytest.mark.parametrize("kind", ["number", "uuid", "prefix"])
def test_another_users_task_looks_exactly_like_a_missing_one(
    alice: User, bob: User, session: Session, args: tuple[str, ...], kind: str
) -> None:
    task = service.create_task(
        session, user_id=bob.id, task=TaskCreate(title="bob's", description="secret")
    )
    ref = {"number": "1", "uuid": str(task.id), "prefix": hex_prefix(task.id.hex, 6)}[kind]
    command = [arg.format(ref=ref) for arg in args]

    while_it_exists = invoke(*command), invoke(*command, "--json")
    service.delete_tasks(session, user_id=bob.id, refs=[str(task.id)])
    once_it_is_gone = invoke(*command), invoke(*command, "--json")

    assert while_it_exists == once_it_is_gone
    (code, out, err), (json_code, json_out, json_err) = while_it_exists
    assert (code, out, err) == (3, "", f"Error: Task {ref} not found.\n")
    assert (json_code, json_out) == (3, "")
    assert json.loads(json_err)["error"]["code"] == "NOT_FOUND"


def test_bob_cannot_see_alice_tasks_in_a_list(alice: User, bob: User) -> None:
    invoke("add", "alice's")
    assert as_json("list", "--all", "-u", "bob") == []
    assert as_json("list", "-u", str(alice.id))[0]["title"] == "alice's"


def _set_id(session: Session, task: Task, new_id: uuid.UUID) -> None:
    session.exec(update(Task).where(col(Task.id) == task.id).values(id=new_id))
    session.commit()


def test_ambiguous_prefix_is_exit_4_listing_the_matches(alice: User, session: Session) -> None:
    a = service.create_task(session, user_id=alice.id, task=TaskCreate(title="a"))
    b = service.create_task(session, user_id=alice.id, task=TaskCreate(title="b"))
    _set_id(session, a, uuid.UUID("abcd1111-0000-4000-8000-000000000000"))
    _set_id(session, b, uuid.UUID("abcd2222-0000-4000-8000-000000000000"))

    code, out, err = invoke("done", "abcd")
    assert (code, out) == (4, "")
    assert err == (
        "Error: 'abcd' matches several tasks: 1 (abcd1111), 2 (abcd2222); use a longer prefix.\n"
    )
    code, _, err = invoke("show", "abcd", "--json")
    body = json.loads(err)["error"]
    assert (code, body["code"]) == (4, "CONFLICT")
    assert [m["number"] for m in body["details"]["matches"]] == [1, 2]
    assert as_json("show", "abcd2")["title"] == "b"
    assert titles() == ["b", "a"]  # nothing was completed


@pytest.mark.parametrize("ref", ["abc", "milk", "12ab-zz"])
def test_malformed_reference_is_exit_2(alice: User, ref: str) -> None:
    code, out, err = invoke("show", ref)
    assert (code, out) == (2, "")
    assert "is not a task number, a UUID or a UUID prefix" in err


# --- display safety ---------------------------------------------------------------------


def test_user_text_cannot_inject_escapes_or_markup(alice: User) -> None:
    invoke("add", "[bold red]not markup[/]", "-d", "line 1\n\x1b[2Jline 2\x07\tend")
    code, out, _ = invoke("show", "1")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "Task 1: [bold red]not markup[/]" in out
    assert "line 1\n" in out and "\\x1b[2Jline 2\\x07" in out  # tab and newline kept
    assert as_json("show", "1")["description"] == "line 1\n\x1b[2Jline 2\x07\tend"
    _, out, _ = invoke("list")
    assert "[bold red]not markup[/]" in out


@pytest.mark.parametrize("limit", ["2147483648", "99999999999999999999"])
def test_a_limit_beyond_any_possible_task_count_is_a_usage_error(alice: User, limit: str) -> None:
    code, out, err = invoke("list", "--limit", limit)
    assert code == 2 and out == ""
    assert "limit must be between 0 and 2147483647" in err
