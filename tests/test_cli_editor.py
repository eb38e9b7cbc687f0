"""`todo edit REF` alone on a terminal opens the task in $VISUAL / $EDITOR (a real pty
and a scripted editor), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from tests.terminal import run_on_terminal
from todo_cli import service
from todo_cli.cli import _editor
from todo_cli.config import DatabaseURL
from todo_cli.models import TaskCreate, User

# An editor that applies the replacements its arguments name to the file it is given.
EDITOR = """
import sys
path = sys.argv[-1]
text = open(path, encoding="utf-8").read()
for pair in sys.argv[1:-1]:
    old, new = pair.split("=>")
    text = text.replace(old.replace("\\\\n", "\\n"), new.replace("\\\\n", "\\n"))
open(path, "w", encoding="utf-8").write(text)
"""


@pytest.fixture
def alice(use_database: DatabaseURL, session: Session) -> User:
    user = service.create_user(session, name="alice")
    task = TaskCreate(title="Pay rent", description="line one", due="2026-12-04", tags=["home"])
    service.create_task(session, user_id=user.id, task=task)
    return user


def _edit(tmp_path: Path, url: DatabaseURL, *replacements: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    command = " ".join([sys.executable, str(script), *(f"'{r}'" for r in replacements)])
    env = {
        **os.environ,
        "TODO_DATABASE_URL": url.reveal(),
        "TODO_USER": "alice",
        "TODO_TZ": "UTC",
        "NO_COLOR": "1",
        "VISUAL": command,
    }
    screen = run_on_terminal("edit", "1", env=env)
    assert screen.returncode == 0, screen.plain
    return screen.plain


def _task(session: Session, alice: User) -> dict[str, object]:
    from todo_cli.models import task_to_json

    session.expire_all()
    return task_to_json(service.get_task(session, user_id=alice.id, ref="1"))


def test_saved_changes_are_one_change(
    tmp_path: Path, use_database: DatabaseURL, session: Session, alice: User
) -> None:
    shown = _edit(
        tmp_path,
        use_database,
        "priority: =>priority: H",
        "tags: home=>tags: home errand",
        "line one=>line one\\nline two",
    )
    assert "Updated task 1: Pay rent (due Fri 4 Dec)" in shown
    task = _task(session, alice)
    assert (task["priority"], task["tags"], task["description"]) == (
        "H",
        ["errand", "home"],
        "line one\nline two",
    )
    assert task["due_date"] == "2026-12-04" and task["version"] == 2
    assert [c.change.summary for c in service.list_changes(session, user_id=alice.id)][0] == (
        "edit 1"
    )


@pytest.mark.parametrize("replacement", [None, "=>"], ids=["unchanged", "emptied"])
def test_an_unchanged_or_emptied_file_changes_nothing(
    tmp_path: Path,
    use_database: DatabaseURL,
    session: Session,
    alice: User,
    replacement: str | None,
) -> None:
    before = _task(session, alice)
    if replacement is None:
        shown = _edit(tmp_path, use_database)
    else:
        # Every line removed: the first replacement empties what the form starts with.
        shown = _edit(tmp_path, use_database, *(f"{line}=>" for line in _form_lines(alice)))
    assert "Task 1 is unchanged." in shown
    assert _task(session, alice) == before


def _form_lines(alice: User) -> list[str]:
    return [
        *_editor.HEADER.splitlines(keepends=True),
        "title: Pay rent\n",
        "due: 2026-12-04\n",
        "wait: \n",
        "priority: \n",
        "project: \n",
        "tags: home\n",
        "---\n",
        "line one",
    ]


def test_the_form_reads_back_to_the_same_fields() -> None:
    text = "title: a\ndue: 2026-12-04\nwait:\npriority: L\nproject: p.q\ntags: x y\n---\nd\n\ne"
    assert _editor.read(text) == {
        "title": "a",
        "due": "2026-12-04",
        "wait": "",
        "priority": "L",
        "project": "p.q",
        "tags": "x y",
        "description": "d\n\ne",
    }
    assert _editor.read("  \n") is None
