"""`todo import` and `todo export` as real processes (the console script), on SQLite and
PostgreSQL: exit codes, one-sentence errors, stdin, streaming, undo of an import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlmodel import Session

from tests.transfer_tools import Taskwarrior
from todo_cli import service
from todo_cli.config import DatabaseURL
from todo_cli.models import TaskCreate, User

TODO = Path(sys.executable).parent / "todo"


@pytest.fixture
def alice(use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    monkeypatch.setenv("TODO_USER", "alice")
    monkeypatch.setenv("TZ", "UTC")
    return service.create_user(session, name="alice")


def todo(*args: str, input: str | bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TODO), *args],
        env={**os.environ, "NO_COLOR": "1"},
        input=input.decode() if isinstance(input, bytes) else input,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_sentence(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert (done.returncode, done.stdout) == (code, ""), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip()


def count(session: Session, user: User) -> int:
    session.rollback()  # a fresh snapshot: the processes wrote since
    return service.count_tasks(session, user_id=user.id, status="all")


def test_a_malformed_file_is_one_sentence_exit_2_and_nothing_is_imported(
    alice: User, session: Session, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    first = json.dumps({"uuid": str(uuid.uuid4()), "description": "a"})
    broken.write_text(f'[\n{first},\n{{"uuid": ,}}\n]\n')
    message = assert_one_sentence(todo("import", str(broken)))
    assert message.startswith("Error: line 3: ") and message.endswith("nothing was imported.")
    assert count(session, alice) == 0

    bad = tmp_path / "bad.txt"
    bad.write_text("fine\n(A) renew due:someday\nalso fine\n")
    message = assert_one_sentence(todo("import", str(bad)))
    assert "line 2: 'someday' is not a due date (YYYY-MM-DD)" in message
    assert count(session, alice) == 0

    done = todo("import", str(bad), "--skip-invalid")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Imported {bad} (todotxt): 2 added, 0 updated, 0 unchanged, 1 skipped; change 1 "
        "(todo undo reverts it).",
        "  skipped line 2: 'someday' is not a due date (YYYY-MM-DD)",
    ]
    assert count(session, alice) == 2


@pytest.mark.parametrize(
    ("args", "content", "expected"),
    [
        (("missing.json",), None, "Error: Cannot read missing.json: No such file or directory."),
        (("latin1.txt",), b"caf\xe9\n", "Error: latin1.txt is not UTF-8 text (byte 3)"),
        (("-", "--format", "csv"), "", "Error: 'csv' is not a format: use json, taskwarrior"),
        (("dup.txt",), f"a uuid:{uuid.UUID(int=7)}\nb uuid:{uuid.UUID(int=7)}\n", "Error: line 2"),
    ],
)
def test_input_errors_exit_2(
    alice: User,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    content: str | bytes | None,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    if content is not None and args[0] != "-":
        data = content if isinstance(content, bytes) else content.encode()
        (tmp_path / args[0]).write_bytes(data)
    assert assert_one_sentence(todo("import", *args, input="")).startswith(expected)
    assert count(session, alice) == 0


def test_import_from_stdin_with_json_and_dry_run_then_undo(alice: User, session: Session) -> None:
    text = "(A) Call Mom @phone\nx 2026-11-30 2026-11-01 Sent the card +family\n"
    dry = todo("import", "-", "--dry-run", "--json", input=text)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout) == {
        "format": "todotxt",
        "dry_run": True,
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "skipped_records": [],
        "change": None,
    }
    assert count(session, alice) == 0
    done = todo("import", "-", "--json", input=text)
    report = json.loads(done.stdout)
    assert (report["added"], report["change"]) == (2, 1)
    again = todo("import", "-", input=text)
    assert again.stdout == (
        "Imported stdin (todotxt): 0 added, 0 updated, 2 unchanged, 0 skipped; nothing changed.\n"
    )
    assert todo("undo").returncode == 0
    assert count(session, alice) == 0


def test_exports_stream_each_format(alice: User, session: Session) -> None:
    service.create_tasks(
        session,
        user_id=alice.id,
        tasks=[TaskCreate(title=f"task {n}", tags=["x"]) for n in range(1500)],
    )
    lines = todo("export").stdout.splitlines()
    assert len(lines) == 1500 and {json.loads(line)["title"] for line in lines} == {
        f"task {n}" for n in range(1500)
    }
    assert todo("export", "--json").stdout.splitlines() == lines
    array = json.loads(todo("export", "-f", "taskwarrior").stdout)
    assert len(array) == 1500 and array[0]["tags"] == ["x"]
    todotxt = todo("export", "--format", "todotxt").stdout.splitlines()
    assert len(todotxt) == 1500 and all(" @x uuid:" in line for line in todotxt)
    message = assert_one_sentence(todo("export", "--json", "-f", "todotxt"))
    assert json.loads(message)["error"]["message"] == (
        "--json writes the json format; leave it out to write todotxt."
    )


def test_export_takes_a_filter_as_todo_list_does(alice: User, session: Session) -> None:
    service.create_tasks(
        session,
        user_id=alice.id,
        tasks=[
            TaskCreate(title="rent", project="house", tags=["home"]),
            TaskCreate(title="paint", project="house.garden"),
            TaskCreate(title="milk", tags=["errand"]),
        ],
    )
    service.complete_tasks(session, user_id=alice.id, refs=["2"])

    def titles(*words: str) -> list[str]:
        done = todo("export", *words)
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
        return sorted(json.loads(line)["title"] for line in done.stdout.splitlines())

    assert titles() == ["milk", "paint", "rent"]  # no filter: every task, done too
    assert titles("project:house") == ["rent"]  # the filter's default: pending
    assert titles("project:house", "status:all") == ["paint", "rent"]
    assert titles("-home") == ["milk"]  # a word, never an option
    done = todo("export", "project:(")  # the error, the filter and a caret under the place
    assert done.returncode == 2 and done.stdout == "" and "Bad filter" in done.stderr


def test_task_export_piped_into_todo_import(alice: User, session: Session, tmp_path: Path) -> None:
    tw = Taskwarrior(tmp_path / "tw")
    tw.add("Buy milk", "+errand", "priority:H")
    gone = tw.add("Old")
    tw.run(gone, "delete")
    pipeline = subprocess.run(
        f"TASKDATA='{tw.data}' TASKRC='{tw.rc}' task rc.verbose=nothing export | '{TODO}' import -",
        shell=True,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pipeline.returncode == 0, pipeline.stderr
    assert pipeline.stdout.splitlines() == [
        "Imported stdin (taskwarrior): 1 added, 0 updated, 0 unchanged, 1 skipped; change 1 "
        "(todo undo reverts it).",
        "  skipped line 3: deleted in Taskwarrior",
    ]
