"""The rules of a task's tags, project and priority (SPEC → Task attributes), and the
table of the attributes given as `KEY:VALUE` (`ATTRIBUTES`).

Standard library only, so that the inline words of the command line, shell completion and
the service all apply the same rules without importing the models. `is_tag` and
`is_project` answer "would this be accepted?" for the inline-word splitter, which turns a
word that fails them into title text; the `clean_*` functions raise a `ValidationError`
for flags and the HTTP API, where a bad value is always a mistake.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from todo_cli.errors import ValidationError

TAG_MAX_LENGTH = 64
PROJECT_MAX_LENGTH = 128
# Smallint values of SPEC: they sort H > M > none (0) > L.
Priority = Literal["H", "M", "L"]
PRIORITY_VALUES: dict[Priority, int] = {"H": 3, "M": 2, "L": -1}
NO_PRIORITY = 0
_PRIORITIES: dict[str, Priority] = {"H": "H", "M": "M", "L": "L"}
# The same rule as `validation.shortened`, which cannot be imported here: it lives beside
# the models.
SHOWN_MAX_LENGTH = 40

# Characters the filter language and the export formats give a meaning to (a comma lists
# values, quotes delimit phrases, parentheses group), so a tag containing one could not be
# written in a filter.
_TAG_FORBIDDEN = frozenset(",'\"()`")
# Unicode categories that are invisible or unencodable: control and format characters
# (zero-width spaces, bidi overrides) would make two tags that look the same differ, and a
# lone surrogate cannot be stored as UTF-8.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def shown(text: str) -> str:
    """User text as an error message quotes it: at most `SHOWN_MAX_LENGTH` characters."""
    if len(text) <= SHOWN_MAX_LENGTH:
        return text
    return f"{text[: SHOWN_MAX_LENGTH - 1]}…"


def _has_bad_character(text: str, forbidden: frozenset[str]) -> bool:
    return any(
        char.isspace() or char in forbidden or unicodedata.category(char) in _INVISIBLE
        for char in text
    )


def is_tag(text: str) -> bool:
    """Whether `text` (without its `+`) is a tag: see `clean_tag`."""
    return (
        0 < len(text) <= TAG_MAX_LENGTH
        # `+-x` and `++x` would read as a removal or a typo, and `-TAG` removes on edit.
        and text[0] not in "+-"
        and any(char.isalpha() for char in text)
        and not _has_bad_character(text, _TAG_FORBIDDEN)
    )


def clean_tag(text: str) -> str:
    """A tag as given (case-sensitive), or a `ValidationError` saying what a tag is.

    At least one letter, so `+44` (a phone number) stays title text on the command line.
    """
    if is_tag(text):
        return text
    raise ValidationError(
        f"{shown(text)!r} is not a tag: a tag is 1–{TAG_MAX_LENGTH} characters with at least "
        "one letter, without spaces, commas, quotes or parentheses, not starting with + or -",
        details={"field": "tags", "value": text},
    )


def is_project(text: str) -> bool:
    """Whether `text` is a project name: see `clean_project`."""
    return (
        0 < len(text) <= PROJECT_MAX_LENGTH
        and "" not in text.split(".")
        and not _has_bad_character(text, _TAG_FORBIDDEN)
    )


def clean_project(text: str) -> str:
    """A project name as given, or a `ValidationError` saying what a project is.

    Dots make the hierarchy (`house.garden` is inside `house`), so no part may be empty.
    The characters refused in tags are refused here too, for the same filter-language
    reason; SPEC only requires "no whitespace", and a rule is easier to relax than to
    tighten once names are stored.
    """
    if is_project(text):
        return text
    raise ValidationError(
        f"{shown(text)!r} is not a project: a project is 1–{PROJECT_MAX_LENGTH} characters "
        "without spaces, commas, quotes or parentheses, with dots between its parts "
        "(house.garden)",
        details={"field": "project", "value": text},
    )


def parse_priority(text: str) -> Priority:
    """`H`, `M` or `L` (either case, as Taskwarrior users type both), or a `ValidationError`.

    No priority is `None` at the caller, never a value here: an empty value means "clear"
    only where the caller allows clearing.
    """
    priority = _PRIORITIES.get(text.upper())
    if priority is not None:
        return priority
    raise ValidationError(
        f"{shown(text)!r} is not a priority: use H, M or L",
        details={"field": "priority", "value": text},
    )


def _same(value: Any) -> Any:
    return value


def _priority_column(letter: str | None) -> int:
    return PRIORITY_VALUES[parse_priority(letter)] if letter is not None else NO_PRIORITY


def _priority_letter(value: int) -> str | None:
    return next((letter for letter, stored in PRIORITY_VALUES.items() if stored == value), None)


@dataclass(frozen=True)
class Attribute:
    """An attribute a task is given as one value: a `KEY:VALUE` word, a `--NAME` flag, a
    line of `todo edit`'s form, an HTTP field, a column of `todo list`.

    The inline words, the editor form, the service's checks, shell completion and the
    listings read this table; a new attribute is an entry here, its column and API fields
    (models.py and its migration), its flag (cli/tasks.py) and its HTTP schema
    (api/schemas.py). Filtering and sorting by it is the filter language's (query.py).
    """

    name: str  # the column, the JSON and HTTP field; the flag is --NAME
    keys: tuple[str, ...]  # its inline-word keys, case-sensitive
    example: str  # a value, for messages: due:fri
    # A date phrase, read in the user's zone by `service.dates` (an instant column, and
    # `day_field` the column keeping the day when one is given as a day).
    is_date: bool = False
    day_field: str = ""
    # Otherwise text: checked as given (a `ValidationError` says what is wrong) and
    # turned into the column's value and back (None: not set, or cleared).
    check: Callable[[str], str] = _same
    to_column: Callable[[str | None], Any] = _same
    from_column: Callable[[Any], str | None] = _same
    header: str = ""  # the column's heading in listings; the name if empty
    # The values shell completion offers, when they are a fixed few.
    choices: tuple[str, ...] = ()
    listed: bool = True  # a column of `todo list` when a task in view has it

    @property
    def heading(self) -> str:
        return self.header or self.name

    def word(self) -> str:
        return f"{self.keys[0]}:{self.example}"


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("due", ("due",), "fri", is_date=True, day_field="due_date"),
    # Shown by `todo show`; a waiting task is out of the default list anyway.
    Attribute("wait", ("wait",), "mon", is_date=True, listed=False),
    Attribute(
        "priority",
        ("pri", "priority"),
        "H",
        check=parse_priority,
        to_column=_priority_column,
        from_column=_priority_letter,
        header="pri",
        choices=tuple(PRIORITY_VALUES),
    ),
    Attribute("project", ("project", "proj"), "house", check=clean_project),
)
BY_NAME: dict[str, Attribute] = {attribute.name: attribute for attribute in ATTRIBUTES}
# Inline-word key → attribute (`pri` and `priority` are one).
BY_KEY: dict[str, Attribute] = {key: a for a in ATTRIBUTES for key in a.keys}
