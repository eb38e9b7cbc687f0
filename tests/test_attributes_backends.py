"""Task attributes mean the same on SQLite and PostgreSQL: the same input gives the same
stored task, field for field (a differential test), DST edges included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from todo_cli import db, service
from todo_cli.config import DatabaseURL
from todo_cli.errors import ValidationError
from todo_cli.models import TaskCreate, TaskUpdate, User, task_to_json
from todo_cli.service.dates import WORDS, parse_when

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ZONES = [ZoneInfo(name) for name in ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata")]
# Fields that differ between two databases by construction: ids and clocks.
_OWN = {"id", "user_id", "created_at", "updated_at", "notes"}

phrases = st.one_of(
    st.sampled_from(WORDS),
    st.builds(
        lambda base, sign, count, unit: f"{base}{sign}{count}{unit}",
        st.sampled_from(("today", "fri", "eom", "tom", "now")),
        st.sampled_from("+-"),
        st.integers(1, 400),
        st.sampled_from(("d", "w", "mo", "h", "min")),
    ),
    st.builds(
        lambda day, hour, minute: f"2026-{day:%m-%d}T{hour:02}:{minute:02}",
        st.dates(datetime(2026, 1, 1).date(), datetime(2026, 12, 31).date()),
        st.integers(0, 23),
        st.integers(0, 59),
    ),
)


@pytest.fixture
def sessions(new_database: Callable[[str], DatabaseURL]) -> Iterator[dict[str, Session]]:
    made: dict[str, Session] = {}
    engines = []
    for backend in ("sqlite", "postgresql"):
        url = new_database(backend)
        db.upgrade(url)
        engine = db.make_engine(url)
        engines.append(engine)
        made[backend] = db.make_session_factory(engine)()
    yield made
    for session in made.values():
        session.close()
    for engine in engines:
        engine.dispose()


def _users(sessions: dict[str, Session]) -> dict[str, User]:
    return {name: service.ensure_user(s, name="ann") for name, s in sessions.items()}


def _stored(session: Session, user: User, number: int) -> dict[str, object]:
    session.expire_all()
    image = task_to_json(service.get_task(session, user_id=user.id, ref=str(number)))
    return {key: value for key, value in image.items() if key not in _OWN}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(phrase=phrases, zone=st.sampled_from(ZONES), kind=st.sampled_from(("due", "wait")))
def test_a_date_phrase_stores_the_same_instant_on_both_backends(
    sessions: dict[str, Session], phrase: str, zone: ZoneInfo, kind: str
) -> None:
    try:
        when = parse_when(phrase, now=NOW, zone=zone)
    except ValidationError:
        return  # a gap or an impossible date: refused the same way everywhere
    value = when.day.isoformat() if when.day else when.instant.isoformat()
    users = _users(sessions)
    stored = []
    for name, session in sessions.items():
        task = service.create_task(
            session,
            user_id=users[name].id,
            task=TaskCreate(title="t", tags=["b", "a"], project="house.garden", **{kind: value}),
            zone=zone,
        )
        stored.append(_stored(session, users[name], task.number))
    assert stored[0] == stored[1]
    instant = stored[0][kind]
    assert isinstance(instant, str)
    assert datetime.fromisoformat(instant) == when.instant
    if kind == "due":
        assert stored[0]["due_date"] == (when.day.isoformat() if when.day else None)


def test_a_day_due_is_the_end_of_that_day_across_a_dst_change(
    sessions: dict[str, Session],
) -> None:
    """Paris leaves summer time on 25 Oct 2026: that day has 25 hours."""
    paris = ZoneInfo("Europe/Paris")
    users = _users(sessions)
    for name, session in sessions.items():
        service.create_task(
            session,
            user_id=users[name].id,
            task=TaskCreate(title="t", due="2026-10-25"),
            zone=paris,
        )
        task = _stored(session, users[name], 1)
        assert task["due"] == "2026-10-25T22:59:59.999999Z"  # 23:59:59.999999 CET
        assert task["due_date"] == "2026-10-25"
        with pytest.raises(ValidationError):  # 02:30 does not exist on 29 March 2026
            service.update_task(
                session,
                user_id=users[name].id,
                ref="1",
                changes=TaskUpdate(due="2026-03-29T02:30"),
                zone=paris,
            )
        later = service.update_task(
            session,
            user_id=users[name].id,
            ref="1",
            changes=TaskUpdate(due="2026-03-29T03:30", priority="M", add_tags=["x"]),
            zone=paris,
        )
        assert later.due == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
        assert later.due - timedelta(hours=1) == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
        assert (task_to_json(later)["priority"], later.tags) == ("M", ["x"])


def test_next_orders_the_same_on_both_backends(sessions: dict[str, Session]) -> None:
    """Overdue, then by due (none last), then priority H > M > none > L, then oldest;
    waiting and completed tasks left out."""
    users = _users(sessions)
    specs: list[tuple[str, dict[str, Any]]] = [
        ("no due, L", {"priority": "L"}),
        ("no due, none", {}),
        ("no due, H", {"priority": "H"}),
        ("due later", {"due": "2027-06-01"}),
        ("overdue", {"due": "2020-01-01"}),
        ("due later, M", {"due": "2027-06-01", "priority": "M"}),
        ("waiting", {"wait": "2099-01-01"}),
        ("done", {}),
    ]
    orders = []
    for name, session in sessions.items():
        service.create_tasks(
            session,
            user_id=users[name].id,
            tasks=[TaskCreate(title=title, **fields) for title, fields in specs],
        )
        service.complete_tasks(session, user_id=users[name].id, refs=[str(len(specs))])
        orders.append([t.title for t in service.next_tasks(session, user_id=users[name].id)])
    assert (
        orders[0]
        == orders[1]
        == [
            "overdue",
            "due later, M",
            "due later",
            "no due, H",
            "no due, none",
            "no due, L",
        ]
    )
