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

import re
import sys
import uuid
from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from todo_cli.models import PROJECT_MAX_LENGTH, TAG_MAX_LENGTH, TITLE_MAX_LENGTH
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
_COMPLETED_SCHEMA: dict[str, Any] = {"type": "boolean"}

# --- attributes ----------------------------------------------------------------------------
#
# Over HTTP a date is ISO only: a day (`2026-12-04`, the end of that day in the zone of
# `?tz=` or the user's) or an RFC 3339 date-time with its offset. Phrases (`fri`, `eom`)
# are for people at a terminal; a program has a clock. The first and last day that
# Python can represent are refused, because a time on them with an offset may fall
# outside the range once in UTC, and the document must say exactly what is accepted.
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_HTTP_DATE = re.compile(
    rf"{_DAY}(?:[Tt][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(?:\.[0-9]{{1,6}})?(?:[Zz]|[+-][0-9]{{2}}:[0-9]{{2}}))?",
    re.ASCII,
)
_EDGE_DAYS = ("0000-", "0001-01-01", "9999-12-31")
_NOT_AN_EDGE_DAY = "^(?!" + "|".join(_EDGE_DAYS) + ")"
DATE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date", "pattern": _NOT_AN_EDGE_DAY},
        {"type": "string", "format": "date-time", "pattern": _NOT_AN_EDGE_DAY},
        {"type": "null"},
    ],
    "description": "A day (2026-12-04: the end of that day in the zone of `tz`, else the "
    "user's, else UTC) or an RFC 3339 date-time with its offset (2026-12-04T09:00:00Z), "
    "from 0001-01-02 to 9999-12-30; null for none.",
    "examples": ["2026-12-04", "2026-12-04T09:00:00+01:00"],
}
HttpPriority = Literal["H", "M", "L"]
PRIORITY_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string", "enum": ["H", "M", "L"]}, {"type": "null"}],
    "description": "H, M or L (sorted H > M > none > L); null for none.",
}


def check_http_date(value: str | None) -> str | None:
    """A date as HTTP takes it (see DATE_SCHEMA); the service reads and checks the rest."""
    if value is None:
        return None
    if not _HTTP_DATE.fullmatch(value) or value.startswith(_EDGE_DAYS):
        raise PydanticCustomError(
            "date_format",
            "should be a day (2026-12-04) or a date-time with its offset "
            "(2026-12-04T09:00:00Z), from 0001-01-02 to 9999-12-30",
        )
    return value


@cache
def _character_classes() -> dict[str, str]:
    """Regex classes of the characters `service.attributes` allows in tags and projects.

    The rules are Unicode's (what `str.isspace`, `str.isalpha` and the category say).
    Computing the classes walks every code point, which takes seconds, so they are
    written once to `_unicode_classes.py` (`python -m todo_cli.api.schemas` rewrites it)
    and computed afresh only under another Unicode version than that file's.
    `tests/test_api_schemas.py` checks the file and the patterns.
    """
    import unicodedata

    from todo_cli.api import _unicode_classes

    if _unicode_classes.UNICODE_VERSION == unicodedata.unidata_version:
        return dict(_unicode_classes.CLASSES)
    return compute_character_classes()


def compute_character_classes() -> dict[str, str]:
    """What `_character_classes` gives, from the running Python's Unicode database."""
    from todo_cli.service.attributes import is_tag

    names = ("allowed", "letter", "other", "first_other", "part")
    runs: dict[str, list[str]] = {name: [] for name in names}
    starts: dict[str, int | None] = dict.fromkeys(names)
    for point in range(sys.maxunicode + 2):
        member: dict[str, bool]
        if point > sys.maxunicode:
            member = dict.fromkeys(names, False)
        else:
            char = chr(point)
            allowed = is_tag("a" + char)
            letter = allowed and char.isalpha()
            member = {
                "allowed": allowed,
                "letter": letter,
                "other": allowed and not letter,
                "first_other": allowed and not letter and char not in "+-",
                "part": allowed and char != ".",
            }
        for name in names:
            start = starts[name]
            if member[name]:
                if start is None:
                    starts[name] = point
            elif start is not None:
                first, last = _escape(start), _escape(point - 1)
                runs[name].append(first if start == point - 1 else f"{first}-{last}")
                starts[name] = None
    return {name: "[" + "".join(parts) + "]" for name, parts in runs.items()}


def _escape(point: int) -> str:
    if chr(point).isascii() and chr(point).isalnum():
        return chr(point)
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"


# The end of the text: `$` also matches before a final newline in Python's dialect (what
# schemathesis generates from and validates with), which a tag cannot contain.
_END = r"(?![\s\S])"


def tag_schema() -> dict[str, Any]:
    """A tag, as `service.attributes.clean_tag` takes it."""
    classes = _character_classes()
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": TAG_MAX_LENGTH,
        "pattern": f"^(?:{classes['first_other']}{classes['other']}*)?"
        f"{classes['letter']}{classes['allowed']}*{_END}",
        "description": f"1–{TAG_MAX_LENGTH} characters with at least one letter, without "
        "spaces, commas, quotes, parentheses or invisible characters, not starting with + "
        "or -. Case-sensitive.",
        "examples": ["home"],
    }


def project_schema() -> dict[str, Any]:
    """A project, as `service.attributes.clean_project` takes it."""
    part = _character_classes()["part"]
    return {
        "anyOf": [
            {
                "type": "string",
                "minLength": 1,
                "maxLength": PROJECT_MAX_LENGTH,
                "pattern": rf"^{part}+(?:\.{part}+)*{_END}",
            },
            {"type": "null"},
        ],
        "description": f"1–{PROJECT_MAX_LENGTH} characters without spaces, commas, quotes, "
        "parentheses or invisible characters, dots between its parts (house.garden); null "
        "for none.",
        "examples": ["house.garden"],
    }


def components() -> dict[str, Any]:
    """The field schemas every body refers to (`app._document` adds them)."""
    return {
        "TaskTitle": TITLE_SCHEMA,
        "TaskDescription": DESCRIPTION_SCHEMA,
        "TaskDate": DATE_SCHEMA,
        "TaskPriority": PRIORITY_SCHEMA,
        "TaskProject": project_schema(),
        "TaskTag": tag_schema(),
        "TaskTags": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/TaskTag"},
            "description": "The task's tags (duplicates count once).",
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_TITLE_SCHEMA = _ref("TaskTitle")
_DESCRIPTION_SCHEMA = _ref("TaskDescription")
_BASE_FIELDS = {"title": _TITLE_SCHEMA, "description": _DESCRIPTION_SCHEMA}
_ATTRIBUTE_FIELDS = {
    "due": _ref("TaskDate"),
    "wait": _ref("TaskDate"),
    "priority": _ref("TaskPriority"),
    "project": _ref("TaskProject"),
    "tags": _ref("TaskTags"),
}


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


def _no_null_tags(value: list[str] | None) -> list[str]:
    if value is None:
        raise PydanticCustomError("list_type", "should be a list of tags, [] for none")
    return value


class _TaskFields(BaseModel):
    title: str
    description: str | None = None
    due: str | None = None
    wait: str | None = None
    priority: HttpPriority | None = None
    project: str | None = None
    tags: list[str] = []

    @field_validator("due", "wait")
    @classmethod
    def _iso_dates(cls, value: str | None) -> str | None:
        return check_http_date(value)


class TaskCreateBody(_TaskFields):
    """POST body: a new task."""

    model_config = ConfigDict(
        **_STRICT, json_schema_extra=_document({**_BASE_FIELDS, **_ATTRIBUTE_FIELDS})
    )


class TaskReplaceBody(_TaskFields):
    """PUT body: the whole task; omitted fields go back to their defaults."""

    is_completed: bool = False

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra=_document(
            {**_BASE_FIELDS, "is_completed": _COMPLETED_SCHEMA, **_ATTRIBUTE_FIELDS}
        ),
    )


class TaskUpdateBody(BaseModel):
    """PATCH body: only the fields given change; at least one is required.

    `title`, `is_completed` and `tags` may be left out but not set to null; null clears
    `description`, `due`, `wait`, `priority` and `project`. `tags` replaces the tags.
    """

    title: str | None = None
    description: str | None = None
    is_completed: bool | None = None
    due: str | None = None
    wait: str | None = None
    priority: HttpPriority | None = None
    project: str | None = None
    tags: list[str] | None = None

    @field_validator("due", "wait")
    @classmethod
    def _iso_dates(cls, value: str | None) -> str | None:
        return check_http_date(value)

    @field_validator("tags")
    @classmethod
    def _tags_not_null(cls, value: list[str] | None) -> list[str]:
        return _no_null_tags(value)

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra=_document(
            {
                **_BASE_FIELDS,
                "is_completed": _COMPLETED_SCHEMA,
                **_ATTRIBUTE_FIELDS,
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


def _write_unicode_classes() -> None:
    import unicodedata
    from pathlib import Path

    classes = compute_character_classes()
    lines = [
        "# ruff: noqa: E501",
        '"""Generated by `python -m todo_cli.api.schemas`: see `schemas._character_classes`."""',
        "",
        f"UNICODE_VERSION = {unicodedata.unidata_version!r}",
        "CLASSES = {",
        *(f"    {name!r}: {value!r}," for name, value in classes.items()),
        "}",
        "",
    ]
    Path(__file__).with_name("_unicode_classes.py").write_text("\n".join(lines))


if __name__ == "__main__":
    _write_unicode_classes()
