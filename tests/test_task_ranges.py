"""References as ranges and lists (`3-7`, `3,5,9`) in done, reopen, rm and edit: all or
nothing, one change, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from todo_cli import service
from todo_cli.errors import TaskNotFound, ValidationError
from todo_cli.models import TaskCreate, TaskUpdate, User
from todo_cli.service.references import MAX_RANGE, expand


def _add(session: Session, user: User, count: int) -> None:
    service.create_tasks(
        session, user_id=user.id, tasks=[TaskCreate(title=f"t{i}") for i in range(count)]
    )


def _done(session: Session, user: User) -> list[int]:
    session.expire_all()
    tasks = service.list_tasks(session, user_id=user.id, status="done")
    return sorted(task.number for task in tasks)


def test_ranges_and_lists_spell_out_numbers_and_leave_prefixes_alone() -> None:
    assert expand(["3-5", "9,11", "1f3e-77", "2"]) == ["3", "4", "5", "9", "11", "1f3e-77", "2"]
    assert expand(["7-7"]) == ["7"]
    for bad in ("5-3", "3,", ",3", "3,,4", f"1-{MAX_RANGE + 1}"):
        with pytest.raises(ValidationError):
            expand([bad])


def test_done_by_range_and_list_is_one_change(session: Session, alice: User) -> None:
    _add(session, alice, 8)
    service.complete_tasks(session, user_id=alice.id, refs=["2-4", "6,8"])
    assert _done(session, alice) == [2, 3, 4, 6, 8]
    assert service.list_changes(session, user_id=alice.id)[0].change.summary == "done 2 3 4 6 8"
    service.undo_change(session, user_id=alice.id)
    assert _done(session, alice) == []


def test_a_range_reaching_a_missing_task_changes_nothing(
    session: Session, alice: User, bob: User
) -> None:
    _add(session, alice, 3)
    _add(session, bob, 9)  # Bob's 4…9 are not Alice's
    with pytest.raises(TaskNotFound, match="Tasks 4, 5 not found; nothing was changed"):
        service.complete_tasks(session, user_id=alice.id, refs=["1-5"])
    with pytest.raises(TaskNotFound):
        service.delete_tasks(session, user_id=alice.id, refs=["2,99"])
    assert _done(session, alice) == []
    assert len(service.list_tasks(session, user_id=alice.id, status="all")) == 3


def test_edit_of_a_range_changes_every_task_once(session: Session, alice: User) -> None:
    _add(session, alice, 4)
    tasks = service.update_tasks(
        session, user_id=alice.id, refs=["2-3"], changes=TaskUpdate(add_tags=["home"])
    )
    assert [(task.number, task.tags, task.version) for task in tasks] == [
        (2, ["home"], 2),
        (3, ["home"], 2),
    ]
    service.reopen_tasks(session, user_id=alice.id, refs=["1-4"])  # nothing to reopen
    assert service.last_committed(session) is None
