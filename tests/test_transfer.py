"""Import and export (SPEC → Moving in and out) through the service, on SQLite and
PostgreSQL: real Taskwarrior files made by the real `task` program, a todo.txt file in the
style of the format's own examples, identity, idempotency, isolation, all-or-nothing, undo.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from tests.transfer_tools import Taskwarrior
from todo_cli import service
from todo_cli.errors import ValidationError
from todo_cli.models import TaskCreate, TaskUpdate, User, task_to_json
from todo_cli.service import formats_taskwarrior, formats_todotxt
from todo_cli.service.dates import end_of_day
from todo_cli.service.formats import Incoming
from todo_cli.service.transfer import Format, ImportReport

PARIS = ZoneInfo("Europe/Paris")
UTC_ZONE = ZoneInfo("UTC")


def tasks_of(session: Session, user: User) -> dict[str, dict[str, Any]]:
    session.expire_all()
    return {
        str(task.id): task_to_json(task)
        for task in service.iter_tasks(session, user_id=user.id, status="all")
    }


def run_import(
    session: Session,
    user: User,
    text: str,
    format: Format | None = None,
    zone: ZoneInfo = UTC_ZONE,
    **options: bool,
) -> ImportReport:
    return service.import_tasks(
        session, user_id=user.id, text=text, format=format, zone=zone, **options
    )


def export(session: Session, user: User, format: Format, zone: ZoneInfo = UTC_ZONE) -> str:
    session.expire_all()
    return "".join(service.export_tasks(session, user_id=user.id, format=format, zone=zone))


def counts(report: ImportReport) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.unchanged, len(report.skipped)


def compact(moment: str) -> str:
    """A Taskwarrior date as the task JSON spells it."""
    parsed = datetime.strptime(moment, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return parsed.isoformat(timespec="microseconds").replace("+00:00", "Z")


def parsed_by_id(parsed: list[Any]) -> dict[uuid.UUID, Incoming]:
    return {item.id: item for item in parsed if isinstance(item, Incoming)}


# --- Taskwarrior, with the real program ----------------------------------------------------


@pytest.fixture
def taskwarrior_file(tmp_path: Path) -> tuple[Taskwarrior, dict[str, str], str]:
    """A Taskwarrior 2.6 database in Paris time made with `task` itself, and its export."""
    tw = Taskwarrior(tmp_path / "tw", zone="Europe/Paris")
    ids = {
        "milk": tw.add(
            "Buy milk", "due:2026-12-04", "priority:H", "project:house.kitchen", "+errand", "+food"
        ),
        "mom": tw.add(
            "Call mom", "due:2026-12-05T14:30", "wait:2026-12-01", "priority:L", "estimate:3"
        ),
        "taxes": tw.add("File taxes", "project:admin", "priority:M"),
        "gone": tw.add("Gone soon"),
        "rent": tw.add("Pay rent", "recur:monthly", "due:2026-12-31"),
        "eod": tw.add("Due at the end of a day", "due:2026-12-06T23:59:59", "scheduled:2026-12-02"),
    }
    ids["sub"] = tw.add("Pour the milk", f"depends:{ids['milk']}")
    tw.run(ids["milk"], "annotate", "oat milk if they have it")
    tw.run(ids["taxes"], "done")
    tw.run(ids["gone"], "delete")
    return tw, ids, tw.export()


def test_a_real_taskwarrior_export_is_imported_field_by_field(
    session: Session, alice: User, taskwarrior_file: tuple[Taskwarrior, dict[str, str], str]
) -> None:
    _, ids, text = taskwarrior_file
    records = {record["uuid"]: record for record in json.loads(text)}
    report = run_import(session, alice, text, zone=PARIS)
    children = [r for r in records.values() if r.get("parent") == ids["rent"]]
    assert report.format == "taskwarrior"
    assert counts(report) == (5 + len(children), 0, 0, 2)
    assert sorted(record.reason for record in report.skipped) == [
        "a recurring task's template (recurrence is not supported yet)",
        "deleted in Taskwarrior",
    ]
    tasks = tasks_of(session, alice)
    assert ids["gone"] not in tasks and ids["rent"] not in tasks

    milk, source = tasks[ids["milk"]], records[ids["milk"]]
    assert milk["title"] == "Buy milk"
    assert milk["created_at"] == compact(source["entry"])
    assert milk["updated_at"] == compact(source["modified"])
    # `due:2026-12-04` is local midnight in Taskwarrior: a day here, ending in Paris.
    assert source["due"] == "20261203T230000Z"
    assert milk["due_date"] == "2026-12-04"
    assert milk["due"] == "2026-12-04T22:59:59.999999Z"
    assert (milk["priority"], milk["project"], milk["tags"]) == (
        "H",
        "house.kitchen",
        ["errand", "food"],
    )
    assert [note["text"] for note in milk["notes"]] == ["oat milk if they have it"]
    assert milk["notes"][0]["created_at"] == compact(source["annotations"][0]["entry"])
    assert (milk["is_completed"], milk["status"], milk["extra"]) == (False, "pending", None)

    mom = tasks[ids["mom"]]
    assert (mom["due"], mom["due_date"]) == ("2026-12-05T13:30:00.000000Z", None)
    assert mom["wait"] == "2026-11-30T23:00:00.000000Z"
    assert mom["priority"] == "L"
    assert mom["extra"] == {"taskwarrior": {"estimate": 3}}  # a UDA, verbatim

    taxes, source = tasks[ids["taxes"]], records[ids["taxes"]]
    assert (taxes["is_completed"], taxes["status"], taxes["priority"]) == (True, "done", "M")
    assert taxes["completed_at"] == compact(source["end"])

    eod = tasks[ids["eod"]]
    assert eod["due_date"] == "2026-12-06"  # 23:59:59 local is a day too
    assert eod["extra"] == {"taskwarrior": {"scheduled": records[ids["eod"]]["scheduled"]}}
    assert tasks[ids["sub"]]["extra"] == {"taskwarrior": {"depends": [ids["milk"]]}}
    for child in children:
        kept = tasks[child["uuid"]]["extra"]["taskwarrior"]
        assert (kept["parent"], kept["recur"]) == (ids["rent"], "monthly")


def test_json_lines_from_task_export_import_as_the_array_does(
    session: Session,
    alice: User,
    bob: User,
    taskwarrior_file: tuple[Taskwarrior, dict[str, str], str],
) -> None:
    tw, _, text = taskwarrior_file
    lines = tw.export(array=False)
    assert not lines.lstrip().startswith("[")
    assert counts(run_import(session, alice, text, zone=PARIS)) == counts(
        run_import(session, bob, lines, zone=PARIS)
    )

    def content(user: User) -> dict[str, dict[str, Any]]:
        return {
            key: {k: v for k, v in task.items() if k not in ("user_id", "number")}
            for key, task in tasks_of(session, user).items()
        }

    assert content(alice) == content(bob)


def test_our_taskwarrior_export_goes_through_the_real_task_import_unchanged(
    session: Session,
    alice: User,
    tmp_path: Path,
    taskwarrior_file: tuple[Taskwarrior, dict[str, str], str],
) -> None:
    """parse(export(import(x))) == parse(x), with Taskwarrior itself reading our export."""
    _, ids, text = taskwarrior_file
    run_import(session, alice, text, zone=PARIS)
    service.update_task(
        session, user_id=alice.id, ref=ids["mom"], changes=TaskUpdate(description="long text")
    )
    ours = export(session, alice, "taskwarrior", PARIS)
    assert ours.startswith("[\n") and ours.endswith("\n]\n")
    path = tmp_path / "ours.json"
    path.write_text(ours)
    again = Taskwarrior(tmp_path / "again", zone="Europe/Paris")
    again.import_file(path)
    back = again.export()

    original = parsed_by_id(list(formats_taskwarrior.parse(text, PARIS)))
    returned = parsed_by_id(list(formats_taskwarrior.parse(back, PARIS)))
    assert set(returned) == set(original)
    for task_id, item in original.items():
        values = returned[task_id].values
        if str(task_id) == ids["mom"]:
            # The description travels as an attribute Taskwarrior keeps.
            assert values.pop("description") == "long text"
            values.pop("updated_at"), item.values.pop("updated_at")
        assert values == item.values, task_id


# --- todo.txt -------------------------------------------------------------------------------

# In the style of the examples of github.com/todotxt/todo.txt, plus the keys SPEC maps.
TODO_TXT = """\
(A) Thank Mom for the meatballs @phone
(B) Schedule Goodwill pickup +GarageSale @phone
Post signs around the neighborhood +GarageSale
@GroceryStore Eskimo pies
x 2011-03-03 Call Mom
(A) 2011-03-02 Call Mom +Family +PeaceLoveAndHappiness @iphone @phone
x 2011-03-02 2011-03-01 Review Tim's pull request +TodoTxtTouch @github

(D) 2026-11-20 Renew passport due:2026-12-15 t:2026-12-01 rec:1y https://example.com/passport
Meet at 10:30 about the +44 number re:budget
"""


def test_a_todo_txt_file_is_imported_field_by_field(session: Session, alice: User) -> None:
    report = run_import(session, alice, TODO_TXT, zone=PARIS)
    assert (report.format, counts(report)) == ("todotxt", (9, 0, 0, 0))
    tasks = sorted(tasks_of(session, alice).values(), key=lambda task: task["number"])
    by_title = {task["title"]: task for task in tasks}
    assert len(by_title) == 8  # two lines are "Call Mom"

    thank = by_title["Thank Mom for the meatballs"]
    assert (thank["priority"], thank["tags"], thank["project"]) == ("H", ["phone"], None)
    assert thank["extra"] is None  # A is how H is written anyway; D–Z are kept
    goodwill = by_title["Schedule Goodwill pickup"]
    assert (goodwill["priority"], goodwill["project"], goodwill["tags"]) == (
        "M",
        "GarageSale",
        ["phone"],
    )
    assert by_title["Eskimo pies"]["tags"] == ["GroceryStore"]
    assert by_title["Post signs around the neighborhood"]["priority"] is None

    calls = [task for task in tasks if task["title"] == "Call Mom"]
    done, pending = sorted(calls, key=lambda task: task["is_completed"], reverse=True)
    assert done["is_completed"] and done["completed_at"] == "2011-03-02T23:00:00.000000Z"
    # The first +project is the project, the others tags; @contexts are tags.
    assert (pending["project"], pending["tags"]) == (
        "Family",
        ["PeaceLoveAndHappiness", "iphone", "phone"],
    )
    assert pending["created_at"] == "2011-03-01T23:00:00.000000Z"  # 2011-03-02 in Paris
    review = by_title["Review Tim's pull request"]
    assert review["completed_at"] == "2011-03-01T23:00:00.000000Z"
    assert review["created_at"] == "2011-02-28T23:00:00.000000Z"

    passport = by_title["Renew passport https://example.com/passport"]  # a URL is text
    assert passport["priority"] == "L"
    assert passport["due_date"] == "2026-12-15"
    assert passport["due"] == "2026-12-15T22:59:59.999999Z"
    assert passport["wait"] == "2026-11-30T23:00:00.000000Z"  # the threshold day's start
    assert passport["extra"] == {"todotxt": {"rec": "1y", "priority": "D"}}
    meet = by_title["Meet at 10:30 about the +44 number"]  # `10:30`, `+44` are text
    assert meet["extra"] == {"todotxt": {"re": "budget"}}


def test_todo_txt_round_trips_through_its_export(session: Session, alice: User) -> None:
    """parse(export(import(x))) == parse(x), field by field, and the file reimports as no
    change; an edited line of the export updates its task."""
    run_import(session, alice, TODO_TXT, zone=PARIS)
    exported = export(session, alice, "todotxt", PARIS)
    assert all(" uuid:" in line for line in exported.splitlines())
    original = parsed_by_id(list(formats_todotxt.parse(TODO_TXT, PARIS)))
    returned = parsed_by_id(list(formats_todotxt.parse(exported, PARIS)))
    assert set(returned) == set(original)
    for task_id, item in original.items():
        values = returned[task_id].values
        # The export adds a creation day to lines that had none (the import's day).
        given = {key: values[key] for key in item.values}
        assert given == item.values
        assert {k: v for k, v in returned[task_id].days.items() if k in item.days} == item.days

    before = tasks_of(session, alice)
    assert counts(run_import(session, alice, exported, zone=PARIS)) == (0, 0, 9, 0)
    assert counts(run_import(session, alice, TODO_TXT, zone=PARIS)) == (0, 0, 9, 0)
    assert tasks_of(session, alice) == before

    edited = exported.replace("Eskimo pies", "Eskimo pies and cones")
    assert counts(run_import(session, alice, edited, zone=PARIS)) == (0, 1, 8, 0)
    titles = {task["title"] for task in tasks_of(session, alice).values()}
    assert "Eskimo pies and cones" in titles and "Eskimo pies" not in titles


def test_a_task_made_here_exports_to_todo_txt_and_back_as_the_same_task(
    session: Session, alice: User
) -> None:
    service.create_task(
        session,
        user_id=alice.id,
        task=TaskCreate(
            title="x marks (A) spot", due="2026-12-04T10:00Z", wait="2026-12-02T08:00Z"
        ),
    )
    service.complete_tasks(session, user_id=alice.id, refs=["1"])
    service.create_tasks(
        session,
        user_id=alice.id,
        tasks=[
            TaskCreate(title=f"p{letter}", priority=letter, project="a.b", tags=["t"], due="fri")
            for letter in "HML"
        ],
    )
    before = tasks_of(session, alice)
    exported = export(session, alice, "todotxt")
    assert exported.splitlines()[-1].startswith("x 20")  # completion, creation, title
    assert counts(run_import(session, alice, exported)) == (0, 0, 4, 0)
    assert tasks_of(session, alice) == before  # times within the file's days are kept


# --- NDJSON ---------------------------------------------------------------------------------


def test_ndjson_is_lossless_into_another_user_and_the_uuids_stay_apart(
    session: Session, alice: User, bob: User
) -> None:
    service.create_tasks(
        session,
        user_id=alice.id,
        tasks=[
            TaskCreate(
                title="a", description="d\nmore", due="2026-12-04", priority="H", tags=["x"]
            ),
            TaskCreate(title="b", due="2026-12-05T10:00Z", wait="2026-12-01", project="p.q"),
        ],
    )
    service.add_note(session, user_id=alice.id, ref="1", text="a note")
    service.complete_tasks(session, user_id=alice.id, refs=["2"])
    exported = export(session, alice, "json")
    # Bob imports Alice's file: the same UUIDs, tasks of his own; hers are untouched.
    assert counts(run_import(session, bob, exported)) == (2, 0, 0, 0)
    mine, his = tasks_of(session, alice), tasks_of(session, bob)
    assert set(mine) == set(his)
    for key, task in mine.items():
        assert {**his[key], "user_id": task["user_id"], "number": task["number"]} == task
    changed = service.update_task(
        session, user_id=bob.id, ref=next(iter(his)), changes=TaskUpdate(title="his now")
    )
    assert changed.user_id == bob.id
    assert tasks_of(session, alice) == mine
    # Alice's export names only her tasks; importing hers again changes nothing of hers.
    assert counts(run_import(session, alice, exported)) == (0, 0, 2, 0)
    assert counts(run_import(session, bob, exported)) == (0, 0, 2, 0)  # his is newer


def test_a_uuid_of_another_user_is_not_revealed_by_the_report(
    session: Session, alice: User, bob: User
) -> None:
    theirs = service.create_task(session, user_id=bob.id, task=TaskCreate(title="bob's"))
    line = json.dumps({"id": str(theirs.id), "title": "mine", "created_at": "2026-01-01T00:00:00Z"})
    fresh = json.dumps(
        {"id": str(uuid.uuid4()), "title": "mine", "created_at": "2026-01-01T00:00:00Z"}
    )
    assert (
        run_import(session, alice, line, dry_run=True).to_json()
        == run_import(session, alice, fresh, dry_run=True).to_json()
    )
    run_import(session, alice, line)
    assert tasks_of(session, bob)[str(theirs.id)]["title"] == "bob's"
    assert tasks_of(session, alice)[str(theirs.id)]["title"] == "mine"
    service.delete_tasks(session, user_id=alice.id, refs=[str(theirs.id)])
    assert str(theirs.id) in tasks_of(session, bob)


def test_an_older_copy_changes_nothing_and_a_newer_one_updates(
    session: Session, alice: User
) -> None:
    task = service.create_task(session, user_id=alice.id, task=TaskCreate(title="here"))
    image = task_to_json(task)
    older = {**image, "title": "older", "updated_at": "2020-01-01T00:00:00Z"}
    newer = {**image, "title": "newer", "updated_at": "2099-01-01T00:00:00Z"}
    assert counts(run_import(session, alice, json.dumps(older))) == (0, 0, 1, 0)
    assert counts(run_import(session, alice, json.dumps(newer))) == (0, 1, 0, 0)
    after = tasks_of(session, alice)[image["id"]]
    assert (after["title"], after["version"]) == ("newer", 2)
    assert after["updated_at"] == "2099-01-01T00:00:00.000000Z"
    assert counts(run_import(session, alice, json.dumps(newer))) == (0, 0, 1, 0)


# --- all or nothing, one change ----------------------------------------------------------


def test_one_import_is_one_change_and_one_undo_reverts_it(session: Session, alice: User) -> None:
    service.create_tasks(
        session, user_id=alice.id, tasks=[TaskCreate(title="keep"), TaskCreate(title="edit me")]
    )
    before = tasks_of(session, alice)
    edited = [
        {**task, "title": "edited", "updated_at": "2099-01-01T00:00:00Z"}
        for task in before.values()
        if task["title"] == "edit me"
    ]
    new = [
        {"id": str(uuid.uuid4()), "title": f"new {n}", "created_at": "2026-01-01T00:00:00Z"}
        for n in range(3)
    ]
    text = "\n".join(json.dumps(record) for record in [*edited, *new])
    report = run_import(session, alice, text)
    assert counts(report) == (3, 1, 0, 0)
    history = service.list_changes(session, user_id=alice.id)
    assert history[0].change.id == report.change_id and len(history[0].task_ids) == 4
    assert history[0].change.summary.startswith("import ")
    service.undo_change(session, user_id=alice.id)
    after = tasks_of(session, alice)
    assert set(after) == set(before)
    for key, task in before.items():
        assert {k: v for k, v in after[key].items() if k not in ("version", "updated_at")} == {
            k: v for k, v in task.items() if k not in ("version", "updated_at")
        }


def test_a_bad_record_imports_nothing_and_is_named(session: Session, alice: User) -> None:
    lines = [
        json.dumps({"id": str(uuid.uuid4()), "title": "ok", "created_at": "2026-01-01T00:00:00Z"}),
        json.dumps({"id": str(uuid.uuid4()), "title": "  ", "created_at": "2026-01-01T00:00:00Z"}),
        "{not json",
        json.dumps({"id": "nope", "title": "x", "created_at": "2026-01-01T00:00:00Z"}),
    ]
    with pytest.raises(ValidationError) as caught:
        run_import(session, alice, "\n".join(lines), format="json")
    assert caught.value.message == (
        "line 2: title must not be empty (2 more invalid records); nothing was imported "
        "(--skip-invalid imports the rest)."
    )
    assert [r["line"] for r in caught.value.details["records"]] == [2, 3, 4]
    assert tasks_of(session, alice) == {}
    assert service.list_changes(session, user_id=alice.id) == []

    report = run_import(session, alice, "\n".join(lines), format="json", skip_invalid=True)
    assert counts(report) == (1, 0, 0, 3)
    assert [(r.line, r.reason) for r in report.skipped] == [
        (2, "title must not be empty"),
        (3, "not valid JSON (Expecting property name enclosed in double quotes)"),
        (4, "'nope' is not a UUID"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"uuid": "x",', "line 1: Expecting property name enclosed in double quotes"),
        ('[\n{"uuid": "a"}\n{"uuid": "b"}\n]', "line 3: expected a comma between records"),
        ("[\n", "line 2: the JSON array is not closed"),
    ],
)
def test_a_malformed_json_array_is_one_sentence(
    session: Session, alice: User, text: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        run_import(session, alice, text)
    assert caught.value.message.startswith(message)
    assert caught.value.message.endswith("nothing was imported.")


def test_duplicate_uuids_are_refused_even_when_skipping(session: Session, alice: User) -> None:
    task_id = str(uuid.uuid4())
    text = f"first uuid:{task_id}\nsecond\nthird uuid:{task_id}\n"
    for skip in (False, True):
        with pytest.raises(ValidationError, match=f"line 3: task {task_id} is also on line 1"):
            run_import(session, alice, text, skip_invalid=skip)
    assert tasks_of(session, alice) == {}


def test_a_dry_run_reports_and_changes_nothing(session: Session, alice: User) -> None:
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="here"))
    before = tasks_of(session, alice)
    changes = service.list_changes(session, user_id=alice.id)
    text = "(A) new one\n" + export(session, alice, "todotxt").replace("here", "there")
    report = run_import(session, alice, text, dry_run=True)
    assert (counts(report), report.change_id, report.dry_run) == ((1, 1, 0, 0), None, True)
    assert tasks_of(session, alice) == before
    assert [c.change.id for c in service.list_changes(session, user_id=alice.id)] == [
        c.change.id for c in changes
    ]
    assert counts(run_import(session, alice, text)) == (1, 1, 0, 0)  # the same, for real
    assert service.create_task(session, user_id=alice.id, task=TaskCreate(title="z")).number == 3


def test_an_unknown_user_is_not_found_even_for_an_empty_file(session: Session) -> None:
    from todo_cli.errors import UserNotFound

    with pytest.raises(UserNotFound):
        service.import_tasks(session, user_id=uuid.uuid4(), text="")


def test_the_format_is_told_from_the_content() -> None:
    from todo_cli.service.transfer import detect_format

    assert detect_format('[\n{"uuid": "x", "description": "y"}\n]') == "taskwarrior"
    assert detect_format('{"uuid": "x", "description": "y"}\n') == "taskwarrior"
    assert detect_format('{"id": "x", "title": "y"}\n') == "json"
    assert detect_format("(A) call +home\n") == "todotxt"
    assert detect_format("") == "todotxt"


def test_day_only_dues_follow_the_zone_they_are_read_in() -> None:
    record = {"uuid": str(uuid.uuid4()), "description": "d", "entry": "20261201T000000Z"}
    for due, zone, day in [
        ("20261204T050000Z", ZoneInfo("America/New_York"), date(2026, 12, 4)),
        ("20261204T045959Z", ZoneInfo("America/New_York"), date(2026, 12, 3)),
        ("20261204T000000Z", UTC_ZONE, date(2026, 12, 4)),
    ]:
        (item,) = formats_taskwarrior.parse(json.dumps({**record, "due": due}), zone)
        assert isinstance(item, Incoming)
        assert item.values["due_date"] == day
        assert item.values["due"] == end_of_day(day, zone)
    (item,) = formats_taskwarrior.parse(json.dumps({**record, "due": "20261204T120000Z"}), UTC_ZONE)
    assert isinstance(item, Incoming) and item.values["due_date"] is None


def test_imports_of_one_file_at_once_add_each_task_once(
    session_factory: Callable[[], Session], alice: User
) -> None:
    """Concurrent imports queue on the user's row: one adds, the others find the tasks."""
    text = "\n".join(
        json.dumps(
            {"id": str(uuid.uuid4()), "title": f"t{n}", "created_at": "2026-01-01T00:00:00Z"}
        )
        for n in range(300)
    )
    results: list[tuple[int, int] | str] = []

    def run() -> None:
        try:
            with session_factory() as own:
                report = service.import_tasks(own, user_id=alice.id, text=text)
                results.append((report.added, report.unchanged))
        except Exception as error:  # reported below: the test names the failure
            results.append(repr(error)[:300])

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [(0, 300), (0, 300), (300, 0)]


_UUID = "1b2c3d4e-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("text", "format", "zone", "words"),
    [
        (
            json.dumps({"id": _UUID, "title": "x", "created_at": "0001-01-01T00:00:00+01:00"}),
            "json",
            "UTC",
            "out of range",
        ),
        (
            json.dumps(
                [
                    {
                        "uuid": _UUID,
                        "description": "x",
                        "status": "pending",
                        "entry": "20261101T100000Z",
                        "due": "99991231T235959Z",
                    }
                ]
            ),
            "taskwarrior",
            "Pacific/Kiritimati",
            "out of range",
        ),
        ('{"a":' * 100_000, "json", "UTC", "nested too deeply"),
        ("[" * 100_000, "taskwarrior", "UTC", "nested too deeply"),
    ],
)
def test_dates_out_of_range_and_deep_nesting_are_a_bad_record_not_a_crash(
    session: Session, alice: User, text: str, format: Format, zone: str, words: str
) -> None:
    with pytest.raises(ValidationError, match=words):
        service.import_tasks(
            session, user_id=alice.id, text=text, format=format, zone=ZoneInfo(zone)
        )
    assert tasks_of(session, alice) == {}
