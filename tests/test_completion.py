"""Shell completion (SPEC → Completion), driven as the shells drive it: real `todo`
processes with `_TODO_COMPLETE`, and real bash running the script Typer generates.

On SQLite completion reads the database file; on PostgreSQL it reads the cache that task
commands refresh, so every PostgreSQL case below first runs task commands, as a person
would, and then completes from the cache alone.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.cli import invoke
from tests.warm import Warm, make_runtime_dir
from todo_cli.cli import _complete
from todo_cli.config import DatabaseURL
from todo_cli.service.dates import WORDS, parse_when

TODO = str(Path(sys.executable).parent / "todo")
BASH = shutil.which("bash")
# Generous: the suite shares two cores, and a Tab past the real budget offers nothing.
WIDE_BUDGET = {_complete.BUDGET_VARIABLE: "20000"}
HEAVY = ("sqlalchemy", "sqlmodel", "pydantic", "pydantic_settings", "psycopg", "rich")


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture
def tasks(use_database: DatabaseURL, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Alice's tasks (1, 2 pending; 3 done) and one of Bob's, made with real commands."""
    for name in ("alice", "bob"):
        assert invoke("user", "add", name)[0] == 0
    monkeypatch.setenv("TODO_USER", "bob")
    assert invoke("add", "Bob's secret", "+private", "project:hidden")[0] == 0
    monkeypatch.setenv("TODO_USER", "alice")
    for words in (
        ["Pay rent", "+home", "project:house.rent"],
        ["Buy milk", "+errand"],
        ["Call mom", "+family", "project:house"],
    ):
        assert invoke("add", *words)[0] == 0, words
    assert invoke("done", "3")[0] == 0
    return use_database.backend


def complete_bash(words: str, cword: int, **env: str) -> list[str]:
    """What `todo` answers bash's completion request (as the generated script asks)."""
    done = subprocess.run(
        [TODO],
        env={
            **os.environ,
            **WIDE_BUDGET,
            "_TODO_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout.split()


def complete_zsh(line: str, **env: str) -> str:
    done = subprocess.run(
        [TODO],
        env={
            **os.environ,
            **WIDE_BUDGET,
            "_TODO_COMPLETE": "complete_zsh",
            "_TYPER_COMPLETE_ARGS": line,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout


def real_bash(tmp_path: Path, words: list[str], env: dict[str, str] | None = None) -> list[str]:
    """Source the script `todo` generates for bash, set COMP_WORDS/COMP_CWORD as bash does
    on Tab, call the completion function and return COMPREPLY."""
    if BASH is None:
        pytest.fail("bash is needed to test bash completion")
    full_env = {**os.environ, **WIDE_BUDGET, **(env or {})}
    full_env["PATH"] = f"{Path(TODO).parent}{os.pathsep}{full_env.get('PATH', '')}"
    script = subprocess.run(
        [TODO],
        env={**full_env, "_TODO_COMPLETE": "source_bash"},
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "complete -o default -F _todo_completion todo" in script
    path = tmp_path / "todo-completion.bash"
    path.write_text(script)
    quoted = " ".join("'" + word.replace("'", "'\\''") + "'" for word in words)
    program = (
        f"source {path}\n"
        f"COMP_WORDS=({quoted})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_todo_completion todo\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", program],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


# --- task numbers ---------------------------------------------------------------------------


def test_real_bash_completes_task_numbers_of_the_acting_user_only(
    tasks: str, tmp_path: Path
) -> None:
    assert real_bash(tmp_path, ["todo", "done", ""]) == ["1", "2"]
    assert real_bash(tmp_path, ["todo", "reopen", ""]) == ["3"]
    assert real_bash(tmp_path, ["todo", "show", ""]) == ["1", "2", "3"]
    # Bob has one task, number 1: his, never Alice's.
    assert real_bash(tmp_path, ["todo", "show", "--user", "bob", ""]) == ["1"]
    assert real_bash(tmp_path, ["todo", "show", ""], {"TODO_USER": "bob"}) == ["1"]
    assert real_bash(tmp_path, ["todo", "show", ""], {"TODO_USER": "nobody"}) == []


def test_numbers_already_given_are_not_offered_again(tasks: str) -> None:
    assert complete_bash("todo done 1 ", 3) == ["2"]
    assert complete_bash("todo show 1,", 2) == ["1,2", "1,3"]
    assert complete_bash("todo show 2-", 2) == ["2-1", "2-3"]
    assert complete_bash("todo show x", 2) == []


def test_zsh_shows_the_title_beside_the_number(tasks: str) -> None:
    assert complete_zsh("todo done ") == """_arguments '*: :(("1":"Pay rent"\n"2":"Buy milk"))'\n"""


def test_a_change_is_offered_at_the_next_tab(tasks: str, tmp_path: Path) -> None:
    assert invoke("done", "1")[0] == 0
    assert invoke("rm", "2")[0] == 0
    assert invoke("add", "Water plants")[0] == 0
    assert real_bash(tmp_path, ["todo", "done", ""]) == ["4"]
    assert real_bash(tmp_path, ["todo", "reopen", ""]) == ["1", "3"]


def test_tasks_an_import_or_an_undo_writes_are_offered_too(tasks: str, tmp_path: Path) -> None:
    """Such writes leave no ORM object behind (multi-row statements): the PostgreSQL
    cache reads what they changed from the database."""
    assert complete_bash("todo done ", 2) == ["1", "2"]
    file = tmp_path / "t.txt"
    file.write_text("Imported one @fresh\n")  # a todo.txt context is a tag
    assert invoke("import", str(file))[0] == 0
    assert complete_bash("todo done ", 2) == ["1", "2", "4"]
    assert complete_bash("todo add x +fr", 3) == ["+fresh"]
    assert invoke("undo")[0] == 0
    assert complete_bash("todo done ", 2) == ["1", "2"]
    assert invoke("rm", "2")[0] == 0
    assert complete_bash("todo done ", 2) == ["1"]
    assert invoke("undo")[0] == 0
    assert complete_bash("todo done ", 2) == ["1", "2"]


# --- tags, projects, users, inline words ------------------------------------------------


def test_tags_projects_and_users(tasks: str) -> None:
    assert complete_bash("todo add x --tag ", 4) == ["errand", "family", "home"]
    assert complete_bash("todo edit 1 --untag h", 4) == ["home"]
    assert complete_bash("todo add x --project ", 4) == ["house", "house.rent"]
    assert complete_bash("todo list --user ", 3) == ["alice", "bob"]
    assert complete_bash("todo user rm a", 3) == ["alice"]


def test_inline_words_in_add_and_edit(tasks: str) -> None:
    assert complete_zsh("todo add Pay +") == (
        """_arguments '*: :(("+errand"\n"+family"\n"+home"))'\n"""
    )
    assert complete_bash("todo edit 1 +f", 3) == ["+family"]
    assert complete_bash("todo add x pr", 3) == ["pri:", "priority:", "project:", "proj:"]
    # bash splits a word at ':' (COMP_WORDBREAKS): `due:f` arrives as `due`, `:`, `f`.
    assert complete_bash("todo add x due : f", 5) == ["fri"]
    assert complete_bash("todo add x pri : ", 5) == ["H", "M", "L"]
    assert complete_bash("todo add x project : house.", 5) == ["house.rent"]
    assert complete_bash("todo add x wait :", 4) == [f":{word}" for word in WORDS]
    assert complete_bash("todo add -- x due : ", 6) == []  # after --, all is title


def test_real_bash_completes_a_date_after_the_colon(tasks: str, tmp_path: Path) -> None:
    assert real_bash(tmp_path, ["todo", "add", "Pay", "due", ":", "to"]) == [
        "today",
        "tomorrow",
        "tom",
    ]


def test_real_bash_completes_a_tag_to_remove_in_edit_beside_the_options(
    tasks: str, tmp_path: Path
) -> None:
    # A tag spelled like a short option: `-y` is --yes, so `todo edit 3 -y` would not
    # remove it; it is offered once, as the option.
    assert invoke("edit", "1", "+y")[0] == 0
    offered = real_bash(tmp_path, ["todo", "edit", "3", "-"])
    options = [word for word in offered if word.startswith("--")]
    assert {"--title", "--untag", "--no-due", "--user"} <= set(options)
    # The declared options first, as before; then one `-tag` per tag of Alice's, never
    # Bob's (`+private`).
    assert offered[-3:] == ["-errand", "-family", "-home"]
    assert offered.count("-y") == 1 and "-private" not in offered
    assert real_bash(tmp_path, ["todo", "edit", "3", "-er"]) == ["-errand"]
    assert real_bash(tmp_path, ["todo", "edit", "3", "-home", "-f"]) == ["-f", "-family"]
    help_option = '"-h":"Show this message and exit."'
    assert complete_zsh("todo edit 3 -h") == f"""_arguments '*: :(({help_option}\n"-home"))'\n"""


def test_a_dash_word_is_no_tag_where_it_is_not_one(tasks: str) -> None:
    assert complete_bash("todo edit 3 -- -", 4) == []  # after --, all is title
    assert "-home" not in complete_bash("todo edit 3 --title -", 4)  # that is the title
    assert complete_bash("todo edit 3 --", 3)[:1] == ["--title"]  # `--` is options only
    assert "-home" not in complete_bash("todo edit 3 --", 3)
    assert "-home" not in complete_bash("todo edit -", 2)  # the task's reference comes first
    # In a filter, `-errand` means "not the word errand", and in add it is no attribute.
    assert complete_bash("todo list -er", 2) == []
    assert complete_bash("todo add x -h", 3) == ["-h"]


def test_every_date_word_offered_is_one_the_grammar_reads(tasks: str) -> None:
    offered = complete_bash("todo add x due : ", 5)
    assert offered == list(WORDS)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    for word in offered:
        parse_when(word, now=now, zone=ZoneInfo("Europe/Paris"))


# --- weight, budget, safety -----------------------------------------------------------------

_IN_PROCESS = """
import sys
sys.argv = ["todo"]
from todo_cli.cli import run
code = run()
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "line",
    [
        "todo done ",
        "todo add Pay +",
        "todo add Pay due:f",
        "todo add --project ",
        "todo edit 1 -",
        "todo -",
    ],
)
def test_completion_imports_nothing_heavy(tasks: str, line: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS],
        env={
            **os.environ,
            **WIDE_BUDGET,
            "_TODO_COMPLETE": "complete_zsh",
            "_TYPER_COMPLETE_ARGS": line,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    loaded = done.stderr.splitlines()[-1].split()
    banned = (*HEAVY, "todo_cli.models", "todo_cli.config", "todo_cli.db")
    assert [m for m in loaded if m.split(".")[0] in HEAVY or m in banned] == []
    assert done.stdout.startswith("_arguments"), done.stdout


def test_past_the_budget_nothing_is_offered(tasks: str) -> None:
    assert complete_bash("todo show ", 2) == ["1", "2", "3"]
    assert complete_bash("todo show ", 2, **{_complete.BUDGET_VARIABLE: "0"}) == []


def test_sqlite_is_read_only_and_a_missing_file_offers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "todo.db"
    url = f"sqlite:///{missing}"
    assert complete_bash("todo done ", 2, TODO_DATABASE_URL=url) == []
    assert not missing.exists() and not missing.parent.exists()


def test_broken_settings_offer_nothing_and_no_traceback(tasks: str) -> None:
    for url in ("mysql://x/y", "sqlite:relative.db", "postgresql://"):
        assert complete_bash("todo done ", 2, TODO_DATABASE_URL=url) == []


# --- the PostgreSQL cache -----------------------------------------------------------------


def test_postgres_cache_is_private_per_user_and_names_no_password(
    postgres_server: object, new_database: object, cache_home: Path, tmp_path: Path
) -> None:
    from todo_cli import db

    url = new_database("postgresql")  # type: ignore[operator]
    db.upgrade(url)
    with_password = url.reveal().replace("postgres@", "postgres:hunter2secret@", 1)
    env = {"TODO_DATABASE_URL": with_password, **WIDE_BUDGET}

    def todo(*args: str, user: str = "alice") -> None:
        done = subprocess.run(
            [TODO, *args],
            env={**os.environ, **env, "TODO_USER": user},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    todo("user", "add", "alice")
    todo("user", "add", "bob")
    todo("add", "Pay rent", "+home")
    todo("add", "Bob's secret", "+private", user="bob")
    directory = cache_home / "todo"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(directory.iterdir())
    assert len(files) == 3  # the user names, and one file per user
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "hunter2" not in path.name and "hunter2" not in path.read_text()
    as_alice = {**env, "TODO_USER": "alice"}
    assert real_bash(tmp_path, ["todo", "done", ""], as_alice) == ["1"]
    assert real_bash(tmp_path, ["todo", "add", "x", "+"], as_alice) == ["+home"]
    # Another password, the same database: the same cache.
    other = {**as_alice, "TODO_DATABASE_URL": url.reveal()}
    assert real_bash(tmp_path, ["todo", "done", ""], other) == ["1"]
    # A cache file others could have written is not believed.
    for path in files:
        path.chmod(0o644)
    assert real_bash(tmp_path, ["todo", "done", ""], as_alice) == []


# --- the warm client in front -------------------------------------------------------------


def test_completion_is_the_same_with_the_warm_client_and_never_uses_the_server(
    tasks: str, tmp_path: Path
) -> None:
    warm = Warm(make_runtime_dir(tmp_path))
    try:
        warm.start()
        served = warm.served()
        lines = ("todo done ", "todo add x --tag ", "todo ")
        for line in lines:
            request = {
                **WIDE_BUDGET,
                "_TODO_COMPLETE": "complete_bash",
                "COMP_WORDS": line,
                "COMP_CWORD": str(len(line.split())),
            }
            with_client = warm.run(warm=True, env=request)
            in_process = warm.run(warm=False, env=request)
            assert with_client == in_process and with_client.stdout, line
        # Completion runs in its own process: it never waits on the server's socket.
        assert warm.served() == served
    finally:
        warm.stop()
    (tmp_path / "fresh").mkdir()
    runtime = make_runtime_dir(tmp_path / "fresh")
    env = {**os.environ, **WIDE_BUDGET, "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("TODO_DAEMON", None)  # unset: the client is on, yet starts no server for a Tab
    done = subprocess.run(
        [TODO],
        env={
            **env,
            "_TODO_COMPLETE": "complete_bash",
            "COMP_WORDS": "todo done ",
            "COMP_CWORD": "2",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["1", "2"]
    assert not (runtime / "todo" / "server.sock").exists()


# --- the README ---------------------------------------------------------------------------


def test_the_readme_completion_example_is_real_output(tmp_path: Path) -> None:
    """The README's block, replayed command by command on a fresh machine."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Shell completion", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```console\n(.+?)```", section, re.DOTALL)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        **WIDE_BUDGET,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "LOGNAME": "alex",
        "USER": "alex",
        "NO_COLOR": "1",
        "PATH": f"{Path(TODO).parent}{os.pathsep}{os.environ['PATH']}",
    }
    steps = re.findall(r"^\$ (.+)\n((?:(?!\$ ).*\n)*)", block, re.MULTILINE)
    assert len(steps) == 5
    for command, expected in steps:
        done = subprocess.run(
            [BASH or "bash", "-c", command],
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (done.returncode, done.stderr, done.stdout) == (0, "", expected), command
