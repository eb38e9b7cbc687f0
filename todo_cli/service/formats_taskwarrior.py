"""Taskwarrior's JSON (what `task export` writes and `task import` reads), both ways.

Mapping (SPEC → Moving in and out): `uuid`→`id`, `description`→`title`,
`entry`/`modified`/`end` → `created_at`/`updated_at`/`completed_at`, `due`, `wait`,
`priority`, `project`, `tags` as they are, `annotations`→`notes`. Everything else but the
numbers Taskwarrior computes (`id`, `urgency`) is kept verbatim in
`extra["taskwarrior"]` (`depends`, `recur`, `scheduled`, UDAs…) and written back on
export. A task's `description` (Taskwarrior has none) travels as the attribute
`todo_description`, which Taskwarrior keeps as an orphan UDA.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from todo_cli.models import NO_PRIORITY, PRIORITIES, priority_letter
from todo_cli.service.formats import (
    Incoming,
    Parsed,
    RecordError,
    Rejected,
    Skipped,
    day_due,
    description,
    json_lines,
    midnight,
    note_text,
    project,
    tags,
    task_id,
    title,
)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from todo_cli.models import AnyTask

NAMESPACE = "taskwarrior"
DESCRIPTION_KEY = "todo_description"
# Computed by Taskwarrior from the rest on every run: nothing to keep.
_COMPUTED = frozenset({"id", "urgency"})
# Mapped to a task's own fields; everything else goes to extra.
_MAPPED = frozenset(
    {
        "uuid",
        "description",
        "status",
        "entry",
        "modified",
        "end",
        "due",
        "wait",
        "priority",
        "project",
        "tags",
        "annotations",
        DESCRIPTION_KEY,
    }
)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
# The ends of a day as Taskwarrior users write a day's due (`due:fri`, `due:eod`).
_DAY_TIMES = (time(0, 0, 0), time(23, 59, 59))
# Annotations have no id of their own: this namespace makes one from the task and the
# annotation, the same on every import of it.
_NOTE_NAMESPACE = uuid.UUID("9a4e2c0e-5d0b-4c3c-9f7e-3b1f4c8a7d21")


def looks_like(record: dict[str, Any]) -> bool:
    """Whether a JSON object is a Taskwarrior task (for detecting the format)."""
    return "uuid" in record and "description" in record


def parse(text: str, zone: ZoneInfo) -> Iterator[Parsed]:
    for line, record in json_lines(text):
        if isinstance(record, Rejected):
            yield record
            continue
        try:
            yield _task(line, record, zone)
        except RecordError as error:
            yield Rejected(line, str(error))


def _task(line: int, record: dict[str, Any], zone: ZoneInfo) -> Parsed:
    status = record.get("status", "pending")
    if status == "deleted":
        return Skipped(line, "deleted in Taskwarrior")
    if status == "recurring":
        return Skipped(line, "a recurring task's template (recurrence is not supported yet)")
    if status not in ("pending", "waiting", "completed"):
        raise RecordError(f"unknown status {str(status)[:40]!r}")
    identity = task_id(record.get("uuid"))
    created = _instant(record.get("entry"), "entry", zone) or _instant(
        record.get("modified"), "modified", zone
    )
    if created is None:
        raise RecordError("entry (when the task was created) is missing")
    modified = _instant(record.get("modified"), "modified", zone)
    completed = status == "completed"
    extra = {
        key: value for key, value in record.items() if key not in _MAPPED and key not in _COMPUTED
    }
    priority = record.get("priority")
    if priority is not None and priority not in PRIORITIES:
        # A priority UDA with values of its own (Taskwarrior allows any): kept as it is.
        extra["priority"] = priority
        priority = None
    values: dict[str, Any] = {
        "title": title(record.get("description")),
        "is_completed": completed,
        "created_at": created,
        "completed_at": (
            (_instant(record.get("end"), "end", zone) or modified or created) if completed else None
        ),
        "wait": _instant(record.get("wait"), "wait", zone),
        "priority": PRIORITIES[priority] if priority is not None else NO_PRIORITY,
        "project": project(record.get("project")),
        "tags": tags(record.get("tags")),
        "notes": _notes(identity, record.get("annotations"), zone),
        "extra": extra or None,
    }
    values.update(_due(record.get("due"), zone))
    if DESCRIPTION_KEY in record:
        values["description"] = description(record[DESCRIPTION_KEY])
    if modified is not None:
        values["updated_at"] = modified
    return Incoming(line, identity, values, namespace=NAMESPACE, updated_at=modified)


def _due(value: Any, zone: ZoneInfo) -> dict[str, Any]:
    """A due at the start or the end of a local day is that day (SPEC), else an instant."""
    due = _instant(value, "due", zone)
    if due is None:
        return {"due": None, "due_date": None}
    try:
        wall = due.astimezone(zone)
        if wall.time() in _DAY_TIMES:
            return day_due(wall.date(), zone)
    except OverflowError:  # the last day, read in a zone ahead of UTC
        raise RecordError(f"due {value[:40]!r} is out of range in {zone.key}") from None
    return {"due": due, "due_date": None}


def _notes(identity: uuid.UUID, value: Any, zone: ZoneInfo) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise RecordError("annotations must be a list of {entry, description}")
    notes = []
    for item in value:
        entry = _instant(item.get("entry"), "an annotation's entry", zone)
        if entry is None:
            raise RecordError("an annotation has no entry")
        text = note_text(item.get("description"))
        key = f"{identity}\x00{_compact(entry)}\x00{text}"
        notes.append({"id": uuid.uuid5(_NOTE_NAMESPACE, key), "created_at": entry, "text": text})
    return sorted(notes, key=lambda note: (note["created_at"], note["id"]))


def _instant(value: Any, name: str, zone: ZoneInfo) -> datetime | None:
    """`20261204T100000Z` (what `task export` writes) or ISO 8601 (a naive one is local)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{name} is not a date")
    match = _COMPACT.fullmatch(value)
    try:
        if match is not None:
            year, month, day, hour, minute, second = map(int, match.groups())
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(
            f"{name} {value[:40]!r} is not a date (YYYYMMDDTHHMMSSZ or ISO 8601)"
        ) from None
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise RecordError(f"{name} {value[:40]!r} is out of range (years 1 to 9999)") from None


def _compact(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def write(task: AnyTask, zone: ZoneInfo) -> str:
    """One task as `task export` writes one (a line of its array)."""
    record: dict[str, Any] = dict((task.extra or {}).get(NAMESPACE) or {})
    record.update(
        {
            "uuid": str(task.id),
            "description": task.title,
            "status": "completed" if task.is_completed else "pending",
            "entry": _compact(task.created_at),
            "modified": _compact(task.updated_at),
        }
    )
    if task.is_completed and task.completed_at is not None:
        record["end"] = _compact(task.completed_at)
    if task.due_date is not None:
        # A day, as `task add due:2026-12-04` stores one: the start of that day.
        record["due"] = _compact(midnight(task.due_date, zone))
    elif task.due is not None:
        record["due"] = _compact(task.due)
    if task.wait is not None:
        record["wait"] = _compact(task.wait)
    letter = priority_letter(task.priority)
    if letter is not None:
        record["priority"] = letter
    if task.project is not None:
        record["project"] = task.project
    if task.tags:
        record["tags"] = task.tags
    if task.note_rows:
        record["annotations"] = [
            {"entry": _compact(note.created_at), "description": note.text}
            for note in task.note_rows
        ]
    if task.description is not None:
        record[DESCRIPTION_KEY] = task.description
    return json.dumps(record, ensure_ascii=False)
