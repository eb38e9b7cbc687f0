"""The rules every piece of user input obeys, whatever entry point it came through."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from todo_cli.errors import ValidationError
from todo_cli.models import TITLE_MAX_LENGTH, USER_NAME_MAX_LENGTH
from todo_cli.service.attributes import ATTRIBUTES, Attribute

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from todo_cli.service.dates import When

_T = TypeVar("_T")

# A description is a note, not a document store. 100,000 characters is about 40 pages of
# text, far more than any task needs, and keeps one row well under a megabyte.
DESCRIPTION_MAX_LENGTH = 100_000
MIN_PREFIX_LENGTH = 4
# Tasks beyond this number cannot exist (the column is a 32-bit integer); it also bounds
# paging, which both backends would otherwise reject with a driver error.
MAX_NUMBER = 2**31 - 1
USER_NAME = re.compile(rf"[A-Za-z0-9._@+-]{{1,{USER_NAME_MAX_LENGTH}}}")
# How much of a rejected reference or name an error message repeats: enough to recognise
# it, while the error stays one readable line whatever was pasted (`details` has it all).
SHOWN_MAX_LENGTH = 40


def shortened(text: str) -> str:
    """User text as an error message quotes it: cut to `SHOWN_MAX_LENGTH` characters."""
    if len(text) <= SHOWN_MAX_LENGTH:
        return text
    return f"{text[: SHOWN_MAX_LENGTH - 1]}…"


def check_text(value: str, field: str) -> None:
    """Text that a database cannot store faithfully is refused rather than altered."""
    if "\x00" in value:
        raise ValidationError(f"{field} must not contain NUL characters", details={"field": field})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"{field} is not valid text: it holds bytes that are not UTF-8, or half of a "
            "two-part character (a lone surrogate)",
            details={"field": field},
        ) from None


def clean_title(title: str) -> str:
    """Strip surrounding whitespace; refuse empty, over-long or control-character titles.

    A title is one line shown in a table, so tabs, newlines and escape sequences (which
    could rewrite a terminal) have no place in it.
    """
    check_text(title, "title")
    title = title.strip()
    if not title:
        raise ValidationError("title must not be empty", details={"field": "title"})
    if len(title) > TITLE_MAX_LENGTH:
        raise ValidationError(
            f"title must be at most {TITLE_MAX_LENGTH} characters (got {len(title)})",
            details={"field": "title", "max_length": TITLE_MAX_LENGTH, "length": len(title)},
        )
    if any(unicodedata.category(char) == "Cc" for char in title):
        raise ValidationError(
            "title must not contain control characters (newlines, tabs, escapes)",
            details={"field": "title"},
        )
    return title


def clean_description(description: str | None) -> str | None:
    """Descriptions are kept exactly as given, within the size limit."""
    if description is None:
        return None
    check_text(description, "description")
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError(
            f"description must be at most {DESCRIPTION_MAX_LENGTH} characters "
            f"(got {len(description)})",
            details={
                "field": "description",
                "max_length": DESCRIPTION_MAX_LENGTH,
                "length": len(description),
            },
        )
    return description


def clean_user_name(name: str) -> str:
    name = name.strip()
    if not USER_NAME.fullmatch(name):
        raise ValidationError(
            f"user name must be 1–{USER_NAME_MAX_LENGTH} characters from letters, digits "
            f"and ._@+- (got {shortened(name)!r})",
            details={"field": "name"},
        )
    if as_uuid(name) is not None:
        # A user is named by name or by UUID; a name that reads as a UUID could never
        # be named again.
        raise ValidationError(
            f"user name must not be a UUID (got {name!r})", details={"field": "name"}
        )
    return name


def bounded(field: str, value: int, lowest: int, highest: int) -> int:
    """A number from outside, refused before it reaches SQL (whose integers overflow)."""
    if not lowest <= value <= highest:
        raise ValidationError(
            f"{field} must be between {lowest} and {highest}", details={"field": field}
        )
    return value


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


# --- task attributes ------------------------------------------------------------------------
#
# Each input field of TaskCreate / TaskUpdate and the stored values it becomes. The one
# place a new field's input rule goes.


def clean_task_fields(
    fields: Mapping[str, Any], *, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """The stored values of the given input fields (`TaskCreate`/`TaskUpdate` names)."""
    values: dict[str, Any] = {}
    for name, value in fields.items():
        values.update(_CLEANERS[name](value, zone, now))
    return values


def _title(value: Any, _zone: ZoneInfo, _now: datetime) -> dict[str, Any]:
    if value is None:
        raise ValidationError("title must not be empty", details={"field": "title"})
    return {"title": clean_title(value)}


def _description(value: Any, _zone: ZoneInfo, _now: datetime) -> dict[str, Any]:
    return {"description": clean_description(value)}


def _completed(value: Any, _zone: ZoneInfo, _now: datetime) -> dict[str, Any]:
    if not isinstance(value, bool):
        raise ValidationError(
            "is_completed must be true or false", details={"field": "is_completed"}
        )
    return {"is_completed": value}


def _when(field: str, value: Any, zone: ZoneInfo, now: datetime) -> When | None:
    from todo_cli.service.dates import parse_when

    if value is None:
        return None
    check_text(value, field)
    try:
        return parse_when(value, now=now, zone=zone)
    except ValidationError as error:
        raise ValidationError(
            f"{field}: {error.message}", details={**error.details, "field": field}
        ) from None


def _attribute_cleaner(attribute: Attribute) -> Callable[[Any, ZoneInfo, datetime], dict[str, Any]]:
    """The check of an attribute of `service.attributes.ATTRIBUTES`: a date phrase read in
    the zone (its instant, and its day in `day_field` when it has one), or text checked by
    its rule and turned into its column's value."""
    name = attribute.name

    def clean(value: Any, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
        if attribute.is_date:
            when = _when(name, value, zone, now)
            cleaned: dict[str, Any] = {name: when.instant if when is not None else None}
            if attribute.day_field:
                cleaned[attribute.day_field] = when.day if when is not None else None
            return cleaned
        if value is None:
            return {name: attribute.to_column(None)}
        return {name: attribute.to_column(_attribute(attribute.check, value, name))}

    return clean


def clean_tags(tags: Sequence[str]) -> list[str]:
    """Tags as stored: each checked, duplicates dropped, sorted."""
    from todo_cli.service.attributes import clean_tag

    return sorted({_attribute(clean_tag, tag, "tags") for tag in tags})


def _tags(value: Any, _zone: ZoneInfo, _now: datetime) -> dict[str, Any]:
    return {"tags": clean_tags(value or [])}


def _tag_changes(field: str) -> Callable[[Any, ZoneInfo, datetime], dict[str, Any]]:
    def clean(value: Any, _zone: ZoneInfo, _now: datetime) -> dict[str, Any]:
        return {field: clean_tags(value or [])}

    return clean


def _attribute(clean: Callable[[str], _T], value: str, field: str) -> _T:
    check_text(value, field)
    try:
        return clean(value)
    except ValidationError as error:
        raise ValidationError(error.message, details={**error.details, "field": field}) from None


_CLEANERS: dict[str, Callable[[Any, ZoneInfo, datetime], dict[str, Any]]] = {
    "title": _title,
    "description": _description,
    "is_completed": _completed,
    **{attribute.name: _attribute_cleaner(attribute) for attribute in ATTRIBUTES},
    "tags": _tags,
    "add_tags": _tag_changes("add_tags"),
    "remove_tags": _tag_changes("remove_tags"),
}


def clean_note(text: str) -> str:
    from todo_cli.models import NOTE_MAX_LENGTH

    check_text(text, "note")
    text = text.strip()
    if not text:
        raise ValidationError("a note must not be empty", details={"field": "note"})
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationError(
            f"a note must be at most {NOTE_MAX_LENGTH} characters (got {len(text)})",
            details={"field": "note", "max_length": NOTE_MAX_LENGTH},
        )
    return text


def search_text(title: str, description: str | None) -> str:
    """What text search reads: title and description, Unicode case-folded (`ÉTÉ` finds
    `été` on SQLite too, whose LIKE folds ASCII only)."""
    return f"{title}\n{description or ''}".casefold()
