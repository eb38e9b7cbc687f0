"""The filter language against real databases: SQLite, PostgreSQL and the plain-Python
evaluator give the same rows in the same order, for random filters from a strategy over
the grammar on random task sets (SPEC → Finding: filters, sort, search).

Both databases hold the same tasks (same numbers, dates and attributes), written through
the service and then given fixed creation and completion times, so that the three
answers can be compared row for row. Another user's tasks are there too, and never come
back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from tests.conftest import PostgresServer
from todo_cli import db, service
from todo_cli.config import DatabaseURL
from todo_cli.errors import UserNotFound, ValidationError
from todo_cli.models import Task, TaskCreate
from todo_cli.service.query import parse_filter, parse_sort

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday
ZONES = (ZoneInfo("UTC"), ZoneInfo("Europe/Paris"), ZoneInfo("Pacific/Auckland"))

# --- task sets ----------------------------------------------------------------------------

TITLES = ("Buy milk", "Fix the gate", "Été à Paris", "100% done", "a_b test", "MILK run", "Straße")
DESCRIPTIONS = (None, "from the corner shop", "ÉTÉ", "50%_off")
TAGS = ("home", "errand", "Work")
PROJECTS = (None, "house", "house.garden", "housework", "work", "été")
INSTANTS = (
    NOW - timedelta(days=10),
    NOW - timedelta(hours=1),
    NOW,
    NOW + timedelta(hours=5),
    NOW + timedelta(days=3, hours=10, minutes=59, seconds=59, microseconds=999999),
    NOW + timedelta(days=9),
)
DAYS = ("2026-11-30", "2026-12-01", "2026-12-04", "2026-12-12")


@dataclass(frozen=True)
class Spec:
    title: str
    description: str | None
    tags: tuple[str, ...]
    project: str | None
    priority: str | None
    due: str | None
    wait: str | None
    created: datetime
    completed: datetime | None


def _date_phrase() -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(DAYS) | st.sampled_from(INSTANTS).map(datetime.isoformat)


specs = st.builds(
    Spec,
    title=st.sampled_from(TITLES),
    description=st.sampled_from(DESCRIPTIONS),
    tags=st.lists(st.sampled_from(TAGS), unique=True, max_size=2).map(tuple),
    project=st.sampled_from(PROJECTS),
    priority=st.sampled_from((None, "H", "M", "L")),
    due=_date_phrase(),
    wait=_date_phrase(),
    created=st.sampled_from(INSTANTS[:3]),
    completed=st.none() | st.sampled_from(INSTANTS[:3]),
)

# --- filters: a strategy over the grammar ---------------------------------------------------

DATE_VALUES = (
    "2026-12-01",
    "2026-12-04",
    "today",
    "tom",
    "fri",
    "eow",
    "2026-12-01T12:00Z",
    "2026-12-04T22:59:59.999999Z",
    "now",
)
terms = st.one_of(
    st.sampled_from(TAGS).map(lambda tag: f"+{tag}"),
    st.sampled_from(TAGS).map(lambda tag: f"-{tag}"),
    st.sampled_from(TAGS).map(lambda tag: f"tag:{tag}"),
    st.sampled_from([p for p in PROJECTS if p] + ["hou"]).flatmap(
        lambda p: st.sampled_from([f"project:{p}", f"project.is:{p}", f"-project:{p}"])
    ),
    st.just("project:"),
    st.lists(st.sampled_from("HMLh"), min_size=1, max_size=3).map(lambda p: "pri:" + ",".join(p)),
    st.sampled_from(("pri:none", "pri.above:L", "pri.above:none", "pri.below:H")),
    st.tuples(
        st.sampled_from(("due", "wait", "created", "done")),
        st.sampled_from(("", ".before", ".after", ".by", ".on")),
        st.sampled_from(DATE_VALUES),
    ).map(lambda t: f"{t[0]}{t[1]}:{t[2]}"),
    st.tuples(st.sampled_from(("due", "wait", "done")), st.sampled_from(("none", "any"))).map(
        lambda t: f"{t[0]}:{t[1]}"
    ),
    st.sampled_from(("status:pending", "status:waiting", "status:done", "status:all")),
    st.sampled_from(("status:pending,done", "status:waiting,done", "status:pending,waiting")),
    st.sampled_from(("id:1", "id:2,4", "id:3-6", "id:1,5-9")),
    st.just("is:overdue"),
    st.sampled_from(("milk", "MILK", "été", "ÉTÉ", "strasse", "100%", "a_b", "_", "%", "shop")),
    st.sampled_from(('"buy milk"', '"the gate"', '"milk buy"', '"50%_off"')),
)


def _combined(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, children).map(lambda t: f"{t[0]} {t[1]}"),
        st.tuples(children, children).map(lambda t: f"{t[0]} and {t[1]}"),
        st.tuples(children, children).map(lambda t: f"({t[0]} or {t[1]})"),
        children.map(lambda c: f"not {c}"),
        children.map(lambda c: f"not ({c})"),
    )


filters = st.recursive(terms, _combined, max_leaves=5)
sorts = st.none() | st.lists(
    st.sampled_from(
        ("due", "-due", "wait", "priority", "-priority", "project", "-project", "created")
        + ("-created", "done", "-done", "modified", "id", "-id")
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda key: key.lstrip("-"),
).map(",".join)


# --- the two databases ----------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    engine: Engine
    sessions: Callable[[], Session]


@pytest.fixture(scope="module")
def backends(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[list[Backend]]:
    urls = [
        DatabaseURL.parse(f"sqlite:///{Path(tmp_path_factory.mktemp('query')) / 'todo.db'}"),
        postgres_server.create_database("query"),
    ]
    made = []
    for url in urls:
        db.upgrade(url)
        engine = db.make_engine(url)
        made.append(Backend(url.backend, engine, db.make_session_factory(engine)))
    yield made
    for backend in made:
        backend.engine.dispose()
    postgres_server.drop_database(urls[1])


def _fill(backend: Backend, tasks: list[Spec], others: list[Spec]) -> uuid.UUID:
    """Alice's `tasks` and Bob's `others`, the same on every backend; Alice's id."""
    with backend.engine.begin() as connection:
        connection.execute(text("DELETE FROM tasks"))
        connection.execute(text("DELETE FROM users"))
    with backend.sessions() as session:
        alice = service.create_user(session, name="alice").id
        bob = service.create_user(session, name="bob").id
        for user_id, specs_of_user in ((alice, tasks), (bob, others)):
            if not specs_of_user:
                continue
            service.create_tasks(
                session,
                user_id=user_id,
                tasks=[
                    TaskCreate(
                        title=spec.title,
                        description=spec.description,
                        tags=list(spec.tags),
                        project=spec.project,
                        priority=spec.priority,
                        due=spec.due,
                        wait=spec.wait,
                    )
                    for spec in specs_of_user
                ],
                zone=ZONES[1],
            )
            # Fixed times, the same on both backends (the service stamps the clock's).
            for number, spec in enumerate(specs_of_user, start=1):
                session.exec(
                    update(Task)
                    .where(col(Task.user_id) == user_id, col(Task.number) == number)
                    .values(
                        # Apart by a microsecond: the default order (newest first) is
                        # then the same on both, whose task ids differ.
                        created_at=spec.created + timedelta(microseconds=number),
                        updated_at=spec.created + timedelta(seconds=number),
                        is_completed=spec.completed is not None,
                        completed_at=spec.completed,
                    )
                )
        session.commit()
    return alice


def _answers(
    backend: Backend, user_id: uuid.UUID, filter_text: str, sort: str | None, zone: ZoneInfo
) -> tuple[list[int], list[int], int]:
    """(the backend's rows, the evaluator's rows over the backend's tasks, the count)."""
    parsed = parse_filter(filter_text, now=NOW, zone=zone)
    with backend.sessions() as session:
        everything = service.list_tasks(session, user_id=user_id, status="all")
        found = service.list_tasks(session, user_id=user_id, filter=parsed, sort=sort)
        counted = service.count_tasks(session, user_id=user_id, filter=parsed)
        if sort is None:
            order = sorted(everything, key=lambda t: (t.created_at, t.id), reverse=True)
        else:
            order = parse_sort(sort).sorted(everything)
        expected = [task.number for task in order if parsed.matches(task)]
    return [task.number for task in found], expected, counted


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    tasks=st.lists(specs, max_size=14),
    others=st.lists(specs, max_size=3),
    queries=st.lists(st.tuples(filters, sorts), min_size=1, max_size=6),
    zone=st.sampled_from(ZONES),
)
def test_sqlite_postgresql_and_python_agree(
    backends: list[Backend],
    tasks: list[Spec],
    others: list[Spec],
    queries: list[tuple[str, str | None]],
    zone: ZoneInfo,
) -> None:
    users = [_fill(backend, tasks, others) for backend in backends]
    for filter_text, sort in queries:
        answers = [
            _answers(backend, user_id, filter_text, sort, zone)
            for backend, user_id in zip(backends, users, strict=True)
        ]
        (sqlite_rows, sqlite_expected, sqlite_count), (pg_rows, pg_expected, pg_count) = answers
        context = f"filter {filter_text!r}, sort {sort!r}, zone {zone}"
        assert sqlite_expected == pg_expected, context  # the same data on both
        assert sqlite_rows == sqlite_expected, context
        assert pg_rows == pg_expected, context
        assert sqlite_count == pg_count == len(pg_rows), context


# --- each form on its own, on both backends -----------------------------------------------


@pytest.fixture
def filled(session: Session, alice: object, bob: object) -> tuple[uuid.UUID, uuid.UUID]:
    """Alice's tasks, numbered as their titles say; Bob has a look-alike of each."""
    rows = [
        TaskCreate(title="1 Buy milk", tags=["errand"], project="house", due="2026-12-04"),
        TaskCreate(title="2 Fix the gate", tags=["home"], project="house.garden", priority="H"),
        TaskCreate(title="3 Plan housework", project="housework", priority="L"),
        TaskCreate(title="4 Été", description="Paris", wait="2026-12-12"),
        TaskCreate(title="5 Pay 100% rent", due="2026-11-30T08:00:00+00:00", priority="M"),
    ]
    ids = []
    for user in (alice, bob):
        user_id = user.id  # type: ignore[attr-defined]
        service.create_tasks(session, user_id=user_id, tasks=rows, zone=ZONES[0])
        ids.append(user_id)
    service.complete_tasks(session, user_id=ids[0], refs=["3"])
    return ids[0], ids[1]


def numbers(session: Session, user_id: uuid.UUID, text: str, sort: str | None = None) -> set[int]:
    parsed = parse_filter(text, now=NOW, zone=ZONES[0])
    return {
        t.number for t in service.list_tasks(session, user_id=user_id, filter=parsed, sort=sort)
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {1, 2, 5}),
        ("project:house", {1, 2}),
        ("project.is:house", {1}),
        ("project:house status:all", {1, 2}),
        ("project:housework status:all", {3}),
        ("+errand", {1}),
        ("-errand", {2, 5}),
        ("+errand or +home", {1, 2}),
        ("pri:H,M", {2, 5}),
        ("pri.above:L", {1, 2, 5}),
        ("due.by:2026-12-04", {1, 5}),
        ("due.before:2026-12-04", {5}),
        ("due.on:2026-12-04", {1}),
        ("due:none", {2}),
        ("is:overdue", {5}),
        ("status:waiting", {4}),
        ("status:done", {3}),
        ("id:3-4", {3, 4}),
        ("ÉTÉ status:all", {4}),
        ("paris status:all", {4}),
        ("100%", {5}),
        ("10%", set()),
        ('"the gate"', {2}),
        ("not (project:house or +errand)", {5}),
    ],
)
def test_each_form_finds_what_it_says(
    session: Session, filled: tuple[uuid.UUID, uuid.UUID], text: str, expected: set[int]
) -> None:
    alice, _ = filled
    assert numbers(session, alice, text) == expected


def test_next_keeps_its_order_and_takes_a_filter(
    session: Session, filled: tuple[uuid.UUID, uuid.UUID]
) -> None:
    alice, _ = filled
    parsed = parse_filter("", now=NOW, zone=ZONES[0])
    # Overdue (5) first, then due (1), then no due (2); waiting and done stay out.
    assert [t.number for t in service.next_tasks(session, user_id=alice, filter=parsed)] == [
        5,
        1,
        2,
    ]
    assert [t.number for t in service.next_tasks(session, user_id=alice)] == [5, 1, 2]
    only = parse_filter("project:house", now=NOW, zone=ZONES[0])
    assert [t.number for t in service.next_tasks(session, user_id=alice, filter=only)] == [1, 2]


def test_sort_and_the_default_order(session: Session, filled: tuple[uuid.UUID, uuid.UUID]) -> None:
    alice, _ = filled
    listed = service.list_tasks(session, user_id=alice, filter="status:all", sort="-priority,id")
    assert [t.number for t in listed] == [2, 5, 1, 4, 3]
    listed = service.list_tasks(session, user_id=alice, filter="status:all", sort="due")
    assert [t.number for t in listed] == [5, 1, 2, 3, 4]
    listed = service.list_tasks(session, user_id=alice, filter="status:all", sort="-due")
    assert [t.number for t in listed] == [1, 5, 2, 3, 4]
    assert [t.number for t in service.list_tasks(session, user_id=alice)] == [5, 4, 2, 1]


def test_a_bad_filter_is_a_validation_error_and_an_unknown_user_a_404_first(
    session: Session, filled: tuple[uuid.UUID, uuid.UUID]
) -> None:
    alice, _ = filled
    with pytest.raises(ValidationError) as caught:
        service.list_tasks(session, user_id=alice, filter="projct:x")
    assert caught.value.details["position"] == 0
    with pytest.raises(ValidationError):
        service.count_tasks(session, user_id=alice, filter="(")
    with pytest.raises(ValidationError):
        service.list_tasks(session, user_id=alice, sort="nope")
    for call in (service.list_tasks, service.count_tasks, service.next_tasks):
        with pytest.raises(UserNotFound):
            call(session, user_id=uuid.uuid4(), filter="projct:x")


def test_values_are_bound_never_spliced(
    session: Session, filled: tuple[uuid.UUID, uuid.UUID]
) -> None:
    alice, _ = filled
    assert numbers(session, alice, '"\'; DELETE FROM tasks; --" status:all') == set()
    assert numbers(session, alice, "status:all") == {1, 2, 3, 4, 5}
