"""The todo.txt format (github.com/todotxt/todo.txt), both ways.

A line: `x DONE CREATED` when completed, else `(A) CREATED`, then the text, whose words
`+project` and `@context` and `key:value` mean something. Mapping (SPEC): `(A)` H, `(B)` M,
`(C)`–`(Z)` L, a letter after C kept in `extra["todotxt"]["priority"]`; `@context` a tag; the
first `+project` the project, the others tags; `due:` (a day), `t:` (the threshold, a
wait until that day starts); `uuid:` the task's id; every other `key:value` kept in
`extra["todotxt"]` and written back. A word that is a URL (`scheme://…`), or whose key
does not start with a letter (`10:30`), is text. A line without `uuid:` is identified by
a UUIDv5 of its text and line number, so the same file imports as the same tasks.

Dates are days: a creation, completion, due or threshold day stands for that day in the
importer's zone, and an existing task whose instant falls on that day keeps its instant.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from todo_cli.models import NO_PRIORITY, priority_letter
from todo_cli.service.attributes import is_project, is_tag
from todo_cli.service.formats import (
    Incoming,
    Parsed,
    RecordError,
    Rejected,
    day_due,
    local_day,
    midnight,
    tags,
    task_id,
    title,
)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from todo_cli.models import AnyTask

NAMESPACE = "todotxt"
PRIORITY_KEY = "priority"
_LINE_NAMESPACE = uuid.UUID("5f0c8d7e-0b7a-4f53-8a51-0c6f3c1b2e94")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PRIORITY = re.compile(r"\(([A-Z])\)")
_KEY_VALUE = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*):([^:\s]+)")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_LETTERS = {"H": "A", "M": "B", "L": "C"}


def priority_of(letter: str) -> int:
    from todo_cli.models import PRIORITIES

    return PRIORITIES["H" if letter == "A" else "M" if letter == "B" else "L"]


def parse(text: str, zone: ZoneInfo) -> Iterator[Parsed]:
    # Only `\n` (or `\r\n`) ends a line: a title may hold U+2028, where str.splitlines
    # would also split.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t\r")
        if not line:
            continue
        try:
            yield _task(number, line, zone)
        except RecordError as error:
            yield Rejected(number, str(error))


def _task(number: int, line: str, zone: ZoneInfo) -> Incoming:
    words = line.split(" ")
    words = [word for word in words if word]
    values: dict[str, Any] = {"is_completed": False, "completed_at": None}
    days: dict[str, date] = {}
    letter: str | None = None
    if words[0] == "x":
        words.pop(0)
        values["is_completed"] = True
        if words and _DATE.fullmatch(words[0]):
            days["completed_at"] = _day(words.pop(0), "completion")
    elif (match := _PRIORITY.fullmatch(words[0])) is not None:
        words.pop(0)
        letter = match.group(1)
    if words and _DATE.fullmatch(words[0]):
        days["created_at"] = _day(words.pop(0), "creation")
    text: list[str] = []
    found_tags: list[str] = []
    extra: dict[str, str] = {}
    seen: set[str] = set()
    identity: uuid.UUID | None = None
    project: str | None = None
    for word in words:
        if word.startswith("@") and is_tag(word[1:]):
            found_tags.append(word[1:])
        elif word.startswith("+") and project is None and _is_project(word[1:]):
            project = word[1:]
        elif word.startswith("+") and is_tag(word[1:]):
            found_tags.append(word[1:])
        elif (pair := _KEY_VALUE.fullmatch(word)) is not None and not _URL.fullmatch(word):
            key, value = pair.groups()
            if key in seen:
                raise RecordError(f"{key}: is given twice")
            seen.add(key)
            if key == "uuid":
                identity = task_id(value)
            elif key == "due":
                days["due"] = _day(value, "due")
            elif key == "t":
                days["wait"] = _day(value, "threshold (t:)")
            elif key == "pri" and re.fullmatch("[A-Z]", value) and letter is None:
                letter = value
            else:
                extra[key] = value
        else:
            text.append(word)
    values["title"] = title(" ".join(text))
    values["project"] = project
    values["tags"] = tags(found_tags)
    values["priority"] = priority_of(letter) if letter is not None else NO_PRIORITY
    if letter is not None and letter not in _LETTERS.values():
        # D–Z all mean L: the letter is kept so that the export writes it back. A, B and
        # C are what H, M and L are written as anyway.
        extra[PRIORITY_KEY] = letter
    values["extra"] = extra or None
    if "due" in days:
        values.update(day_due(days["due"], zone))
    else:
        values.update(due=None, due_date=None)
    values["wait"] = midnight(days["wait"], zone) if "wait" in days else None
    if "created_at" in days:
        values["created_at"] = midnight(days["created_at"], zone)
    if values["is_completed"] and "completed_at" in days:
        values["completed_at"] = midnight(days["completed_at"], zone)
    elif values["is_completed"]:
        del values["completed_at"]  # done on a day the file does not say: the task's own
    if identity is None:
        identity = uuid.uuid5(_LINE_NAMESPACE, f"{number}\x00{line}")
    return Incoming(number, identity, values, namespace=NAMESPACE, days=days)


def _is_project(text: str) -> bool:
    """A project, with a letter in it: `+44` (a phone number) stays text, as it does on
    the command line."""
    return is_project(text) and any(char.isalpha() for char in text)


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{text[:40]!r} is not a {name} date (YYYY-MM-DD)") from None


def write(task: AnyTask, zone: ZoneInfo) -> str:
    """One task as a todo.txt line, with `uuid:` so that an edited file re-imports as
    updates of the same tasks."""
    own: dict[str, str] = dict((task.extra or {}).get(NAMESPACE) or {})
    letter = own.pop(PRIORITY_KEY, None)
    if letter is None or priority_of(letter) != task.priority:
        stored = priority_letter(task.priority)
        letter = _LETTERS[stored] if stored is not None else None
    words: list[str] = []
    if task.is_completed:
        words.append("x")
        words.append(local_day(task.completed_at or task.updated_at, zone).isoformat())
    elif letter is not None:
        words.append(f"({letter})")
    # Always written: it keeps a title that starts with `x ` or `(A)` from reading as one.
    words.append(local_day(task.created_at, zone).isoformat())
    words.append(task.title)
    if task.project is not None:
        words.append(f"+{task.project}")
    words.extend(f"@{tag}" for tag in task.tags)
    if task.due_date is not None:
        words.append(f"due:{task.due_date.isoformat()}")
    elif task.due is not None:
        words.append(f"due:{local_day(task.due, zone).isoformat()}")
    if task.wait is not None:
        words.append(f"t:{local_day(task.wait, zone).isoformat()}")
    if task.is_completed and letter is not None:
        words.append(f"pri:{letter}")
    words.extend(f"{key}:{value}" for key, value in own.items())
    words.append(f"uuid:{task.id}")
    return " ".join(words)
