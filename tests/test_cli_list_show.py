"""`todo list` and `todo show` as a terminal and a pipe see them, through the installed
`todo`: a pipe gets every matching row (people pipe `todo list` into `grep`), a terminal
one screenful and how many more; `todo show` never cuts what a user stored.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from tests.terminal import TODO, run_on_terminal
from tests.test_cli_contract import add_tasks
from todo_cli import output, service
from todo_cli.config import DatabaseURL
from todo_cli.models import Task, TaskCreate, User


@pytest.fixture
def alice(use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    monkeypatch.setenv("TODO_USER", "alice")
    return service.create_user(session, name="alice")


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TODO), *args],
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def on_terminal(*args: str, rows: int = 24, columns: int = 80) -> str:
    screen = run_on_terminal(
        *args, env={**os.environ, "TERM": "xterm-256color"}, rows=rows, columns=columns
    )
    assert screen.returncode == 0, screen.text
    return screen.plain


# --- list -----------------------------------------------------------------------------------


def test_a_pipe_gets_every_matching_row(alice: User, session: Session) -> None:
    add_tasks(session, alice, 300)  # every third is completed
    pending = [n for n in range(300, 0, -1) if n % 3]
    done = piped("list")
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["#", "status", "title", "age"]
    assert [int(line.split()[0]) for line in lines[1:]] == pending
    grepped = subprocess.run(
        f"'{TODO}' list --all | grep -c 'task 2[0-9][0-9] '",
        shell=True,
        env=dict(os.environ),
        capture_output=True,
        text=True,
    )
    assert grepped.stdout.strip() == "100"
    assert len(piped("list", "--limit", "7").stdout.splitlines()) == 1 + 7


@pytest.mark.parametrize("rows", [12, 30])
def test_a_terminal_gets_one_screenful_and_how_many_more(
    alice: User, session: Session, rows: int
) -> None:
    add_tasks(session, alice, 300)
    pending = [n for n in range(300, 0, -1) if n % 3]
    lines = on_terminal("list", rows=rows).splitlines()
    # The header, the rows, the line saying how many more, and room for the next prompt.
    assert len(lines) == rows - 1
    assert lines[0].split() == ["#", "status", "title", "age"]
    shown = [int(line.split()[0]) for line in lines[1:-1]]
    assert shown == pending[: rows - 3]
    assert lines[-1] == f"… and {len(pending) - len(shown)} more (todo list | less shows them all)"


def test_a_terminal_list_that_fits_has_no_more_line(alice: User, session: Session) -> None:
    add_tasks(session, alice, 33)  # 22 pending: exactly the 22 rows a 24-line screen holds
    lines = on_terminal("list", rows=24).splitlines()
    assert len(lines) == 1 + 22 and "more" not in lines[-1]
    lines = on_terminal("list", "--all", "--limit", "5", rows=24).splitlines()
    assert len(lines) == 1 + 5 + 1
    assert lines[-1] == "… and 28 more (todo list --all | less shows them all)"


def test_the_plain_table_is_the_terminal_tables_layout() -> None:
    """The pipe's hand-written table lines up exactly as Rich lays out the same rows."""
    now = datetime.now(UTC)
    tasks = [
        Task(
            user_id=uuid.uuid4(),
            id=uuid.uuid4(),
            number=number,
            title=f"task {number} 日本 ✓ «x»" if number % 3 else "t",
            is_completed=number % 4 == 0,
            created_at=now - timedelta(seconds=number * 1000),
            updated_at=now,
        )
        for number in range(120, 0, -1)
    ]

    def captured(draw: object) -> str:
        real, sys.stdout = sys.stdout, io.StringIO()
        try:
            draw()  # type: ignore[operator]
            return sys.stdout.getvalue()
        finally:
            sys.stdout = real

    by_rich = captured(lambda: output.print_tasks(tasks, empty=""))
    by_hand = captured(lambda: output.print_plain_tasks(tasks, empty=""))
    assert by_hand == by_rich and by_hand.count("\n") == 121


# --- show -----------------------------------------------------------------------------------

LONG_WORD = "x" * 99_999 + "!"
LONG_TEXT = " ".join(f"word{n}" for n in range(14_000))[:100_000]


@pytest.mark.parametrize("description", [LONG_WORD, LONG_TEXT], ids=["one-word", "words"])
def test_show_prints_a_100000_character_description_whole(
    alice: User, session: Session, description: str
) -> None:
    title = "T" * 254 + "?"
    service.create_task(
        session, user_id=alice.id, task=TaskCreate(title=title, description=description)
    )
    done = piped("show", "1")
    assert (done.returncode, done.stderr) == (0, "")
    assert f"Task 1: {title}\n" in done.stdout
    assert f"description  {description}\n" in done.stdout and "…" not in done.stdout

    shown = on_terminal("show", "1", columns=60)
    assert "…" not in shown
    # Wrapped at the window's edge, so compare the characters without the layout.
    unwrapped = "".join(shown.split())
    assert "".join(description.split()) in unwrapped and title in unwrapped


def test_show_indents_a_multi_line_description_and_keeps_every_line(
    alice: User, session: Session
) -> None:
    service.create_task(
        session,
        user_id=alice.id,
        task=TaskCreate(title="t", description="first\n\n  third, indented\nlast"),
    )
    out = piped("show", "1").stdout
    assert "description  first\n\n               third, indented\n             last\n" in out


# One task whose every instant is known: imported (NDJSON, the lossless format), so its
# created and updated times are not "now". 03:04 UTC on 1 July is 12:04 in Tokyo and still
# 30 June in New York (EDT, summer time), so a time shown on the wrong clock shows.
_KNOWN_TIMES = {
    "id": "0b8e7a52-3f1c-4d6e-9a55-1c2d3e4f5a6b",
    "title": "Pay rent",
    "created_at": "2026-07-01T03:04:00Z",
    "updated_at": "2026-07-02T15:30:00Z",
    "is_completed": True,
    "completed_at": "2026-07-02T15:30:00Z",
    "due": "2026-07-03T00:15:00Z",
    "wait": "2026-07-01T20:00:00Z",
    "notes": [
        {
            "id": "1b8e7a52-3f1c-4d6e-9a55-1c2d3e4f5a6b",
            "created_at": "2026-07-01T23:45:00Z",
            "text": "call first",
        }
    ],
}


@pytest.mark.parametrize(
    ("zone", "lines"),
    [
        (
            "Asia/Tokyo",
            [
                r"due          Fri 3 Jul( 2026)? 09:15",
                r"wait         Thu 2 Jul( 2026)? 05:00",
                r"completed    2026-07-03 00:30 JST \(\d+\w+ ago\)",
                r"note         2026-07-02 08:45  call first",
                r"created      2026-07-01 12:04 JST \(\d+\w+ ago\)",
                r"updated      2026-07-03 00:30 JST \(\d+\w+ ago\)",
            ],
        ),
        (
            "America/New_York",
            [
                r"due          Thu 2 Jul( 2026)? 20:15",
                r"wait         Wed 1 Jul( 2026)? 16:00",
                r"completed    2026-07-02 11:30 EDT \(\d+\w+ ago\)",
                r"note         2026-07-01 19:45  call first",
                r"created      2026-06-30 23:04 EDT \(\d+\w+ ago\)",
                r"updated      2026-07-02 11:30 EDT \(\d+\w+ ago\)",
            ],
        ),
    ],
)
def test_show_prints_every_instant_on_the_clock_its_notes_use(
    alice: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    zone: str,
    lines: list[str],
) -> None:
    imported = tmp_path / "task.ndjson"
    imported.write_text(json.dumps(_KNOWN_TIMES) + "\n")
    assert piped("import", str(imported)).returncode == 0
    for how in ("TODO_TZ", "--tz"):
        if how == "TODO_TZ":
            monkeypatch.setenv("TODO_TZ", zone)
            done = piped("show", "1")
        else:  # --tz wins over TODO_TZ
            monkeypatch.setenv("TODO_TZ", "UTC")
            done = piped("show", "1", "--tz", zone)
        assert (done.returncode, done.stderr) == (0, ""), how
        shown = [line for line in done.stdout.splitlines() if line.split()[0] in _TIMED]
        assert len(shown) == len(lines), done.stdout
        for line, expected in zip(shown, lines, strict=True):
            assert re.fullmatch(expected, line), (how, line)


_TIMED = {"due", "wait", "completed", "note", "created", "updated"}


def test_the_zone_abbreviation_tells_apart_the_two_same_wall_times_of_a_dst_fold(
    alice: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Paris turns its clocks back at 03:00 CEST on 25 October 2026: 02:30 happens twice.
    imported = tmp_path / "fold.ndjson"
    imported.write_text(
        "".join(
            json.dumps({**_KNOWN_TIMES, "id": str(uuid.uuid4()), "notes": [], **times}) + "\n"
            for times in (
                {"created_at": "2026-10-25T00:30:00Z", "updated_at": "2026-10-25T00:30:00Z"},
                {"created_at": "2026-10-25T01:30:00Z", "updated_at": "2026-10-25T01:30:00Z"},
            )
        )
    )
    assert piped("import", str(imported)).returncode == 0
    monkeypatch.setenv("TODO_TZ", "Europe/Paris")
    created = [
        next(line for line in piped("show", ref).stdout.splitlines() if line[:7] == "created")
        for ref in ("1", "2")
    ]
    assert {line.split(" (")[0] for line in created} == {
        "created      2026-10-25 02:30 CEST",
        "created      2026-10-25 02:30 CET",
    }


def test_user_list_shows_when_each_user_was_created_on_the_commands_clock(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_TZ", "Asia/Tokyo")
    done = piped("user", "list")
    assert (done.returncode, done.stderr) == (0, "")
    tokyo = alice.created_at.astimezone(ZoneInfo("Asia/Tokyo"))
    name, _, created = done.stdout.splitlines()[1].split(maxsplit=2)
    assert name == "alice"
    assert re.fullmatch(rf"{tokyo:%Y-%m-%d %H:%M} JST \((just now|\d+s ago)\)", created)
