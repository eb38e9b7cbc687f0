"""Round trips of import and export, explored by Hypothesis, on SQLite and PostgreSQL.

- NDJSON: `import(export(S)) == S` for tasks made through the service (every field but
  the owner and the per-user number), into another user.
- Taskwarrior and todo.txt: `parse(export(import(x))) == parse(x)`, field by field, for
  generated files.
- For all three: importing the same file twice changes nothing the second time.

Every example works on users of its own, so examples never see each other's tasks.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from tests.test_transfer import UTC_ZONE, counts, export, parsed_by_id, run_import, tasks_of
from todo_cli import service
from todo_cli.models import TaskCreate, User
from todo_cli.service import formats_taskwarrior, formats_todotxt
from todo_cli.service.formats import Incoming
from todo_cli.service.transfer import Format

PROPERTY_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_names = itertools.count()
ZONES = st.sampled_from(
    [
        ZoneInfo("UTC"),
        ZoneInfo("Europe/Paris"),
        ZoneInfo("America/New_York"),
        ZoneInfo("Asia/Kolkata"),
    ]
)
letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", min_size=1, max_size=8)
tag_names = letters
project_names = st.lists(letters, min_size=1, max_size=3).map(".".join)
titles = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


def new_user(session: Session) -> User:
    return service.create_user(session, name=f"prop{next(_names)}")


# --- NDJSON ---------------------------------------------------------------------------------

new_tasks = st.builds(
    TaskCreate,
    title=titles,
    description=st.none() | st.text(max_size=30).filter(lambda text: "\x00" not in text),
    due=st.none() | st.sampled_from(["2026-12-04", "fri", "2027-02-28T10:30Z", "eom"]),
    wait=st.none() | st.sampled_from(["2026-12-01", "2030-01-01T08:00Z"]),
    priority=st.none() | st.sampled_from(["H", "M", "L"]),
    project=st.none() | project_names,
    tags=st.lists(tag_names, max_size=3),
)


@PROPERTY_SETTINGS
@given(
    tasks=st.lists(new_tasks, min_size=1, max_size=6),
    done=st.sets(st.integers(1, 6)),
    notes=st.lists(st.tuples(st.integers(1, 6), letters), max_size=3),
)
def test_ndjson_import_of_an_export_is_the_same_tasks(
    session: Session, tasks: list[TaskCreate], done: set[int], notes: list[tuple[int, str]]
) -> None:
    source, target = new_user(session), new_user(session)
    service.create_tasks(session, user_id=source.id, tasks=tasks)
    refs = [str(number) for number in sorted(done) if number <= len(tasks)]
    if refs:
        service.complete_tasks(session, user_id=source.id, refs=refs)
    for number, text in notes:
        if number <= len(tasks):
            service.add_note(session, user_id=source.id, ref=str(number), text=text)
    exported = export(session, source, "json")
    assert counts(run_import(session, target, exported)) == (len(tasks), 0, 0, 0)
    original, imported = tasks_of(session, source), tasks_of(session, target)
    assert set(original) == set(imported)
    for key, task in original.items():
        assert {**imported[key], "user_id": task["user_id"], "number": task["number"]} == task
    _twice_is_once(session, target, exported, "json")


def _twice_is_once(
    session: Session, user: User, text: str, format: Format, zone: ZoneInfo = UTC_ZONE
) -> None:
    before = tasks_of(session, user)
    changes = len(service.list_changes(session, user_id=user.id, limit=1000))
    report = run_import(session, user, text, format, zone)
    assert (report.added, report.updated, report.change_id) == (0, 0, None)
    assert tasks_of(session, user) == before
    assert len(service.list_changes(session, user_id=user.id, limit=1000)) == changes


# --- Taskwarrior ----------------------------------------------------------------------------


def _compact(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


@st.composite
def taskwarrior_records(draw: st.DrawFn, zone: ZoneInfo) -> dict[str, Any]:
    entry = draw(moments)
    modified = entry + timedelta(seconds=draw(st.integers(0, 10**7)))
    status = draw(st.sampled_from(["pending", "completed", "waiting"]))
    record: dict[str, Any] = {
        "uuid": str(draw(st.uuids())),
        "description": draw(titles),
        "status": status,
        "entry": _compact(entry),
        "modified": _compact(modified),
        "id": draw(st.integers(0, 99)),
        "urgency": draw(st.floats(-10, 30, allow_nan=False)),
    }
    if status == "completed" and draw(st.booleans()):
        record["end"] = _compact(modified)
    due = draw(
        st.none() | moments | st.dates().map(lambda day: datetime(day.year, day.month, day.day))
    )
    if due is not None:
        if due.tzinfo is None:  # a day: local midnight, as `task add due:DAY` stores it
            due = due.replace(tzinfo=zone)
        record["due"] = _compact(due.astimezone(UTC))
    optional: dict[str, Any] = {
        "wait": st.builds(_compact, moments),
        "priority": st.sampled_from(["H", "M", "L"]),
        "project": project_names,
        "tags": st.lists(tag_names, min_size=1, max_size=3, unique=True),
        "annotations": st.lists(
            st.fixed_dictionaries({"entry": st.builds(_compact, moments), "description": titles}),
            min_size=1,
            max_size=2,
        ),
        "estimate": st.integers(0, 100),
        "scheduled": st.builds(_compact, moments),
        "depends": st.lists(st.uuids().map(str), min_size=1, max_size=2),
    }
    for key in draw(st.sets(st.sampled_from(sorted(optional)))):
        record[key] = draw(optional[key])
    return record


@PROPERTY_SETTINGS
@given(data=st.data(), zone=ZONES, array=st.booleans())
def test_taskwarrior_parse_of_export_of_import_is_parse(
    session: Session, data: st.DataObject, zone: ZoneInfo, array: bool
) -> None:
    records = data.draw(
        st.lists(taskwarrior_records(zone), min_size=1, max_size=6, unique_by=lambda r: r["uuid"])
    )
    lines = [json.dumps(record) for record in records]
    text = "[\n" + ",\n".join(lines) + "\n]\n" if array else "\n".join(lines)
    original = list(formats_taskwarrior.parse(text, zone))
    assume(all(isinstance(item, Incoming) for item in original))
    user = new_user(session)
    assert counts(run_import(session, user, text, zone=zone)) == (len(records), 0, 0, 0)
    returned = parsed_by_id(
        list(formats_taskwarrior.parse(export(session, user, "taskwarrior", zone), zone))
    )
    expected = parsed_by_id(original)
    assert set(returned) == set(expected)
    for task_id, item in expected.items():
        assert returned[task_id].values == item.values
    _twice_is_once(session, user, text, "taskwarrior", zone)


# --- todo.txt -------------------------------------------------------------------------------

free_words = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S"), exclude_characters=":"),
    min_size=1,
    max_size=8,
)
days = st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2040, 1, 1).date())


@st.composite
def todo_txt_lines(draw: st.DrawFn) -> str:
    words: list[str] = []
    if draw(st.booleans()):
        words.append("x")
        if draw(st.booleans()):
            words.append(draw(days).isoformat())
    elif draw(st.booleans()):
        words.append(f"({draw(st.sampled_from('ABCDEFZ'))})")
    if draw(st.booleans()):
        words.append(draw(days).isoformat())
    body = [draw(letters), *draw(st.lists(free_words, max_size=4))]
    body += [f"+{name}" for name in draw(st.lists(project_names, max_size=2))]
    body += [f"@{name}" for name in draw(st.lists(tag_names, max_size=2))]
    keys = draw(st.lists(st.sampled_from(["due", "t", "rec", "id", "h", "uuid"]), unique=True))
    for key in keys:
        if key in ("due", "t"):
            body.append(f"{key}:{draw(days).isoformat()}")
        elif key == "uuid":
            body.append(f"uuid:{draw(st.uuids())}")
        else:
            body.append(f"{key}:{draw(letters)}")
    if draw(st.booleans()):
        body.append("https://example.com/a")
    return " ".join(words + draw(st.permutations(body)))


@PROPERTY_SETTINGS
@given(lines=st.lists(todo_txt_lines(), min_size=1, max_size=6), zone=ZONES)
def test_todo_txt_parse_of_export_of_import_is_parse(
    session: Session, lines: list[str], zone: ZoneInfo
) -> None:
    text = "\n".join(lines) + "\n"
    original = list(formats_todotxt.parse(text, zone))
    assume(all(isinstance(item, Incoming) for item in original))
    assume(len({item.id for item in original if isinstance(item, Incoming)}) == len(original))
    user = new_user(session)
    assert counts(run_import(session, user, text, zone=zone)) == (len(original), 0, 0, 0)
    exported = export(session, user, "todotxt", zone)
    returned = parsed_by_id(list(formats_todotxt.parse(exported, zone)))
    expected = parsed_by_id(original)
    assert set(returned) == set(expected)
    for task_id, item in expected.items():
        back = returned[task_id]
        # The export adds what the line did not say (a creation day, a completion day).
        assert {key: back.values[key] for key in item.values} == item.values
        assert {key: back.days[key] for key in item.days} == item.days
    _twice_is_once(session, user, text, "todotxt", zone)
    _twice_is_once(session, user, exported, "todotxt", zone)


def test_generated_ids_are_unique_per_line() -> None:
    zone = ZoneInfo("UTC")
    (first, second) = formats_todotxt.parse("same\nsame\n", zone)
    assert isinstance(first, Incoming) and isinstance(second, Incoming)
    assert first.id != second.id
    (again, _) = formats_todotxt.parse("same\nsame\n", zone)
    assert isinstance(again, Incoming) and again.id == first.id
    assert uuid.UUID(str(first.id)).version == 5
