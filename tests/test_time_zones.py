"""A user's stored zone (SPEC → Dates and time zones): the CLI fills it once from the
machine, `todo user zone` changes it and moves the dues given as a day, as one change."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session

from tests.cli import invoke
from todo_cli import service
from todo_cli.config import DatabaseURL
from todo_cli.models import TaskCreate, User, task_to_json

PARIS, NEW_YORK = "Europe/Paris", "America/New_York"


def _due(session: Session, user: User, number: int) -> tuple[str | None, str | None]:
    task = task_to_json(service.get_task(session, user_id=user.id, ref=str(number)))
    return task["due"], task["due_date"]


def test_changing_the_zone_moves_day_dues_only_and_one_undo_moves_them_back(
    session: Session, alice: User
) -> None:
    service.set_time_zone(session, user_id=alice.id, name=PARIS)
    for due in ("2026-12-04", "2026-12-04T09:00:00Z", None):
        service.create_task(session, user_id=alice.id, task=TaskCreate(title="t", due=due))
    assert _due(session, alice, 1) == ("2026-12-04T22:59:59.999999Z", "2026-12-04")
    moved = service.set_time_zone(session, user_id=alice.id, name=NEW_YORK)
    assert [task.number for task in moved] == [1]
    assert _due(session, alice, 1) == ("2026-12-05T04:59:59.999999Z", "2026-12-04")
    assert _due(session, alice, 2) == ("2026-12-04T09:00:00.000000Z", None)
    assert service.user_zone(session, alice.id).key == NEW_YORK
    service.undo_change(session, user_id=alice.id)
    assert _due(session, alice, 1) == ("2026-12-04T22:59:59.999999Z", "2026-12-04")


def test_setting_the_same_zone_again_changes_nothing(session: Session, alice: User) -> None:
    service.set_time_zone(session, user_id=alice.id, name=PARIS)
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="t", due="2026-12-04"))
    before = service.list_changes(session, user_id=alice.id)
    assert service.set_time_zone(session, user_id=alice.id, name=PARIS) == []
    assert len(service.list_changes(session, user_id=alice.id)) == len(before)


def test_filling_only_fills_an_empty_zone(session: Session, alice: User, bob: User) -> None:
    service.fill_time_zone(session, user_id=alice.id, name=PARIS)
    service.fill_time_zone(session, user_id=alice.id, name=NEW_YORK)
    assert service.user_zone(session, alice.id).key == PARIS
    assert service.user_zone(session, bob.id).key == "UTC"  # nobody else's zone changed


def test_the_cli_fills_the_zone_once_and_user_zone_shows_and_sets_it(
    use_database: DatabaseURL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_TZ", PARIS)
    assert invoke("user", "add", "zoe")[0] == 0
    monkeypatch.setenv("TODO_USER", "zoe")
    assert invoke("add", "Pay rent", "due:2026-12-04")[0] == 0
    assert invoke("user", "zone") == (0, f"Time zone of zoe: {PARIS}\n", "")
    monkeypatch.setenv("TODO_TZ", NEW_YORK)  # another machine later: the stored zone stays
    invoke("list")
    code, out, err = invoke("user", "zone", NEW_YORK, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"user": "zoe", "time_zone": NEW_YORK, "moved": [1]}
    code, _, err = invoke("user", "zone", "Mars/Base")
    assert code == 2 and "'Mars/Base' is not a time zone" in err
