"""Filters on the command line: `todo list/next/count FILTER…`, `--sort`, and `--filter`
on the bulk commands, on SQLite and PostgreSQL (SPEC → Finding: filters, sort, search).

In-process (CliRunner: stdin and stdout are not terminals, so a bulk change needs
`--yes`), and through the installed `todo` on a pseudo-terminal for the question.
"""

from __future__ import annotations

import os

import pytest
from sqlmodel import Session

from tests.cli import as_json, invoke
from tests.terminal import run_on_terminal
from todo_cli import service
from todo_cli.config import DatabaseURL
from todo_cli.models import TaskCreate, User


@pytest.fixture
def alice(use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    monkeypatch.setenv("TODO_USER", "alice")
    user = service.create_user(session, name="alice")
    service.create_tasks(
        session,
        user_id=user.id,
        tasks=[
            TaskCreate(title="Buy milk", tags=["errand"], project="house", due="2026-12-04"),
            TaskCreate(title="Fix the gate", tags=["home"], project="house.garden", priority="H"),
            TaskCreate(title="Plan housework", project="housework", priority="L"),
            TaskCreate(title="Call the bank", tags=["errand"], priority="M"),
        ],
    )
    return user


def numbers(*args: str) -> list[int]:
    return [task["number"] for task in as_json(*args)]


def test_list_takes_filter_words(alice: User) -> None:
    assert numbers("list", "project:house") == [2, 1]
    assert numbers("list", "+errand") == [4, 1]
    assert numbers("list", "+errand", "or", "+home") == [4, 2, 1]
    assert numbers("list", "buy milk") == [1]  # one word with a space: a phrase
    assert numbers("list", "milk", "buy") == [1]
    assert numbers("list", "(project:house or pri:M)", "-home") == [4, 1]


def test_a_minus_word_is_a_filter_term_never_an_option(alice: User) -> None:
    # `-errand` once read as the short options -e -r -r -a -n -d, turning on --done.
    assert numbers("list", "-errand") == [3, 2]
    assert numbers("next", "-errand") == [2, 3]
    assert invoke("count", "-errand") == (0, "2\n", "")
    assert numbers("list", "-a", "-errand") == [3, 2]  # -a is --all, a declared option
    service_done = invoke("done", "1")
    assert service_done[0] == 0
    assert numbers("list", "-done") == [4, 3, 2]  # a tag "done", not --done
    assert numbers("list", "--done") == [1]


def test_sort_and_next(alice: User) -> None:
    assert numbers("list", "--sort", "-priority") == [2, 4, 1, 3]
    assert numbers("list", "--sort", "due,-priority") == [1, 2, 4, 3]
    assert numbers("list", "--sort=-due") == [1, 2, 3, 4]
    # Next: by due (missing last), then priority, then oldest.
    assert numbers("next") == [1, 2, 4, 3]
    assert numbers("next", "+errand") == [1, 4]


def test_count_prints_a_number(alice: User) -> None:
    assert invoke("count") == (0, "4\n", "")
    assert invoke("count", "project:house") == (0, "2\n", "")
    assert as_json("count", "status:all") == {"count": 4}


def test_a_bad_filter_is_exit_2_with_a_caret_and_a_suggestion(alice: User) -> None:
    code, out, err = invoke("list", "+home", "projct:house")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "Error: Bad filter: 'projct' is not a field (did you mean project?); to search for "
        'text with a colon, quote it: "projct:house"',
        "  +home projct:house",
        "        ^",
    ]
    code, out, err = invoke("count", "(", "--json")
    assert (code, out) == (2, "")
    assert '"position": 1' in err and '"VALIDATION_ERROR"' in err
    code, _, err = invoke("list", "--sort", "prioity")
    assert code == 2 and "did you mean priority?" in err


def test_help_shows_the_grammar(alice: User) -> None:
    code, out, _ = invoke("list", "--help")
    assert code == 0
    for part in ("project:P", "pri.above:L", "due|wait|created|done", "is:overdue", "id:3,5-9"):
        assert part in out


# --- bulk changes by filter ------------------------------------------------------------------


def test_dry_run_lists_and_changes_nothing(alice: User) -> None:
    code, out, err = invoke("done", "--filter", "+errand", "--dry-run")
    assert (code, err) == (0, "")
    assert "Buy milk" in out and "Call the bank" in out
    assert out.splitlines()[-1] == "2 tasks match '+errand'; --dry-run changed nothing."
    assert numbers("list", "+errand") == [4, 1]
    assert numbers("rm", "--filter", "project:house", "--dry-run") == [1, 2]
    assert invoke("count", "status:all")[1] == "4\n"


def test_without_a_terminal_a_bulk_change_needs_yes(alice: User) -> None:
    code, out, err = invoke("done", "--filter", "+errand")
    assert (code, out) == (2, "")
    assert "2 tasks match '+errand'" in err and "--yes" in err
    assert numbers("list", "+errand") == [4, 1]


def test_a_bulk_change_is_one_change_and_one_undo_reverts_it(alice: User) -> None:
    done = invoke("done", "--filter", "+errand", "--yes")
    assert done == (0, "Completed task 1: Buy milk\nCompleted task 4: Call the bank\n", "")
    assert numbers("list") == [3, 2]
    history = as_json("history")
    assert history[0]["summary"] == "done 1 4"
    assert invoke("undo")[0] == 0
    assert numbers("list") == [4, 3, 2, 1]

    assert [t["tags"] for t in as_json("edit", "--filter", "project:house", "+x", "--yes")] == [
        ["errand", "x"],
        ["home", "x"],
    ]
    assert numbers("list", "+x") == [2, 1]
    assert invoke("undo")[0] == 0
    assert numbers("list", "+x") == []

    assert invoke("rm", "--filter", "-errand", "--yes")[0] == 0
    assert numbers("list", "status:all") == [4, 1]
    assert invoke("undo")[0] == 0
    assert numbers("list", "status:all") == [4, 3, 2, 1]


def test_reopen_by_filter_takes_completed_tasks(alice: User) -> None:
    assert invoke("done", "1", "2")[0] == 0
    assert numbers("reopen", "--filter", "project:house", "--yes") == [1, 2]
    assert numbers("list", "--done") == []


def test_no_match_changes_nothing(alice: User) -> None:
    assert invoke("rm", "--filter", "nothing-like-it", "--yes") == (
        0,
        "No tasks match 'nothing-like-it'; nothing changed.\n",
        "",
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("done",), "--filter"),
        (("done", "1", "--filter", "+x"), "not both"),
        (("done", "1", "--yes"), "goes with --filter"),
        (("rm", "--filter", "projct:x", "--yes"), "did you mean project?"),
        (("edit", "--filter", "+errand", "--yes"), "Nothing to change"),
    ],
)
def test_bulk_usage_errors_change_nothing(alice: User, args: tuple[str, ...], words: str) -> None:
    code, out, err = invoke(*args)
    assert (code, out) == (2, "")
    assert words in err
    assert invoke("count", "status:all")[1] == "4\n"


def test_a_filter_never_sneaks_in_front_of_a_command(alice: User) -> None:
    code, _, err = invoke("+errand", "done")
    assert code == 2 and "No such command" in err
    assert numbers("list", "+errand") == [4, 1]


def test_on_a_terminal_a_bulk_change_asks_first(alice: User) -> None:
    env = {**os.environ, "TERM": "xterm-256color"}
    refused = run_on_terminal(
        "done", "--filter", "+errand", env=env, answer=("Complete them?", "n\n")
    )
    assert refused.returncode == 2
    assert "2 tasks match '+errand'. Complete them? [y/N]" in refused.plain
    assert numbers("list", "+errand") == [4, 1]
    agreed = run_on_terminal("done", "--filter", "+errand", env=env, answer=("[y/N]", "y\n"))
    assert agreed.returncode == 0, agreed.plain
    assert "Completed task 1: Buy milk" in agreed.plain
    assert numbers("list", "+errand") == []


def test_a_bulk_change_has_a_ceiling(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from todo_cli.cli import tasks

    monkeypatch.setattr(tasks, "MAX_BULK", 1)
    code, out, err = invoke("rm", "--filter", "+errand", "--yes")
    assert (code, out) == (2, "")
    assert "at most 1 tasks" in err and "narrow the filter" in err
    assert invoke("count", "status:all")[1] == "4\n"
