"""How the command line meets a person: `-h`, bare `todo`, `todo help`, help in words, and
usage errors that say something sensible. Run through the installed `todo` where a
person would see it (a subprocess), in-process where every command is walked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from sqlmodel import Session

from tests.cli import as_json, invoke
from tests.test_cli_contract import all_commands, leaf_commands
from todo_cli import service
from todo_cli.cli import DEFAULT_COMMAND
from todo_cli.cli._common import LeanCommand, close_options
from todo_cli.config import DatabaseURL
from todo_cli.models import User

TODO = Path(sys.executable).parent / "todo"


def todo(*args: str | bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `todo ARGS` as a person runs it, stdin not a terminal."""
    return subprocess.run(
        [str(TODO), *args],
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def alice(use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    monkeypatch.setenv("TODO_USER", "alice")
    return service.create_user(session, name="alice")


# --- -h, bare todo, todo help ---------------------------------------------------------------


@pytest.mark.parametrize("path", list(all_commands()), ids=lambda p: " ".join(("todo", *p)))
def test_dash_h_is_help_on_every_command(path: tuple[str, ...]) -> None:
    long = invoke(*path, "--help")
    assert long[0] == 0 and "Usage: todo" in long[1]
    assert invoke(*path, "-h") == long


def test_dash_h_through_the_installed_todo() -> None:
    for args in (["-h"], ["add", "-h"], ["db", "downgrade", "-h"]):
        done = todo(*args)
        assert (done.returncode, done.stderr) == (0, ""), args
        assert done.stdout == todo(*args[:-1], "--help").stdout
        assert "-h, --help" in done.stdout


def test_bare_todo_runs_the_next_report(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "LOGNAME": "alex"}
    assert DEFAULT_COMMAND == "next"
    assert todo(env=env).stdout == 'Nothing to do. Add a task with: todo add "Buy milk" due:fri\n'
    for words in (["Buy milk"], ["Pay rent", "due:yesterday"], ["Call mom", "pri:H"]):
        assert todo("add", *words, env=env).returncode == 0
    bare, listed = todo(env=env), todo("next", env=env)
    assert (bare.returncode, bare.stderr) == (0, "")
    assert bare.stdout == listed.stdout
    numbers = [line.split()[0] for line in bare.stdout.splitlines()[1:]]
    # Overdue first (Pay rent), then by priority (Call mom), then the oldest (Buy milk).
    assert numbers == ["2", "3", "1"]
    assert "Without a command, runs `todo next`: what to do next." in todo("--help").stdout


@pytest.mark.parametrize(
    "path", [(), ("add",), ("user",), ("user", "rm"), ("db", "downgrade"), ("help",)], ids=repr
)
def test_todo_help_prints_that_commands_help(path: tuple[str, ...]) -> None:
    helped = todo("help", *path)
    assert (helped.returncode, helped.stderr) == (0, "")
    assert helped.stdout == todo(*path, "--help").stdout


def test_todo_help_of_an_unknown_command_is_one_sentence() -> None:
    done = todo("help", "user", "nosuch")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "Error: There is no command `todo user nosuch`; `todo --help` lists them.\n"
    )


# --- help in words ------------------------------------------------------------------------


def test_every_command_uses_the_lean_command_class() -> None:
    assert all(isinstance(c, LeanCommand) for c in leaf_commands().values())


# A Python type (`<list[str]>`, `<int range>`, `<str>`), a range as maths (`[x>=0]`,
# `0<=x<=65535`) or Typer's braces for a required argument (`{TITLE}`).
NOT_WORDS = re.compile(r"<[a-z][\w\[\], |]*>|\bx\s*[<>]=|<=x\b|\{[A-Z_]+\}|list\[str\]")


@pytest.mark.parametrize("path", list(all_commands()), ids=lambda p: " ".join(("todo", *p)))
def test_help_speaks_in_words_not_python_types(path: tuple[str, ...]) -> None:
    code, out, _ = invoke(*path, "--help")
    assert code == 0 and NOT_WORDS.findall(out) == [], out


def test_every_option_that_takes_a_value_names_it() -> None:
    unnamed = []
    for path, command in all_commands().items():
        for param in command.get_params(typer.Context(command)):
            takes_value = param.param_type_name == "option" and not param.is_flag
            if takes_value and not param.metavar:
                unnamed.append(f"todo {' '.join(path)} {param.opts[0]}")
    assert unnamed == []


def test_usage_lines_read_as_words() -> None:
    assert todo("add", "-h").stdout.startswith("Usage: todo add [OPTIONS] WORDS…\n")
    assert todo("db", "upgrade", "-h").stdout.startswith(
        "Usage: todo db upgrade [OPTIONS] [REVISION]\n"
    )
    help_text = todo("list", "-h").stdout
    assert "-n, --limit N " in help_text and "[x>=0]" not in help_text


# --- usage errors ---------------------------------------------------------------------------


def test_an_unknown_option_is_not_answered_with_a_random_other_option() -> None:
    done = todo("add", "--colour", "x", "Buy milk")
    assert (done.returncode, done.stdout) == (2, "")
    assert "Error: No such option: --colour.\n" in done.stderr
    assert "Possible options" not in done.stderr and "--user" not in done.stderr
    assert "Try 'todo add -h' for help." in done.stderr


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["add", "--jsn", "x"], "Did you mean --json?"),
        (["list", "--al"], "Did you mean --all?"),
        (["list", "--limt", "3"], "Did you mean --limit?"),
        (["edit", "1", "--titel", "x"], "Did you mean --title?"),
    ],
)
def test_an_option_that_looks_like_a_typo_gets_the_right_suggestion(
    args: list[str], suggestion: str
) -> None:
    done = todo(*args)
    assert done.returncode == 2 and suggestion in done.stderr


def test_close_options() -> None:
    known = ["--description", "--user", "--json", "--help"]
    assert close_options("--due", known) == []
    assert close_options("--desc", known) == ["--description"]
    assert close_options("--usr", known) == ["--user"]
    assert close_options("--JSON=1", known) == ["--json"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--limit", "many"], "'many' is not a whole number; give one of 0 or more."),
        (["list", "-n", "-1"], "-1 is out of range; give a whole number of 0 or more."),
        (["list", "--limit", "2.5"], "'2.5' is not a whole number"),
        (["serve", "--port", "x"], "'x' is not a whole number; give one from 0 to 65535."),
        (["serve", "--port", "70000"], "70000 is out of range; give a whole number from 0 to"),
        (["serve", "--workers", "0"], "0 is out of range; give a whole number of 1 or more."),
    ],
)
def test_numbers_are_checked_in_words_not_pydantics(args: list[str], message: str) -> None:
    done = todo(*args)
    assert (done.returncode, done.stdout) == (2, "")
    assert message in done.stderr
    for pydantic in ("Input should", "unable to parse", "valid integer", "valid dictionary"):
        assert pydantic not in done.stderr


def test_text_that_is_not_utf8_is_refused_in_words(alice: User) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape)."""
    done = subprocess.run(
        [str(TODO), "add", b"caf\xe9"],
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "Error: title is not valid text: it holds bytes that are not UTF-8, or half of a "
        "two-part character (a lone surrogate)\n"
    )
    assert as_json("list", "--all") == []


@pytest.mark.parametrize(
    "args",
    [
        ["add", "Buy milk", "-d", "a", "-d", "b"],
        ["add", "Buy milk", "--description", "a", "--description=b"],
        ["add", "Buy milk", "-u", "alice", "-u", "alice"],
        ["edit", "1", "--title", "a", "-t", "b"],
        ["list", "-n", "1", "--limit", "2"],
    ],
    ids=" ".join,
)
def test_an_option_that_takes_one_value_given_twice_is_refused(
    alice: User, args: list[str]
) -> None:
    before = as_json("add", "first")
    done = todo(*args)
    assert (done.returncode, done.stdout) == (2, "")
    assert "was given more than once; it takes one value, so give it once" in done.stderr
    assert as_json("list", "--all") == [before]


def test_a_flag_may_still_repeat(alice: User) -> None:
    assert todo("add", "x", "--json", "--json").returncode == 0
    assert [t["title"] for t in as_json("list", "--all")] == ["x"]
