"""The rules every piece of user input obeys, whatever entry point it came through."""

from __future__ import annotations

import re
import unicodedata
import uuid

from todo_cli.errors import ValidationError
from todo_cli.models import TITLE_MAX_LENGTH, USER_NAME_MAX_LENGTH

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


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
