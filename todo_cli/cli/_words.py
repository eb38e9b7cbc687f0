"""Inline words (SPEC → Giving attributes on the command line): argv → title + attributes.

`todo add Pay rent due:fri +home pri:H project:house` and `todo edit 3 due:mon -errand
pri:`. The rules are strict so that a title is never eaten by accident: a word is an
attribute only if the *whole* word is `+TAG` (a valid tag), `-TAG` (editing only), or
`KEY:VALUE` with KEY exactly one of the keys of `service.attributes.ATTRIBUTES` (`due`,
`wait`, `pri`, `priority`, `project`, `proj`).
Everything else is title text (`http://x`, `10:30`, `re:`, `C++`, `+44`, `Due:fri`), and
after a `--` word everything is. A known key with a bad value is an error, never title
text, and its message says how to put such text in the title.

Pure: no Typer, no clock, no database. Dates stay text here, because their meaning needs
the user's zone, which may only be known once the database is open; `Words.when` parses
them later and keeps the same title hint in its errors. Click consumes the first `--` of
a command line itself, so the caller passes the words as typed, `--` included.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from todo_cli.errors import ValidationError
from todo_cli.service.attributes import BY_KEY, BY_NAME, clean_tag, is_tag, shown
from todo_cli.service.dates import MONDAY, parse_when

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from todo_cli.service.dates import When

# Case-sensitive on purpose: `Re:` or `TODO:` at the start of a title stays title text.
KEYS: dict[str, str] = {key: attribute.name for key, attribute in BY_KEY.items()}
END_OF_ATTRIBUTES = "--"
_T = TypeVar("_T")
_SHELL_SPECIAL = frozenset("\"'`$\\!")


@dataclass(frozen=True)
class Words:
    """What a command line's words say: the title, and each attribute given.

    `given` maps an attribute's name to its value: checked text (`H`, `house`), or for a
    date the phrase as typed, which `when("due", now=…, zone=…)` resolves. An attribute
    given with an empty value (`pri:`, editing only) is not in `given` but in `cleared`.
    """

    title: str = ""
    given: Mapping[str, str] = field(default_factory=dict)
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()
    cleared: frozenset[str] = frozenset()
    editing: bool = False
    # Each given key's word as typed (`pri:h`), for error messages.
    spelled: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_attributes(self) -> bool:
        """Whether any attribute was given or cleared (what `todo edit 3` needs)."""
        return bool(self.spelled or self.tags_add or self.tags_remove)

    def when(
        self,
        key: str,
        *,
        now: datetime,
        zone: ZoneInfo,
        week_start: int = MONDAY,
    ) -> When | None:
        """The `due` or `wait` phrase resolved by the date grammar; None if not given.

        A phrase the grammar refuses is a `ValidationError` with the grammar's reason and
        the hint for putting the word in the title.
        """
        phrase = self.given.get(key)
        if phrase is None:
            return None
        try:
            return parse_when(phrase, now=now, zone=zone, week_start=week_start)
        except ValidationError as error:
            raise _bad_value(self.spelled[key], error, editing=self.editing) from None


def split_words(words: Sequence[str], *, editing: bool) -> Words:
    """Split command-line words into the title and the attributes, by SPEC's strict rules.

    `editing` (for `todo edit`) allows `-TAG` and empty values (which clear), and makes
    any title word an error: a title is changed with `--title` only, so that a mistyped
    attribute can never overwrite one.
    """
    title: list[str] = []
    values: dict[str, str] = {}
    spelled: dict[str, str] = {}
    tags_add: dict[str, None] = {}  # dicts keep the order given and drop repeats
    tags_remove: dict[str, None] = {}
    literal = False
    for word in words:
        if literal:
            if editing:
                raise _not_an_attribute(word)
            title.append(word)
            continue
        if word == END_OF_ATTRIBUTES:
            literal = True
            continue
        key, colon, value = word.partition(":")
        if colon and key in KEYS:
            field_name = KEYS[key]
            if field_name in spelled:
                raise ValidationError(
                    f"{field_name} is given twice ({_one_line(shown(spelled[field_name]))} "
                    f"and {_one_line(shown(word))}): give it once",
                    details={"field": field_name},
                )
            spelled[field_name] = word
            values[field_name] = value
            continue
        if word[:1] == "+" and is_tag(word[1:]):
            tags_add[word[1:]] = None
            continue
        if editing and word[:1] == "-" and is_tag(word[1:]):
            tags_remove[word[1:]] = None
            continue
        if editing:
            raise _not_an_attribute(word)
        title.append(word)
    both = [tag for tag in tags_add if tag in tags_remove]
    if both:
        raise ValidationError(
            f"+{shown(both[0])} and -{shown(both[0])} contradict each other: give one",
            details={"field": "tags", "value": both[0]},
        )
    cleared: set[str] = set()
    given: dict[str, str] = {}
    for field_name, value in values.items():
        word = spelled[field_name]
        if value == "":
            if not editing:
                raise _bad_value(
                    word,
                    ValidationError(
                        f"{word} needs a value, as in {_example(field_name)}",
                        details={"field": field_name},
                    ),
                    editing=False,
                    quote_word=False,
                )
            cleared.add(field_name)
        elif BY_NAME[field_name].is_date:
            given[field_name] = value  # read once the user's zone is known
        else:
            given[field_name] = _checked(BY_NAME[field_name].check, value, word, editing)
    return Words(
        title=" ".join(title),
        given=given,
        tags_add=tuple(tags_add),
        tags_remove=tuple(tags_remove),
        cleared=frozenset(cleared),
        editing=editing,
        spelled=spelled,
    )


def _checked(clean: Callable[[str], _T], value: str, word: str, editing: bool) -> _T:
    try:
        return clean(value)
    except ValidationError as error:
        raise _bad_value(word, error, editing=editing) from None


def _bad_value(
    word: str, error: ValidationError, *, editing: bool, quote_word: bool = True
) -> ValidationError:
    """The value's own reason, then how to have the word as text instead."""
    where = f" (in {_one_line(shown(word))})" if quote_word else ""
    quoted = _shell_quoted(_one_line(shown(word)))
    if editing:
        hint = f"to put such text in the title, use --title, e.g. --title {quoted}"
    else:
        hint = f"to put such text in the title, use -- before the title, e.g. todo add -- {quoted}"
    return ValidationError(
        f"{error.message}{where}; {hint}",
        details={**error.details, "word": word},
    )


def _one_line(text: str) -> str:
    """`text` with control characters written as escapes: an error message is one line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _not_an_attribute(word: str) -> ValidationError:
    key = word.partition(":")[0]
    why = ""
    if word[:1] in ("+", "-") and len(word) > 1:
        try:
            clean_tag(word[1:])
        except ValidationError as error:
            why = f" ({error.message})"
    elif ":" in word and key.lower() in KEYS:
        why = f" (keys are lowercase: {key.lower()}:)"
    return ValidationError(
        f"{shown(word)!r} is not an attribute{why}: give {_KEYS_SHOWN}, +TAG "
        'or -TAG, and change the title with --title, e.g. --title "Buy oat milk"',
        details={"word": word},
    )


def _example(field_name: str) -> str:
    return BY_NAME[field_name].word()


# `due:, wait:, pri:, project:`: each attribute by its first key.
_KEYS_SHOWN = ", ".join(f"{attribute.keys[0]}:" for attribute in BY_NAME.values())


def _shell_quoted(text: str) -> str:
    # Double quotes read best and are what SPEC shows; single quotes when the text has
    # something a shell would expand or end inside double quotes.
    if any(char in _SHELL_SPECIAL for char in text):
        return shlex.quote(text)
    return f'"{text}"'
