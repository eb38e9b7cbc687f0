"""Bad input, everywhere on the command line: every text a user can type is either kept
exactly or refused cleanly.

Hypothesis feeds arbitrary strings (control characters, NUL, lone surrogates, SQL-looking
and right-to-left text, emoji, whitespace only, numbers and UUIDs in odd spellings, very
long text; see tests/strategies.py) to every argument and option that takes text: titles,
descriptions, task references, `--limit`, `--user`, user names. NUL and lone surrogates
cannot pass through a real process's argv, but they reach the code through CliRunner (and
through `.env`, environment variables or a future caller), so they are sent here.

The guarantee, for each command: either it succeeds and the text reads back exactly as
stored (`todo show --json`, `todo user list --json`; titles and names lose only their
surrounding whitespace), or it fails with a user error (exit 2 for bad input, 3 for an
unknown task or user, 4 for an ambiguous one) as one sentence on stderr (one JSON error
body under `--json`), with nothing on stdout and the database unchanged, row for row. It
never ends in a traceback or exit 1. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from tests.strategies import TEN_MEGABYTES, TOO_LONG_DESCRIPTION, nasty_text
from todo_cli import service
from todo_cli.cli import app
from todo_cli.config import DatabaseURL, get_settings
from todo_cli.models import User
from todo_cli.service import DESCRIPTION_MAX_LENGTH

runner = CliRunner()
# Each example runs a few commands, and each command opens its own engine as the real
# CLI does: 50 examples keep a test to a few seconds per backend.
PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
json_flag = st.sampled_from([(), ("--json",)])

Snapshot = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Outcome:
    args: tuple[str, ...]
    code: int
    out: str
    err: str


def invoke(*args: str) -> Outcome:
    get_settings.cache_clear()
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"todo {args!r} raised") from result.exception
    return Outcome(args, result.exit_code, result.stdout, result.stderr)


def assert_clean(outcome: Outcome, allowed: set[int]) -> None:
    """Success with nothing on stderr, or a user error: one sentence (or one JSON body)."""
    assert outcome.code in allowed, outcome
    assert "Traceback" not in outcome.err, outcome
    args = outcome.args
    # After `--` even "--json" is an argument (a title, a user's name), not the option.
    as_json = "--json" in args[: args.index("--") if "--" in args else None]
    if outcome.code == 0:
        assert outcome.err == "", outcome
        if as_json:
            json.loads(outcome.out)
        return
    assert outcome.out == "", outcome
    assert outcome.err.endswith("\n"), outcome
    if as_json:
        assert outcome.err.count("\n") == 1, outcome
        body = json.loads(outcome.err)
        assert list(body) == ["error"] and list(body["error"]) == ["code", "message", "details"]
        expected = {2: "VALIDATION_ERROR", 3: "NOT_FOUND", 4: "CONFLICT"}[outcome.code]
        assert body["error"]["code"] == expected, outcome
    elif outcome.err.startswith("Usage: "):
        # Typer's own usage errors: the usage line, a pointer to --help, then the sentence.
        assert outcome.code == 2, outcome
        assert outcome.err.rstrip("\n").split("\n")[-1].startswith("Error: "), outcome
    else:
        assert outcome.err.startswith("Error: ") and outcome.err.count("\n") == 1, outcome


def snapshot(engine: Engine) -> Snapshot:
    """Every row of every table, to prove that a refused command changed nothing."""
    with engine.connect() as connection:
        users = connection.execute(text("SELECT * FROM users ORDER BY id")).all()
        tasks = connection.execute(text("SELECT * FROM tasks ORDER BY user_id, id")).all()
    return [tuple(row) for row in users], [tuple(row) for row in tasks]


def shown(number: int) -> dict[str, Any]:
    """The task as `todo show --json` reads it back; the human `show` must work too."""
    human = invoke("show", str(number))
    assert_clean(human, {0})
    outcome = invoke("show", "--json", str(number))
    assert_clean(outcome, {0})
    task: dict[str, Any] = json.loads(outcome.out)
    return task


def added_number(outcome: Outcome) -> int:
    args = outcome.args
    if "--json" in args[: args.index("--") if "--" in args else None]:
        number: int = json.loads(outcome.out)["number"]
        return number
    match = re.match(r"Added task ([0-9]+): ", outcome.out)
    assert match is not None, outcome
    return int(match.group(1))


@pytest.fixture
def alice(use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    monkeypatch.setenv("TODO_USER", "alice")
    return service.create_user(session, name="alice")


@pytest.fixture
def three_tasks(alice: User) -> None:
    for title in ("one", "two", "three"):
        assert_clean(invoke("add", title), {0})


# --- add ---------------------------------------------------------------------------------


@PROPERTY
@given(title=nasty_text, flags=json_flag)
def test_add_keeps_any_title_exactly_or_refuses_it(
    alice: User, engine: Engine, title: str, flags: tuple[str, ...]
) -> None:
    before = snapshot(engine)
    outcome = invoke("add", *flags, "--", title)
    assert_clean(outcome, {0, 2})
    if outcome.code == 0:
        task = shown(added_number(outcome))
        assert (task["title"], task["description"]) == (title.strip(), None)
    else:
        assert snapshot(engine) == before


@PROPERTY
@given(description=nasty_text, flags=json_flag)
def test_add_keeps_any_description_exactly_or_refuses_it(
    alice: User, engine: Engine, description: str, flags: tuple[str, ...]
) -> None:
    before = snapshot(engine)
    outcome = invoke("add", *flags, f"--description={description}", "--", "Buy milk")
    assert_clean(outcome, {0, 2})
    if outcome.code == 0:
        task = shown(added_number(outcome))
        assert (task["title"], task["description"]) == ("Buy milk", description)
    else:
        assert snapshot(engine) == before


# --- edit --------------------------------------------------------------------------------


@PROPERTY
@given(title=nasty_text, flags=json_flag)
def test_edit_keeps_any_title_exactly_or_refuses_it(
    three_tasks: None, engine: Engine, title: str, flags: tuple[str, ...]
) -> None:
    before = snapshot(engine)
    outcome = invoke("edit", *flags, f"--title={title}", "--", "2")
    assert_clean(outcome, {0, 2})
    if outcome.code == 0:
        assert shown(2)["title"] == title.strip()
    else:
        assert snapshot(engine) == before


@PROPERTY
@given(description=nasty_text, flags=json_flag)
def test_edit_keeps_any_description_exactly_or_refuses_it(
    three_tasks: None, engine: Engine, description: str, flags: tuple[str, ...]
) -> None:
    before = snapshot(engine)
    outcome = invoke("edit", *flags, f"--description={description}", "--", "2")
    assert_clean(outcome, {0, 2})
    if outcome.code == 0:
        assert shown(2)["description"] == description
    else:
        assert snapshot(engine) == before


# --- references --------------------------------------------------------------------------


@PROPERTY
@given(
    command=st.sampled_from(["show", "edit", "done", "reopen", "rm"]),
    refs=st.lists(nasty_text, min_size=1, max_size=3),
    flags=json_flag,
)
def test_any_task_reference_names_a_task_or_is_refused(
    three_tasks: None, engine: Engine, command: str, refs: list[str], flags: tuple[str, ...]
) -> None:
    before = snapshot(engine)
    if command in ("show", "edit"):  # these take one reference
        refs = refs[:1]
    options = ("--title=Renamed",) if command == "edit" else ()
    outcome = invoke(command, *options, *flags, "--", *refs)
    assert_clean(outcome, {0, 2, 3, 4})
    if outcome.code != 0 or command == "show":
        assert snapshot(engine) == before


def test_a_reference_of_thousands_of_digits_is_simply_not_found(three_tasks: None) -> None:
    """Python refuses to read an int of more than 4,300 digits; no task has such a number."""
    for command in ("show", "done", "rm"):
        outcome = invoke(command, "1" * 5000)
        assert_clean(outcome, {3})
    assert_clean(invoke("done", "1", "9" * 5000), {3})
    # The error quotes the reference, cut short: still one readable line.
    for ref in ("1" * 5000, "x" * 5000, "abcd" * 1000):
        outcome = invoke("show", ref)
        assert len(outcome.err) < 200, outcome.err
    assert [task["is_completed"] for task in json.loads(invoke("list", "--json").out)] == [
        False
    ] * 3


# --- list --------------------------------------------------------------------------------


@PROPERTY
@given(option=st.sampled_from(["--limit", "--offset"]), value=nasty_text, flags=json_flag)
def test_any_paging_text_is_used_or_refused(
    three_tasks: None, engine: Engine, option: str, value: str, flags: tuple[str, ...]
) -> None:
    before = snapshot(engine)
    outcome = invoke("list", *flags, f"{option}={value}")
    assert_clean(outcome, {0, 2})
    if option == "--offset":  # `todo list` pages with --limit only
        assert outcome.code == 2
    if outcome.code == 0 and flags:
        assert len(json.loads(outcome.out)) <= 3
    assert snapshot(engine) == before


# --- the acting user ---------------------------------------------------------------------


@PROPERTY
@given(
    name=nasty_text | st.sampled_from(["alice", " ALICE ", "bob", "<alice's id>", ""]),
    command=st.sampled_from(["list", "add", "show"]),
    flags=json_flag,
)
def test_any_user_option_names_an_existing_user_or_is_refused(
    three_tasks: None,
    alice: User,
    bob: User,
    engine: Engine,
    name: str,
    command: str,
    flags: tuple[str, ...],
) -> None:
    name = name.replace("<alice's id>", str(alice.id))
    before = snapshot(engine)
    arguments = {"list": (), "add": ("--", "Buy milk"), "show": ("--", "1")}[command]
    outcome = invoke(command, *flags, f"--user={name}", *arguments)
    assert_clean(outcome, {0, 2, 3})
    users_before, tasks_before = before
    users_after, tasks_after = snapshot(engine)
    if outcome.code == 0:
        assert name.strip().lower() in ("alice", "bob", str(alice.id))
    if outcome.code != 0 or command != "add":
        assert tasks_after == tasks_before
    # A user is never created implicitly by naming one.
    assert [user[:2] for user in users_after] == [user[:2] for user in users_before]


# --- users -------------------------------------------------------------------------------


@PROPERTY
@given(name=nasty_text, flags=json_flag)
@example(name="--json", flags=())  # after `--`, a name, not the option
def test_user_add_keeps_any_name_exactly_or_refuses_it(
    use_database: DatabaseURL, engine: Engine, name: str, flags: tuple[str, ...]
) -> None:
    before = snapshot(engine)
    outcome = invoke("user", "add", *flags, "--", name)
    assert_clean(outcome, {0, 2, 4})
    if outcome.code == 0:
        listed = json.loads(invoke("user", "list", "--json").out)
        assert name.strip() in [user["name"] for user in listed]
    else:
        assert snapshot(engine) == before


@PROPERTY
@given(name=nasty_text | st.just("bob"), flags=json_flag, yes=st.booleans())
def test_user_rm_deletes_the_named_user_or_refuses(
    alice: User,
    bob: User,
    engine: Engine,
    name: str,
    flags: tuple[str, ...],
    yes: bool,
) -> None:
    before = snapshot(engine)
    outcome = invoke("user", "rm", *flags, *(("--yes",) if yes else ()), "--", name)
    assert_clean(outcome, {0, 2, 3})
    if outcome.code == 0:
        assert yes and name.strip().lower() in ("alice", "bob")
    else:
        assert snapshot(engine) == before


@PROPERTY
@given(
    name=nasty_text | st.just("alice"),
    ttl=nasty_text
    | st.sampled_from(["30d", " 12H ", "0s", "366d", "9" * 30 + "w", "1" * 5000 + "s"]),
    flags=json_flag,
)
def test_token_create_takes_any_user_and_ttl_or_refuses_them(
    alice: User,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    ttl: str,
    flags: tuple[str, ...],
) -> None:
    monkeypatch.setenv("TODO_API_SECRET", "a-test-secret-of-more-than-32-bytes-0123456789")
    before = snapshot(engine)
    outcome = invoke("token", "create", *flags, f"--user={name}", f"--ttl={ttl}")
    assert_clean(outcome, {0, 2, 3})
    assert snapshot(engine) == before


# --- size limits -------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [(), ("--json",)])
def test_a_10_mb_description_is_a_validation_error(
    three_tasks: None, engine: Engine, flags: tuple[str, ...]
) -> None:
    before = snapshot(engine)
    for args in (
        ("add", *flags, f"--description={TEN_MEGABYTES}", "--", "Buy milk"),
        ("edit", *flags, f"--description={TEN_MEGABYTES}", "--", "1"),
        ("add", *flags, "--", TEN_MEGABYTES),
        ("edit", *flags, f"--title={TEN_MEGABYTES}", "--", "1"),
    ):
        outcome = invoke(*args)
        assert_clean(outcome, {2})
        assert len(outcome.err) < 500  # the input is not echoed back
    assert snapshot(engine) == before


def test_the_description_limit_is_exactly_100_000_characters(
    three_tasks: None, engine: Engine
) -> None:
    longest = "é🙂\n" * (DESCRIPTION_MAX_LENGTH // 3) + "x"
    assert len(longest) == DESCRIPTION_MAX_LENGTH
    outcome = invoke("add", f"--description={longest}", "Long")
    assert_clean(outcome, {0})
    assert shown(added_number(outcome))["description"] == longest
    before = snapshot(engine)
    outcome = invoke("edit", f"--description={TOO_LONG_DESCRIPTION}", "1")
    assert_clean(outcome, {2})
    assert f"at most {DESCRIPTION_MAX_LENGTH}" in outcome.err
    assert snapshot(engine) == before
