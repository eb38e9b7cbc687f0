"""The HTTP shapes: request bodies as the API accepts them, and the error body.

The request bodies are the core input models with two additions that only matter over
HTTP. They are strict (a JSON `1` is not `true`, a number is not a title), and their
OpenAPI schema spells out the service's rules exactly (title pattern and length,
description size, PATCH needing at least one field), so that the document describes
precisely what the server accepts and schemathesis can hold the server to it. The rules
themselves are still enforced once, by the service; a test checks that the patterns
below accept exactly the titles the service accepts.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from todo_cli.models import TITLE_MAX_LENGTH
from todo_cli.service import DESCRIPTION_MAX_LENGTH

# Characters `str.strip()` removes (Python's whitespace) and Unicode's control characters
# (category Cc), spelled out so that every regex dialect (Python, ECMA-262, Rust) reads
# the classes the same way; `\s` differs between them.
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_VISIBLE = f"[^{_SPACE}{_CONTROL}]"
_NON_CONTROL = f"[^{_CONTROL}]"
# Whitespace around the title is allowed (it is stripped); what remains is 1–255
# characters that start and end with a visible character and contain no control character.
TITLE_PATTERN = (
    f"^[{_SPACE}]*"
    f"(?:{_VISIBLE}|{_VISIBLE}{_NON_CONTROL}{{0,{TITLE_MAX_LENGTH - 2}}}{_VISIBLE})"
    f"[{_SPACE}]*$"
)
DESCRIPTION_PATTERN = r"^[^\x00]*$"

# The title and description rules, written once as components of the document
# (`app._document` adds them) and referenced by every body that has the field.
TITLE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": TITLE_PATTERN,
    "description": f"1–{TITLE_MAX_LENGTH} characters once surrounding whitespace is stripped; "
    "no control characters (newlines, tabs, escapes) inside.",
    "examples": ["Buy milk"],
}
DESCRIPTION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": DESCRIPTION_MAX_LENGTH, "pattern": DESCRIPTION_PATTERN},
        {"type": "null"},
    ],
    "description": f"Free text, kept exactly as given: at most {DESCRIPTION_MAX_LENGTH:,} "
    "characters, no NUL.",
}
COMPONENTS = {"TaskTitle": TITLE_SCHEMA, "TaskDescription": DESCRIPTION_SCHEMA}
_TITLE_SCHEMA = {"$ref": "#/components/schemas/TaskTitle"}
_DESCRIPTION_SCHEMA = {"$ref": "#/components/schemas/TaskDescription"}
_COMPLETED_SCHEMA: dict[str, Any] = {"type": "boolean"}


def _document(properties: dict[str, dict[str, Any]], **extra: Any) -> Any:
    """A `json_schema_extra` hook that replaces the generated property schemas."""

    def hook(schema: dict[str, Any]) -> None:
        for name, replacement in properties.items():
            schema["properties"][name] = {
                "title": schema["properties"][name].get("title", name),
                **replacement,
            }
        schema.update(extra)

    return hook


_STRICT = ConfigDict(extra="forbid", strict=True)


# The bodies take the fields whose rules the document can state exactly (title,
# description, completion), so that schemathesis can hold the server to them. The
# attributes of release 2 (due, wait, priority, project, tags) are in every response
# and are set from the CLI; taking them over HTTP needs their rules written out as
# schemas first (a date phrase has no regular expression), and is not done yet.


class _TaskFields(BaseModel):
    title: str
    description: str | None = None


class TaskCreateBody(_TaskFields):
    """POST body: a new task."""

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra=_document(
            {"title": _TITLE_SCHEMA, "description": _DESCRIPTION_SCHEMA},
        ),
    )


class TaskReplaceBody(_TaskFields):
    """PUT body: the whole task; omitted fields go back to their defaults."""

    is_completed: bool = False

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra=_document(
            {
                "title": _TITLE_SCHEMA,
                "description": _DESCRIPTION_SCHEMA,
                "is_completed": _COMPLETED_SCHEMA,
            },
        ),
    )


class TaskUpdateBody(BaseModel):
    """PATCH body: only the fields given change; at least one is required.

    `title` and `is_completed` may be left out but not set to null; `description: null`
    removes the description.
    """

    title: str | None = None
    description: str | None = None
    is_completed: bool | None = None

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra=_document(
            {
                "title": _TITLE_SCHEMA,
                "description": _DESCRIPTION_SCHEMA,
                "is_completed": _COMPLETED_SCHEMA,
            },
            minProperties=1,
        ),
    )


class ChangePublic(BaseModel):
    """One change of the user's history (documents the shape; `models.change_to_json`
    writes it, as for `todo history --json`)."""

    id: int = Field(description="Per user: 1, 2, 3 … in the order the changes were made.")
    at: datetime
    origin: str = Field(description="Where it came from: cli, api or import.")
    kind: str = Field(description="change, undo (reverted a change) or redo (reverted an undo).")
    summary: str = Field(examples=["done 3 4"])
    undoes: int | None = Field(description="The change this undo or redo reverted.")
    undone_by: int | None = Field(description="The change that reverted this one, if any.")
    task_ids: list[uuid.UUID] = Field(description="The tasks it touched.")


class ErrorInfo(BaseModel):
    code: str = Field(
        description="What went wrong, one code per status; the document lists exactly the "
        "codes this server returns.",
        examples=["VALIDATION_ERROR"],
    )
    message: str = Field(
        description="One sentence for a person.", examples=["title must not be empty"]
    )
    details: dict[str, Any] = Field(description="Machine-readable specifics; may be empty.")


class ErrorBody(BaseModel):
    """Every error response, without exception, has this body."""

    error: ErrorInfo
