"""`todo edit REF` on a terminal: the task's fields in `$VISUAL` / `$EDITOR`.

The file is one `key: value` line per field, then a `---` line and the description as
it is, so that a multi-line description edits like any text. Dates are written in the
form `service.dates.canonical` gives, which reads back to exactly the same value. Saving
applies what changed as one change; a file left unchanged, or emptied, changes nothing.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from todo_cli.errors import ValidationError
from todo_cli.service.attributes import ATTRIBUTES

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from todo_cli.models import AnyTask

HEADER = (
    "# Edit the task, save and quit to apply; quit without saving, or empty the file, to\n"
    "# change nothing. Clear a value to remove it. Tags are separated by spaces; the\n"
    "# description follows the --- line.\n"
)
FIELDS = ("title", *(attribute.name for attribute in ATTRIBUTES), "tags")
SEPARATOR = "---"


def form(task: AnyTask, zone: ZoneInfo) -> str:
    """The text the editor opens."""
    from todo_cli.service.dates import When, canonical

    values = {"title": task.title, "tags": " ".join(task.tags)}
    for attribute in ATTRIBUTES:
        value = getattr(task, attribute.name)
        if attribute.is_date:
            day = getattr(task, attribute.day_field) if attribute.day_field else None
            values[attribute.name] = canonical(When(value, day), zone=zone) if value else ""
        else:
            values[attribute.name] = attribute.from_column(value) or ""
    lines = "".join(f"{name}: {values[name]}\n" for name in FIELDS)
    return f"{HEADER}{lines}{SEPARATOR}\n{task.description or ''}"


def read(text: str) -> dict[str, Any] | None:
    """The fields of a saved form, or None for an emptied file."""
    if not text.strip():
        return None
    head, separator, description = text.partition(f"\n{SEPARATOR}\n")
    if not separator:
        raise ValidationError(
            f"The edited task has no {SEPARATOR} line before the description; nothing was changed."
        )
    fields: dict[str, Any] = {}
    for number, line in enumerate(head.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or name not in FIELDS:
            raise ValidationError(
                f"Line {number} of the edited task is not one of {', '.join(FIELDS)}: "
                f"{line[:40]!r}; nothing was changed.",
                details={"line": number},
            )
        fields[name] = value.strip()
    fields["description"] = description or None
    return fields


def changes(task: AnyTask, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the user changed, as `TaskUpdate` fields (only what differs from the form)."""
    updates: dict[str, Any] = {}
    for name in (*FIELDS, "description"):
        old, new = before.get(name), after.get(name)
        if new == old or name not in after:
            continue
        if name == "tags":
            updates["tags"] = str(new or "").split()
        elif name == "title":
            updates["title"] = new
        else:
            updates[name] = new or None
    return updates


def edit_in_editor(text: str) -> str:
    """Open `$VISUAL`, else `$EDITOR`, else vi, on `text`; the saved text."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="todo-edit-") as directory:
        path = Path(directory) / "task.txt"
        path.write_text(text, encoding="utf-8")
        try:
            result = subprocess.run([*shlex.split(editor), str(path)], check=False)
        except OSError as error:
            raise ValidationError(
                f"Cannot start the editor {editor!r} ({error.strerror}); set VISUAL or "
                "EDITOR, or give the changes as words and options."
            ) from None
        if result.returncode != 0:
            raise ValidationError(
                f"The editor {editor!r} exited with status {result.returncode}; nothing was "
                "changed."
            )
        return path.read_text(encoding="utf-8")
