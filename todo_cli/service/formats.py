"""What every import format parses into, the checks they share, and the NDJSON format.

A format is a pair of pure functions: `parse(text, zone)` yields one `Incoming` (a task as
the stored values `tasks.write_task` takes), `Rejected` (a record that breaks a rule) or
`Skipped` (a record that is fine but not imported) per record, and raises a
`ValidationError` only for a file that cannot be read at all; `write(task, zone)` renders
one task. `service.transfer` applies what the parsers yield, in one change.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, TypeVar

from todo_cli.errors import ValidationError
from todo_cli.models import PRIORITIES, TASK_FIELDS, task_to_json
from todo_cli.service.attributes import clean_project
from todo_cli.service.validation import (
    MAX_NUMBER,
    check_text,
    clean_description,
    clean_note,
    clean_tags,
    clean_title,
)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from todo_cli.models import AnyTask

# The task JSON's fields. `user_id`, `number` and `status` are read past: the importing
# user owns the task, numbers are theirs, the status is derived.
_NDJSON_FIELDS = frozenset(f.name for f in TASK_FIELDS)
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass
class Incoming:
    """One task of a file, as stored values; only the fields its format carries.

    `namespace` names the part of `extra` the format owns (`extra[namespace]` is
    replaced, the rest kept); None means `values["extra"]` is the whole of it.
    `updated_at` is when the source last changed the task (None: the format does not
    say, so the file's content wins whenever it differs). `days` holds fields the format
    knows only to the day: an existing task whose value falls on that day (in the
    importer's zone) keeps it.
    """

    line: int
    id: uuid.UUID
    values: dict[str, Any]
    namespace: str | None = None
    updated_at: datetime | None = None
    days: dict[str, date] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    """A record that breaks a rule: nothing is imported unless the caller skips it."""

    line: int
    reason: str


@dataclass(frozen=True)
class Skipped:
    """A valid record that is deliberately not imported (a deleted task)."""

    line: int
    reason: str


Parsed = Incoming | Rejected | Skipped


class RecordError(ValueError):
    """A rule broken by one record; its parser turns it into a `Rejected`."""


# --- shared checks ---------------------------------------------------------------------


def title(value: Any) -> str:
    if not isinstance(value, str):
        raise RecordError("the title is missing or not text")
    return _checked(clean_title, value)


def description(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RecordError("the description is not text")
    return _checked(clean_description, value)


def project(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError("the project is not text")
    return _checked(_clean_project, value)


def _clean_project(text: str) -> str:
    check_text(text, "project")
    return clean_project(text)


def tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise RecordError("the tags are not a list of words")
    return _checked(clean_tags, value)


def note_text(value: Any) -> str:
    if not isinstance(value, str):
        raise RecordError("a note's text is missing or not text")
    return _checked(clean_note, value)


def task_id(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise RecordError("the UUID is missing")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise RecordError(f"{value[:40]!r} is not a UUID") from None


def _checked(clean: Callable[[_T], _R], value: _T) -> _R:
    try:
        return clean(value)
    except ValidationError as error:
        raise RecordError(error.message) from None


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a day starts in `zone` (what a day-precision date stands for)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def day_due(day: date, zone: ZoneInfo) -> dict[str, Any]:
    """A due given as a day, stored as SPEC says: that day's end in the zone, and the day."""
    from todo_cli.service.dates import end_of_day

    try:
        return {"due": end_of_day(day, zone), "due_date": day}
    except ValidationError as error:
        raise RecordError(error.message) from None


# --- NDJSON: the task JSON of `models.task_to_json`, one task a line, lossless ------------


def write_ndjson(task: AnyTask, _zone: ZoneInfo) -> str:
    return json.dumps(task_to_json(task), ensure_ascii=False)


def parse_ndjson(text: str, _zone: ZoneInfo) -> Iterator[Parsed]:
    for line, record in json_lines(text):
        if isinstance(record, Rejected):
            yield record
            continue
        try:
            yield _ndjson_task(line, record)
        except RecordError as error:
            yield Rejected(line, str(error))


def _ndjson_task(line: int, record: dict[str, Any]) -> Incoming:
    unknown = sorted(record.keys() - _NDJSON_FIELDS)
    if unknown:
        raise RecordError(f"unknown field {unknown[0]!r}")
    values: dict[str, Any] = {
        "title": title(record.get("title")),
        "description": description(record.get("description")),
        "is_completed": _boolean(record.get("is_completed", False), "is_completed"),
        "created_at": _instant(record.get("created_at"), "created_at", required=True),
        "due": _instant(record.get("due"), "due"),
        "due_date": _day(record.get("due_date"), "due_date"),
        "wait": _instant(record.get("wait"), "wait"),
        "priority": _priority(record.get("priority")),
        "project": project(record.get("project")),
        "tags": tags(record.get("tags")),
        "completed_at": _instant(record.get("completed_at"), "completed_at"),
        "notes": _notes(record.get("notes")),
        "extra": _extra(record.get("extra")),
    }
    if values["due_date"] is not None and values["due"] is None:
        raise RecordError("due_date is set but due is not")
    if not values["is_completed"]:
        values["completed_at"] = None
    elif values["completed_at"] is None:
        del values["completed_at"]  # done at a time the file does not say: as todo marks it
    version = record.get("version", 1)
    if type(version) is not int or not 1 <= version <= MAX_NUMBER:
        raise RecordError("version must be a whole number from 1")
    values["version"] = version  # kept by a task this import adds; an update moves it on
    updated = _instant(record.get("updated_at"), "updated_at")
    if updated is not None:
        values["updated_at"] = updated
    return Incoming(line, task_id(record.get("id")), values, updated_at=updated)


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise RecordError(f"{name} must be true or false")
    return value


def _instant(value: Any, name: str, *, required: bool = False) -> datetime | None:
    if value is None:
        if required:
            raise RecordError(f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise RecordError(f"{name} is not an ISO 8601 instant")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{name} {value[:40]!r} is not an ISO 8601 instant") from None
    if moment.utcoffset() is None:
        raise RecordError(f"{name} {value[:40]!r} has no UTC offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00: before year 1 once in UTC
        raise RecordError(f"{name} {value[:40]!r} is out of range (years 1 to 9999)") from None


def _day(value: Any, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise RecordError(f"{name} {str(value)[:40]!r} is not a date (YYYY-MM-DD)") from None


def _priority(value: Any) -> int:
    from todo_cli.models import NO_PRIORITY

    if value is None:
        return NO_PRIORITY
    if value not in PRIORITIES:
        raise RecordError(f"{str(value)[:40]!r} is not a priority: use H, M, L or null")
    return PRIORITIES[value]


def _notes(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(note, dict) for note in value):
        raise RecordError("notes must be a list of {id, created_at, text}")
    notes = [
        {
            "id": task_id(note.get("id")),
            "created_at": _instant(note.get("created_at"), "a note's created_at", required=True),
            "text": note_text(note.get("text")),
        }
        for note in value
    ]
    return sorted(notes, key=lambda note: (note["created_at"], note["id"]))


def _extra(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise RecordError("extra must be an object or null")
    return value or None


# --- JSON records, with the line each one starts on ---------------------------------------


def json_lines(text: str) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    """The objects of a JSON array, or of one JSON object a line (blank lines ignored).

    An array is one document: a syntax error anywhere makes the whole file unreadable (a
    `ValidationError`). In JSON lines each line stands alone, so a broken one is a
    `Rejected` record and the others still parse.
    """
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from _json_array(text)
        return
    # Only `\n` ends a line: str.splitlines would also split at U+2028 and others, which
    # JSON strings (and titles) may hold.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            yield number, Rejected(number, f"not valid JSON ({error.msg})")
            continue
        except RecursionError:
            yield number, Rejected(number, "nested too deeply to read")
            continue
        if not isinstance(record, dict):
            yield number, Rejected(number, "not a JSON object")
            continue
        yield number, record


def _json_array(text: str) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    line = 1 + text.count("\n", 0, position)
    expect_item = True
    while True:
        start = position
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        line += text.count("\n", start, position)
        if position >= len(text):
            raise _unreadable(line, "the JSON array is not closed")
        char = text[position]
        if char == "]" and (expect_item is False or _first(text, position)):
            if text[position + 1 :].strip():
                raise _unreadable(line, "there is text after the JSON array")
            return
        if not expect_item:
            if char != ",":
                raise _unreadable(line, "expected a comma between records")
            position += 1
            expect_item = True
            continue
        try:
            record, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise _unreadable(error.lineno, error.msg) from None
        except RecursionError:
            raise _unreadable(line, "nested too deeply to read") from None
        yield line, record if isinstance(record, dict) else Rejected(line, "not a JSON object")
        line += text.count("\n", position, end)
        position = end
        expect_item = False


def _first(text: str, position: int) -> bool:
    """Whether `]` at `position` closes an empty array (only whitespace since `[`)."""
    return not text[text.index("[") + 1 : position].strip()


def _unreadable(line: int, reason: str) -> ValidationError:
    return ValidationError(
        f"line {line}: {reason}; the file is not valid JSON and nothing was imported.",
        details={"line": line, "reason": reason},
    )
