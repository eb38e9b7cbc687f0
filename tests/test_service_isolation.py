"""The core promise: no user can read, change or delete another user's task.

Every way of naming a task (number, full UUID, UUID prefix) and every operation is tried
by user B on user A's task. B must get exactly the error a missing task gives, and A's
task must be untouched afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlmodel import Session

from todo_cli import service
from todo_cli.errors import TaskNotFound
from todo_cli.models import Task, TaskCreate, TaskUpdate, User, task_to_json

Operation = Callable[[Session, uuid.UUID, str], object]

OPERATIONS: dict[str, Operation] = {
    "get": lambda s, u, r: service.get_task(s, user_id=u, ref=r),
    "update": lambda s, u, r: service.update_task(
        s, user_id=u, ref=r, changes=TaskUpdate(title="stolen", description="x")
    ),
    "update-if-match": lambda s, u, r: service.update_task(
        s, user_id=u, ref=r, changes=TaskUpdate(is_completed=True), expected_version=1
    ),
    "complete": lambda s, u, r: service.complete_tasks(s, user_id=u, refs=[r]),
    "reopen": lambda s, u, r: service.reopen_tasks(s, user_id=u, refs=[r]),
    "delete": lambda s, u, r: service.delete_tasks(s, user_id=u, refs=[r]),
    "delete-if-match": lambda s, u, r: service.delete_tasks(
        s, user_id=u, refs=[r], expected_version=1
    ),
}


@pytest.fixture
def owners(session: Session) -> tuple[User, User, Task]:
    alice = service.create_user(session, name="alice")
    bob = service.create_user(session, name="bob")
    task = service.create_task(
        session, user_id=alice.id, task=TaskCreate(title="alice's", description="secret")
    )
    return alice, bob, task


def _refs(task: Task) -> dict[str, str]:
    return {
        "number": str(task.number),
        "uuid": str(task.id),
        "hex": task.id.hex,
        "prefix": str(task.id)[:6],
    }


@pytest.mark.parametrize("kind", ["number", "uuid", "hex", "prefix"])
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_other_users_task_is_indistinguishable_from_a_missing_one(
    session: Session, owners: tuple[User, User, Task], operation: str, kind: str
) -> None:
    alice, bob, task = owners
    before = task_to_json(service.get_task(session, user_id=alice.id, ref="1"))
    ref = _refs(task)[kind]

    with pytest.raises(TaskNotFound) as by_bob:
        OPERATIONS[operation](session, bob.id, ref)
    session.rollback()

    # The same reference where nothing exists at all: a brand-new user with no tasks.
    carol = service.create_user(session, name="carol")
    with pytest.raises(TaskNotFound) as missing:
        OPERATIONS[operation](session, carol.id, ref)
    session.rollback()

    assert by_bob.value.to_body() == missing.value.to_body()
    assert type(by_bob.value) is type(missing.value)
    session.expire_all()
    assert task_to_json(service.get_task(session, user_id=alice.id, ref="1")) == before


def test_each_user_sees_only_their_own_tasks_and_numbers(
    session: Session, owners: tuple[User, User, Task]
) -> None:
    alice, bob, alices_task = owners
    bobs_task = service.create_task(session, user_id=bob.id, task=TaskCreate(title="bob's"))
    assert bobs_task.number == 1  # numbers are per user
    assert [t.id for t in service.list_tasks(session, user_id=bob.id, status="all")] == [
        bobs_task.id
    ]
    assert [t.id for t in service.iter_tasks(session, user_id=bob.id, status="all")] == [
        bobs_task.id
    ]
    assert service.count_tasks(session, user_id=bob.id, status="all") == 1
    service.complete_tasks(session, user_id=bob.id, refs=["1"])
    session.expire_all()
    assert service.get_task(session, user_id=alice.id, ref="1").is_completed is False
    assert service.get_task(session, user_id=bob.id, ref="1").id == bobs_task.id


def test_shared_prefix_resolves_to_the_callers_own_task(
    session: Session, owners: tuple[User, User, Task]
) -> None:
    """A prefix that matches A's and B's task is not ambiguous for B: A's is invisible."""
    from sqlalchemy import update
    from sqlmodel import col

    alice, bob, alices_task = owners
    bobs_task = service.create_task(session, user_id=bob.id, task=TaskCreate(title="bob's"))
    session.exec(
        update(Task)
        .where(col(Task.id) == alices_task.id)
        .values(id=uuid.UUID("cafe0000-0000-4000-8000-000000000001"))
    )
    session.exec(
        update(Task)
        .where(col(Task.id) == bobs_task.id)
        .values(id=uuid.UUID("cafe0000-0000-4000-8000-000000000002"))
    )
    session.commit()
    session.expunge_all()
    assert service.get_task(session, user_id=bob.id, ref="cafe").title == "bob's"
    assert service.get_task(session, user_id=alice.id, ref="cafe").title == "alice's"


def test_multi_task_operation_with_one_foreign_task_changes_nothing(
    session: Session, owners: tuple[User, User, Task]
) -> None:
    alice, bob, alices_task = owners
    service.create_task(session, user_id=bob.id, task=TaskCreate(title="bob's"))
    with pytest.raises(TaskNotFound):
        service.delete_tasks(session, user_id=bob.id, refs=["1", str(alices_task.id)])
    session.rollback()
    assert service.count_tasks(session, user_id=bob.id) == 1
    assert service.count_tasks(session, user_id=alice.id) == 1
