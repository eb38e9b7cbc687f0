"""User operations of the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from todo_cli import service
from todo_cli.errors import UserExists, UserNotFound, ValidationError
from todo_cli.models import Task, TaskCreate


def test_create_get_and_list_users(session: Session) -> None:
    bob = service.create_user(session, name="bob")
    alice = service.create_user(session, name="Alice.B+tag@example-1_x")
    assert service.get_user(session, ref="BOB").id == bob.id
    assert service.get_user(session, ref=str(alice.id)).id == alice.id
    assert service.get_user(session, ref=f" {alice.id.hex} ").id == alice.id
    assert [u.name for u in service.list_users(session)] == ["Alice.B+tag@example-1_x", "bob"]
    assert bob.created_at.tzinfo is not None


def test_names_are_unique_regardless_of_case(session: Session) -> None:
    service.create_user(session, name="alice")
    with pytest.raises(UserExists) as caught:
        service.create_user(session, name="ALICE")
    assert caught.value.exit_code == 4 and caught.value.http_status == 409


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "has space",
        "x" * 65,
        "semi;colon",
        "ünïcode",
        "a\nb",
        "0123456789abcdef0123456789abcdef",  # reads as a UUID: could never be named again
        "01234567-89ab-cdef-0123-456789abcdef",
    ],
)
def test_invalid_names_are_refused(session: Session, name: str) -> None:
    with pytest.raises(ValidationError):
        service.create_user(session, name=name)
    assert service.list_users(session) == []


def test_unknown_user_is_not_found_and_names_the_fix(session: Session) -> None:
    with pytest.raises(UserNotFound, match="todo user add") as caught:
        service.get_user(session, ref="nobody")
    assert caught.value.exit_code == 3


@pytest.mark.parametrize("ref", ["", "  ", "has space", "a\x00b", "\ud800", "x" * 65, "ünïcode"])
def test_a_reference_no_user_can_have_is_a_validation_error(session: Session, ref: str) -> None:
    """Refused before the database sees it: NUL or a lone surrogate cannot even be sent."""
    service.create_user(session, name="alice")
    with pytest.raises(ValidationError, match="is not a user name or UUID") as caught:
        service.get_user(session, ref=ref)
    assert caught.value.exit_code == 2


def test_ensure_user_creates_once(session: Session) -> None:
    first = service.ensure_user(session, name="me")
    assert service.ensure_user(session, name="ME").id == first.id
    assert len(service.list_users(session)) == 1


def test_delete_user_deletes_their_tasks_only(session: Session) -> None:
    alice = service.create_user(session, name="alice")
    bob = service.create_user(session, name="bob")
    for owner in (alice, bob, alice):
        service.create_task(session, user_id=owner.id, task=TaskCreate(title="t"))
    service.delete_user(session, ref="alice")
    remaining = session.exec(select(Task.user_id, func.count()).group_by(col(Task.user_id))).all()
    assert remaining == [(bob.id, 1)]
    with pytest.raises(UserNotFound):
        service.get_user(session, ref="alice")
