"""Task operations of the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, col

from tests.conftest import TASK_FIELDS
from todo_cli import service
from todo_cli.errors import (
    AmbiguousReference,
    PreconditionFailed,
    TaskNotFound,
    UserNotFound,
    ValidationError,
)
from todo_cli.models import AnyTask, Task, TaskCreate, TaskRecord, TaskUpdate, User, task_to_json


def _set_id(session: Session, task: AnyTask, new_id: uuid.UUID) -> TaskRecord:
    """Give a task a chosen UUID, to build prefix collisions on purpose."""
    session.exec(update(Task).where(col(Task.id) == task.id).values(id=new_id))
    session.commit()
    session.expunge_all()
    return service.get_task(session, user_id=task.user_id, ref=str(new_id))


# --- create -----------------------------------------------------------------------------


def test_create_strips_title_and_numbers_per_user(session: Session, alice: User) -> None:
    first = service.create_task(session, user_id=alice.id, task=TaskCreate(title="  Buy milk \t"))
    second = service.create_task(
        session, user_id=alice.id, task=TaskCreate(title="Walk", description="the dog")
    )
    assert (first.number, first.title, first.description) == (1, "Buy milk", None)
    assert (second.number, second.description) == (2, "the dog")
    assert first.version == 1 and first.is_completed is False
    assert first.created_at == first.updated_at
    assert first.created_at.tzinfo is not None


def test_json_shape_is_exactly_the_spec(session: Session, alice: User) -> None:
    task = service.create_task(session, user_id=alice.id, task=TaskCreate(title="Buy milk"))
    session.expunge_all()
    stored = service.get_task(session, user_id=alice.id, ref="1")
    body = task_to_json(stored)
    assert tuple(body) == TASK_FIELDS
    assert body["id"] == str(task.id) and body["user_id"] == str(alice.id)
    assert body["created_at"].endswith("Z")
    parsed = datetime.fromisoformat(body["created_at"])
    assert parsed.utcoffset() == timedelta(0)
    assert abs(parsed - datetime.now(UTC)) < timedelta(minutes=1)


def test_timestamps_come_back_aware_and_equal_to_what_was_stored(
    session: Session, alice: User
) -> None:
    task = service.create_task(session, user_id=alice.id, task=TaskCreate(title="x"))
    created = task.created_at
    session.expunge_all()
    again = service.get_task(session, user_id=alice.id, ref="1")
    assert again.created_at.tzinfo is not None
    assert again.created_at.utcoffset() == timedelta(0)
    assert again.created_at == created


def test_create_for_unknown_user_is_not_found(session: Session) -> None:
    with pytest.raises(UserNotFound):
        service.create_task(session, user_id=uuid.uuid4(), task=TaskCreate(title="x"))


@pytest.mark.parametrize(
    ("title", "fragment"),
    [
        ("", "must not be empty"),
        ("   \t ", "must not be empty"),
        ("x" * 256, "at most 255"),
        ("line\nbreak", "control characters"),
        ("esc\x1b[31m", "control characters"),
        ("nul\x00", "NUL"),
        ("lone \ud800 surrogate", "lone surrogate"),
    ],
)
def test_bad_titles_are_refused_and_nothing_is_created(
    session: Session, alice: User, title: str, fragment: str
) -> None:
    with pytest.raises(ValidationError, match=fragment) as caught:
        service.create_task(session, user_id=alice.id, task=TaskCreate(title=title))
    assert caught.value.details["field"] == "title"
    assert caught.value.exit_code == 2 and caught.value.http_status == 400
    assert service.count_tasks(session, user_id=alice.id, status="all") == 0


def test_title_of_255_characters_after_stripping_is_fine(session: Session, alice: User) -> None:
    task = service.create_task(session, user_id=alice.id, task=TaskCreate(title=f"  {'é' * 255}  "))
    assert task.title == "é" * 255


def test_description_is_kept_exactly_within_its_limit(session: Session, alice: User) -> None:
    text_ = "  line one\n\ttab — emoji 🎉, RTL עברית, 'quote'; DROP TABLE tasks; --  "
    task = service.create_task(
        session, user_id=alice.id, task=TaskCreate(title="t", description=text_)
    )
    session.expunge_all()
    assert service.get_task(session, user_id=alice.id, ref=str(task.id)).description == text_
    big = "x" * service.DESCRIPTION_MAX_LENGTH
    assert service.create_task(
        session, user_id=alice.id, task=TaskCreate(title="t", description=big)
    ).description
    with pytest.raises(ValidationError, match="at most"):
        service.create_task(
            session, user_id=alice.id, task=TaskCreate(title="t", description=big + "x")
        )
    with pytest.raises(ValidationError, match="NUL"):
        service.create_task(
            session, user_id=alice.id, task=TaskCreate(title="t", description="a\x00b")
        )


def test_numbers_are_never_reused(session: Session, alice: User) -> None:
    for title in "abc":
        service.create_task(session, user_id=alice.id, task=TaskCreate(title=title))
    service.delete_tasks(session, user_id=alice.id, refs=["3"])
    service.delete_tasks(session, user_id=alice.id, refs=["2"])
    assert service.create_task(session, user_id=alice.id, task=TaskCreate(title="d")).number == 4


# --- list -------------------------------------------------------------------------------


def test_list_is_pending_newest_first_with_filters(session: Session, alice: User) -> None:
    for title in ["one", "two", "three", "four"]:
        service.create_task(session, user_id=alice.id, task=TaskCreate(title=title))
    service.complete_tasks(session, user_id=alice.id, refs=["2"])

    def numbers(**kwargs: object) -> list[int]:
        return [t.number for t in service.list_tasks(session, user_id=alice.id, **kwargs)]  # type: ignore[arg-type]

    assert numbers() == [4, 3, 1]
    assert numbers(status="done") == [2]
    assert numbers(status="all") == [4, 3, 2, 1]
    assert numbers(status="all", limit=2) == [4, 3]
    assert numbers(status="all", limit=2, offset=2) == [2, 1]
    assert numbers(status="all", limit=0) == []
    assert service.count_tasks(session, user_id=alice.id) == 3
    assert service.count_tasks(session, user_id=alice.id, status="all") == 4
    streamed = [t.number for t in service.iter_tasks(session, user_id=alice.id, status="all")]
    assert streamed == [4, 3, 2, 1]


def test_ties_on_created_at_are_broken_by_id_so_pages_are_stable(
    session: Session, alice: User
) -> None:
    tasks = [
        service.create_task(session, user_id=alice.id, task=TaskCreate(title=str(i)))
        for i in range(6)
    ]
    same = datetime(2026, 1, 1, tzinfo=UTC)
    for task in tasks:
        task.created_at = same
    session.commit()
    expected = sorted((t.id for t in tasks), reverse=True)
    pages = [
        service.list_tasks(session, user_id=alice.id, limit=2, offset=offset)
        for offset in (0, 2, 4)
    ]
    assert [t.id for page in pages for t in page] == expected


def test_list_for_unknown_user_is_not_found(session: Session) -> None:
    with pytest.raises(UserNotFound):
        service.list_tasks(session, user_id=uuid.uuid4())
    with pytest.raises(UserNotFound):
        list(service.iter_tasks(session, user_id=uuid.uuid4()))


def test_negative_paging_is_a_validation_error(session: Session, alice: User) -> None:
    with pytest.raises(ValidationError):
        service.list_tasks(session, user_id=alice.id, limit=-1)
    with pytest.raises(ValidationError):
        service.list_tasks(session, user_id=alice.id, offset=-1)


# --- references -------------------------------------------------------------------------


def test_reference_by_number_uuid_and_prefix(session: Session, alice: User) -> None:
    created = service.create_task(session, user_id=alice.id, task=TaskCreate(title="x"))
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="other"))
    task = _set_id(session, created, uuid.UUID("abcdef01-2345-4678-9abc-def012345678"))
    for ref in [
        "1",
        " 1 ",
        str(task.id),
        task.id.hex,
        str(task.id).upper(),
        "abcd",
        "ABCDEF01-23",
        "abcdef0123",
    ]:
        assert service.get_task(session, user_id=alice.id, ref=ref).id == task.id, ref


def test_ambiguous_prefix_lists_the_matches(session: Session, alice: User) -> None:
    a = service.create_task(session, user_id=alice.id, task=TaskCreate(title="a"))
    b = service.create_task(session, user_id=alice.id, task=TaskCreate(title="b"))
    _set_id(session, a, uuid.UUID("abcd1111-0000-4000-8000-000000000000"))
    _set_id(session, b, uuid.UUID("abcd2222-0000-4000-8000-000000000000"))
    with pytest.raises(AmbiguousReference) as caught:
        service.get_task(session, user_id=alice.id, ref="abcd")
    assert caught.value.exit_code == 4 and caught.value.http_status == 409
    assert "1 (abcd1111)" in caught.value.message and "2 (abcd2222)" in caught.value.message
    assert [m["number"] for m in caught.value.details["matches"]] == [1, 2]
    assert service.get_task(session, user_id=alice.id, ref="abcd2").number == 2


@pytest.mark.parametrize("ref", ["abc", "milk", "12ab-zz", "%", "ab_d", "abcd%", ""])
def test_malformed_reference_is_a_validation_error(session: Session, alice: User, ref: str) -> None:
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="x"))
    with pytest.raises(ValidationError):
        service.get_task(session, user_id=alice.id, ref=ref)


@pytest.mark.parametrize(
    "ref",
    [
        "0",
        "2",
        "99999999999999999999",
        "1" * 5000,  # beyond the 4,300 digits int() reads
        "0bcdef01-2345-4678-9abc-def012345678",
        "ffff",
    ],
)
def test_unknown_reference_is_not_found(session: Session, alice: User, ref: str) -> None:
    task = service.create_task(session, user_id=alice.id, task=TaskCreate(title="x"))
    _set_id(session, task, uuid.UUID("abcdef01-2345-4678-9abc-def012345678"))
    with pytest.raises(TaskNotFound) as caught:
        service.get_task(session, user_id=alice.id, ref=ref)
    shown = ref if len(ref) <= 40 else f"{ref[:39]}…"  # a message stays one readable line
    assert caught.value.to_body() == {
        "error": {
            "code": "NOT_FOUND",
            "message": f"Task {shown} not found.",
            "details": {"ref": ref},
        }
    }


def test_a_number_with_thousands_of_leading_zeros_is_still_that_number(
    session: Session, alice: User
) -> None:
    task = service.create_task(session, user_id=alice.id, task=TaskCreate(title="x"))
    assert service.get_task(session, user_id=alice.id, ref="0" * 5000 + "1").id == task.id


# --- update -----------------------------------------------------------------------------


def test_update_changes_only_given_fields(session: Session, alice: User) -> None:
    task = service.create_task(
        session, user_id=alice.id, task=TaskCreate(title="old", description="keep")
    )
    before = task.updated_at
    updated = service.update_task(
        session, user_id=alice.id, ref="1", changes=TaskUpdate(title="  new  ")
    )
    assert (updated.title, updated.description, updated.version) == ("new", "keep", 2)
    assert updated.updated_at >= before and updated.created_at == task.created_at
    cleared = service.update_task(
        session, user_id=alice.id, ref="1", changes=TaskUpdate(description=None)
    )
    assert (cleared.description, cleared.version) == (None, 3)


def test_update_without_a_real_change_keeps_the_version(session: Session, alice: User) -> None:
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="same"))
    again = service.update_task(
        session, user_id=alice.id, ref="1", changes=TaskUpdate(title="same")
    )
    assert again.version == 1


@pytest.mark.parametrize(
    "changes",
    [TaskUpdate(), TaskUpdate(title=None), TaskUpdate(title=" "), TaskUpdate(is_completed=None)],
)
def test_invalid_updates_change_nothing(session: Session, alice: User, changes: TaskUpdate) -> None:
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="keep"))
    with pytest.raises(ValidationError):
        service.update_task(session, user_id=alice.id, ref="1", changes=changes)
    session.rollback()
    task = service.get_task(session, user_id=alice.id, ref="1")
    assert (task.title, task.version) == ("keep", 1)


def test_stale_expected_version_changes_nothing(session: Session, alice: User) -> None:
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="v1"))
    service.update_task(
        session, user_id=alice.id, ref="1", changes=TaskUpdate(title="v2"), expected_version=1
    )
    with pytest.raises(PreconditionFailed) as caught:
        service.update_task(
            session, user_id=alice.id, ref="1", changes=TaskUpdate(title="v3"), expected_version=1
        )
    assert caught.value.http_status == 412
    assert caught.value.details == {"current_version": 2, "expected_version": 1}
    session.rollback()  # also expires what the session holds: what follows is re-read
    assert service.get_task(session, user_id=alice.id, ref="1").title == "v2"


# --- complete, reopen, delete -----------------------------------------------------------


def test_complete_and_reopen_several_at_once(session: Session, alice: User) -> None:
    for title in "abc":
        service.create_task(session, user_id=alice.id, task=TaskCreate(title=title))
    done = service.complete_tasks(session, user_id=alice.id, refs=["1", "3", "1"])
    assert sorted(t.number for t in done) == [1, 3]
    assert all(t.is_completed and t.version == 2 for t in done)
    again = service.complete_tasks(session, user_id=alice.id, refs=["1"])
    assert again[0].version == 2  # already completed: no change, no new version
    reopened = service.reopen_tasks(session, user_id=alice.id, refs=["3"])
    assert reopened[0].is_completed is False and reopened[0].version == 3


@pytest.mark.parametrize("operation", ["complete", "reopen", "delete"])
def test_multi_task_operations_are_all_or_nothing(
    session: Session, alice: User, operation: str
) -> None:
    for title in "ab":
        service.create_task(session, user_id=alice.id, task=TaskCreate(title=title))
    service.complete_tasks(session, user_id=alice.id, refs=["2"])
    run = {
        "complete": service.complete_tasks,
        "reopen": service.reopen_tasks,
        "delete": service.delete_tasks,
    }[operation]
    with pytest.raises(TaskNotFound) as caught:
        run(session, user_id=alice.id, refs=["1", "2", "7", "8"])
    assert caught.value.message == "Tasks 7, 8 not found; nothing was changed."
    assert caught.value.details == {"refs": ["7", "8"]}
    session.rollback()  # also expires what the session holds: what follows is re-read
    state = {
        t.number: (t.is_completed, t.version)
        for t in service.list_tasks(session, user_id=alice.id, status="all")
    }
    assert state == {1: (False, 1), 2: (True, 2)}


def test_delete_several_and_with_expected_version(session: Session, alice: User) -> None:
    for title in "abc":
        service.create_task(session, user_id=alice.id, task=TaskCreate(title=title))
    deleted = service.delete_tasks(session, user_id=alice.id, refs=["1", "2"])
    assert [t.title for t in deleted] == ["a", "b"]
    with pytest.raises(PreconditionFailed):
        service.delete_tasks(session, user_id=alice.id, refs=["3"], expected_version=5)
    session.rollback()
    assert service.count_tasks(session, user_id=alice.id, status="all") == 1
    service.delete_tasks(session, user_id=alice.id, refs=["3"], expected_version=1)
    assert service.count_tasks(session, user_id=alice.id, status="all") == 0
    with pytest.raises(ValidationError):
        service.delete_tasks(session, user_id=alice.id, refs=[])


@pytest.mark.parametrize("paging", [{"limit": 2**31}, {"offset": 2**31}, {"limit": 10**20}])
def test_paging_beyond_any_possible_task_count_is_refused(
    session: Session, alice: User, paging: dict[str, int]
) -> None:
    with pytest.raises(ValidationError, match="between 0 and 2147483647"):
        service.list_tasks(session, user_id=alice.id, **paging)  # type: ignore[arg-type]
