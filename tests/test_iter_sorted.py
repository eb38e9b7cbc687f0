"""`iter_tasks` in batches gives what `list_tasks` gives, in any order, past one batch."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from todo_cli import service
from todo_cli.models import TaskCreate, User


@pytest.mark.parametrize("sort", [None, "due,-priority", "-number"])
def test_batched_listing_equals_the_plain_one(
    session: Session, alice: User, sort: str | None
) -> None:
    tasks = [
        TaskCreate(
            title=f"t{n}", due=f"2026-12-{1 + n % 28:02d}" if n % 3 else None, priority="HML"[n % 3]
        )
        for n in range(1_203)
    ]
    service.create_tasks(session, user_id=alice.id, tasks=tasks)
    service.delete_tasks(session, user_id=alice.id, refs=["7"])
    plain = [
        t.number for t in service.list_tasks(session, user_id=alice.id, status="all", sort=sort)
    ]
    batched = [
        t.number for t in service.iter_tasks(session, user_id=alice.id, status="all", sort=sort)
    ]
    assert batched == plain and len(plain) == 1_202
    capped = service.iter_tasks(session, user_id=alice.id, status="all", sort=sort, limit=600)
    assert [t.number for t in capped] == plain[:600]
