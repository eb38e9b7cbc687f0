"""The filter language (SPEC → Finding: filters, sort, search): parse, compile, evaluate.

    expr  := and ('or' and)*          and := unary (['and'] unary)*
    unary := 'not' unary | '-' term | '(' expr ')' | term
    term  := +tag | field[.modifier]:value | word | "phrase"

`parse_filter(text, now=…, zone=…)` reads a filter once into a `Filter`: a tree whose
leaves hold resolved values (dates as instants, priorities as stored numbers), so that
`Filter.condition(user_id)` (SQLAlchemy, every value a bound parameter) and
`Filter.matches(task)` (plain Python, for the differential test) mean exactly the same.
`parse_sort` does the same for `--sort due,-priority`.

Hand-written recursive descent: lark and pyparsing cost 17–32 ms of import on every
command. Every error is a `ValidationError` whose `details.position` is the offset in the
filter text where the problem is, for a caret under it.

Each condition is spelled as its partial index spells it: pending is `NOT is_completed`,
done is `is_completed = true` (SQLite uses a partial index only when the query repeats
its condition term for term). A negated condition on a nullable column adds `IS NULL`
explicitly, so SQL's three-valued logic gives what the Python evaluator gives.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cmp_to_key
from typing import Any, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true
from sqlalchemy.sql.elements import UnaryExpression
from sqlmodel import col

from todo_cli.errors import ValidationError
from todo_cli.models import NO_PRIORITY, PRIORITIES, Task, TaskTag
from todo_cli.service.attributes import is_project, is_tag, shown
from todo_cli.service.dates import end_of_day, parse_when
from todo_cli.service.validation import MAX_NUMBER, search_text

# What `todo list --help` and the README show; the grammar above is the whole of it.
SHORT_GRAMMAR = (
    "FILTER words (all must match; 'or', 'not'/-, parentheses): "
    "+TAG, -TAG, project:P (and P.*), project.is:P, pri:H,M, pri.above:L, "
    "due|wait|created|done[.before|.after|.by|.on]:WHEN or :none/:any, status:pending|"
    'waiting|done|all, id:3,5-9, is:overdue, words or "a phrase" (in title or '
    "description). Default: pending and not waiting, unless status: or id: is given."
)
STATUSES = ("pending", "waiting", "done")
DATE_FIELDS = {"due": "due", "wait": "wait", "created": "created_at", "done": "completed_at"}
DATE_MODIFIERS = ("before", "after", "by", "on")
# Each field and the modifiers it takes ("" is the field without one).
FIELDS: dict[str, tuple[str, ...]] = {
    "status": ("",),
    **dict.fromkeys(DATE_FIELDS, ("", *DATE_MODIFIERS)),
    "priority": ("", "above", "below"),
    "project": ("", "is"),
    "tag": ("",),
    "id": ("",),
    "is": ("",),
}
ALIASES = {"pri": "priority", "proj": "project", "tags": "tag", "end": "done", "entry": "created"}
_KEY = re.compile(r"([A-Za-z][A-Za-z_]*)(?:\.([A-Za-z_]+))?")
_ID_ITEM = re.compile(r"([0-9]{1,10})(?:-([0-9]{1,10}))?")
_KEYWORDS = ("and", "or", "not")
# The most ranges `id:` takes: a bound on the statement's size.
MAX_ID_ITEMS = 1_000
_TICK = timedelta(microseconds=1)
_T = TypeVar("_T", bound="TaskLike")


def _error(message: str, position: int, source: str, **details: Any) -> ValidationError:
    return ValidationError(message, details={"position": position, "filter": source, **details})


# --- the tree ------------------------------------------------------------------------------


class _Value:
    """Immutable, compared and hashed by its slots. Hand-written rather than dataclasses,
    which cost ~3 ms per class at import, on the path of every command that lists."""

    __slots__: tuple[str, ...] = ()

    def _set(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")


class Node(_Value):
    """A filter node; leaves know their SQL condition and their Python test."""

    __slots__ = ()


class Not(Node):
    __slots__ = ("child",)
    child: Node

    def __init__(self, child: Node) -> None:
        self._set(child=child)


class And(Node):
    __slots__ = ("children",)
    children: tuple[Node, ...]

    def __init__(self, children: tuple[Node, ...]) -> None:
        self._set(children=children)


class Or(Node):
    __slots__ = ("children",)
    children: tuple[Node, ...]

    def __init__(self, children: tuple[Node, ...]) -> None:
        self._set(children=children)


class TextTerm(Node):
    __slots__ = ("folded",)
    folded: str  # case-folded, as `tasks.search_text` is stored

    def __init__(self, folded: str) -> None:
        self._set(folded=folded)


class TagTerm(Node):
    __slots__ = ("tag",)
    tag: str

    def __init__(self, tag: str) -> None:
        self._set(tag=tag)


class StatusTerm(Node):
    __slots__ = ("statuses",)
    statuses: frozenset[str]

    def __init__(self, statuses: frozenset[str]) -> None:
        self._set(statuses=statuses)


class DateTerm(Node):
    """`field` between `low` and `high` (None: unbounded), or `present` (none/any)."""

    __slots__ = ("field", "low", "low_inclusive", "high", "high_inclusive", "present")
    field: str  # a Task attribute: due, wait, created_at, completed_at
    low: datetime | None
    low_inclusive: bool
    high: datetime | None
    high_inclusive: bool
    present: bool | None

    def __init__(
        self,
        field: str,
        *,
        low: datetime | None = None,
        low_inclusive: bool = True,
        high: datetime | None = None,
        high_inclusive: bool = True,
        present: bool | None = None,
    ) -> None:
        self._set(
            field=field,
            low=low,
            low_inclusive=low_inclusive,
            high=high,
            high_inclusive=high_inclusive,
            present=present,
        )


class PriorityTerm(Node):
    __slots__ = ("values",)
    values: frozenset[int]

    def __init__(self, values: frozenset[int]) -> None:
        self._set(values=values)


class ProjectTerm(Node):
    __slots__ = ("project", "exact")
    project: str | None  # None: no project
    exact: bool

    def __init__(self, project: str | None, exact: bool = False) -> None:
        self._set(project=project, exact=exact)


class IdTerm(Node):
    __slots__ = ("ranges",)
    ranges: tuple[tuple[int, int], ...]

    def __init__(self, ranges: tuple[tuple[int, int], ...]) -> None:
        self._set(ranges=ranges)


class Overdue(Node):
    __slots__ = ()


class TaskLike(Protocol):
    """What the Python evaluator reads: a `Task`, or `task_view` of a task's JSON."""

    @property
    def number(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def is_completed(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def due(self) -> datetime | None: ...
    @property
    def wait(self) -> datetime | None: ...
    @property
    def priority(self) -> int: ...
    @property
    def project(self) -> str | None: ...
    @property
    def completed_at(self) -> datetime | None: ...
    @property
    def tags(self) -> list[str]: ...


class TaskView:
    """A task's JSON form as the evaluator reads it (stored types, not JSON's)."""

    __slots__ = (
        "number",
        "title",
        "description",
        "is_completed",
        "created_at",
        "updated_at",
        "due",
        "wait",
        "priority",
        "project",
        "completed_at",
        "tags",
    )

    def __init__(
        self,
        *,
        number: int,
        title: str,
        description: str | None,
        is_completed: bool,
        created_at: datetime,
        updated_at: datetime,
        due: datetime | None,
        wait: datetime | None,
        priority: int,
        project: str | None,
        completed_at: datetime | None,
        tags: list[str],
    ) -> None:
        self.number = number
        self.title = title
        self.description = description
        self.is_completed = is_completed
        self.created_at = created_at
        self.updated_at = updated_at
        self.due = due
        self.wait = wait
        self.priority = priority
        self.project = project
        self.completed_at = completed_at
        self.tags = tags


def task_view(image: dict[str, Any]) -> TaskView:
    def instant(name: str) -> datetime | None:
        value = image.get(name)
        return datetime.fromisoformat(value) if value is not None else None

    created, updated = instant("created_at"), instant("updated_at")
    assert created is not None and updated is not None
    letter = image.get("priority")
    return TaskView(
        number=image["number"],
        title=image["title"],
        description=image.get("description"),
        is_completed=image["is_completed"],
        created_at=created,
        updated_at=updated,
        due=instant("due"),
        wait=instant("wait"),
        priority=PRIORITIES[letter] if letter is not None else NO_PRIORITY,
        project=image.get("project"),
        completed_at=instant("completed_at"),
        tags=list(image.get("tags") or []),
    )


# --- the filter ----------------------------------------------------------------------------


class Filter:
    """A parsed filter: its tree (None: nothing but the default), resolved at `now`."""

    __slots__ = ("source", "node", "now", "names_status")

    def __init__(
        self, source: str, node: Node | None, now: datetime, *, names_status: bool = False
    ) -> None:
        self.source = source
        self.node = node
        self.now = now
        # Whether the filter names `status` or `id`, which turns the default off.
        self.names_status = names_status

    @property
    def asks_for_tags(self) -> bool:
        """Whether a tag is part of the filter: one tag is on no task, another on most, so
        no single plan suits every tag (`models.PLAN_EACH_TIME`)."""

        def has_tag(node: Node) -> bool:
            if isinstance(node, Not):
                return has_tag(node.child)
            if isinstance(node, And | Or):
                return any(has_tag(child) for child in node.children)
            return isinstance(node, TagTerm)

        return self.node is not None and has_tag(self.node)

    def condition(self, user_id: uuid.UUID) -> ColumnElement[bool]:
        """The WHERE condition for the user's tasks, the default included."""
        compiler = _Compiler(user_id, self.now)
        parts: list[ColumnElement[bool]] = []
        if not self.names_status:
            parts.append(compiler.leaf(StatusTerm(frozenset({"pending"}))))
        if self.node is not None:
            parts.append(compiler.compile(self.node, negated=False))
        if not parts:
            return true()
        return parts[0] if len(parts) == 1 else and_(*parts)

    def matches(self, task: TaskLike) -> bool:
        """The same filter in plain Python: what the SQL must agree with."""
        if not self.names_status and _status(task, self.now) != "pending":
            return False
        return self.node is None or _evaluate(self.node, task, self.now)


def parse_filter(
    text: str | Sequence[str] | None, *, zone: ZoneInfo, now: datetime | None = None
) -> Filter:
    """Read a filter (text, or command-line words); a `ValidationError` with a position.

    Words are joined with spaces, a word with a space or quote in it quoted, so that the
    shell's `'buy milk'` is the phrase it was meant to be and positions refer to one text.
    """
    source = text if isinstance(text, str) or text is None else join_words(text)
    source = source or ""
    now = now if now is not None else datetime.now(UTC)
    parser = _Parser(source, now=now, zone=zone)
    node = parser.parse()
    return Filter(source=source, node=node, now=now, names_status=parser.names_status)


def join_words(words: Sequence[str]) -> str:
    """Command-line words as one filter text."""
    return " ".join(word if _is_expression(word) else f'"{word}"' for word in words)


def _is_expression(word: str) -> bool:
    """Whether one command-line word is filter text (`(a or b)`, `project:x +y`), not a
    phrase: it has no space, or it has quotes, parentheses or a word that is a term."""
    pieces = word.split()
    if len(pieces) <= 1 or any(char in '"()' for char in word):
        return True
    return any(
        piece[:1] in "+-"
        or piece.lower() in _KEYWORDS
        or _KEY.match(piece.partition(":")[0])
        and ":" in piece
        for piece in pieces
    )


def caret(error: ValidationError) -> str | None:
    """The filter and a caret under the place of an error, for a terminal (or None)."""
    position, source = error.details.get("position"), error.details.get("filter")
    if not isinstance(position, int) or not isinstance(source, str):
        return None
    return f"  {source}\n  {' ' * position}^"


# --- lexing and parsing --------------------------------------------------------------------

_Kind = Literal["word", "phrase", "(", ")"]


class _Token:
    __slots__ = ("kind", "text", "position", "quoted")

    def __init__(self, kind: _Kind, text: str, position: int, quoted: bool = False) -> None:
        self.kind = kind
        self.text = text  # a word as typed (quotes removed from a quoted part), or a phrase
        self.position = position
        self.quoted = quoted  # part of the word was in quotes: never a keyword


def _tokens(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char.isspace():
            index += 1
            continue
        if char in "()":
            tokens.append(_Token(char, char, index))  # type: ignore[arg-type]
            index += 1
            continue
        start = index
        text: list[str] = []
        quoted = False
        while index < len(source) and not source[index].isspace() and source[index] not in "()":
            if source[index] == '"':
                end = source.find('"', index + 1)
                if end < 0:
                    raise _error(
                        'Bad filter: this quote is never closed; end the phrase with another "',
                        index,
                        source,
                    )
                text.append(source[index + 1 : end])
                quoted = True
                index = end + 1
            else:
                text.append(source[index])
                index += 1
        word = "".join(text)
        kind: _Kind = "phrase" if source[start] == '"' else "word"
        tokens.append(_Token(kind, word, start, quoted))
    return tokens


class _Parser:
    def __init__(self, source: str, *, now: datetime, zone: ZoneInfo) -> None:
        self.source = source
        self.now = now
        self.zone = zone
        self.tokens = _tokens(source)
        self.index = 0
        self.names_status = False

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self._expr()
        if self.index < len(self.tokens):
            token = self.tokens[self.index]
            # Only a `)` without its `(` can stop an expression early.
            raise self._fail("this ) has no ( before it", token.position)
        return node

    # expr := and ('or' and)*
    def _expr(self) -> Node:
        children = [self._and()]
        while self._keyword("or"):
            self.index += 1
            children.append(self._and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    # and := unary (['and'] unary)*
    def _and(self) -> Node:
        children = [self._unary()]
        while self.index < len(self.tokens):
            token = self.tokens[self.index]
            if token.kind == ")" or self._keyword("or"):
                break
            if self._keyword("and"):
                self.index += 1
            children.append(self._unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    # unary := 'not' unary | '-' term | '(' expr ')' | term
    def _unary(self) -> Node:
        token = self._next("a term")
        if token.kind == "word" and not token.quoted and token.text.lower() in _KEYWORDS:
            if token.text.lower() != "not":
                raise self._fail(
                    f"{token.text!r} needs a term before it; to search for the word, quote "
                    f'it: "{token.text}"',
                    token.position,
                )
            return Not(self._unary())
        if token.kind == "(":
            node = self._expr()
            closing = self._next("a )", at=token.position)
            if closing.kind != ")":
                raise self._fail("this ( is never closed", token.position)
            return node
        if token.kind == ")":
            raise self._fail("a term is missing before this )", token.position)
        if token.kind == "word" and self.source[token.position] == "-":
            return Not(self._negated(token))
        return self._term(token)

    def _negated(self, token: _Token) -> Node:
        rest = token.text[1:]
        position = token.position + 1
        if self.source[position : position + 1] == '"':
            return TextTerm(rest.casefold())  # `-"a phrase"`: without that text
        if not rest:
            raise self._fail("- needs a term right after it, as in -errand", token.position)
        if is_tag(rest) and self._field_key(rest) is None:
            # `-errand`: without the tag, as `+errand` is with it (and as `todo edit 3
            # -errand` removes it).
            return TagTerm(rest)
        return self._term(_Token("word", rest, position, token.quoted))

    def _term(self, token: _Token) -> Node:
        if token.kind == "phrase":
            return TextTerm(token.text.casefold())
        text = token.text
        if text.startswith("+") and not token.quoted:
            if not is_tag(text[1:]):
                raise self._fail(
                    f"{shown(text)!r} is not a tag: a tag has at least one letter and no "
                    "spaces, commas, quotes or parentheses",
                    token.position,
                )
            return TagTerm(text[1:])
        key = self._field_key(text)
        if key is None:
            return TextTerm(text.casefold())
        name, modifier, value = key
        return self._field(name, modifier, value, token)

    def _field_key(self, text: str) -> tuple[str, str, str] | None:
        head, colon, value = text.partition(":")
        match = _KEY.fullmatch(head)
        if not colon or match is None:
            return None
        return match.group(1), (match.group(2) or ""), value

    def _field(self, name: str, modifier: str, value: str, token: _Token) -> Node:
        position = token.position
        spelled = name
        name = ALIASES.get(name.lower(), name.lower())
        if name not in FIELDS:
            close = difflib.get_close_matches(name, [*FIELDS, *ALIASES], n=1, cutoff=0.6)
            hint = (
                f"did you mean {ALIASES.get(close[0], close[0])}?"
                if close
                else (f"the fields are {', '.join(FIELDS)}")
            )
            raise self._fail(
                f"{shown(spelled)!r} is not a field ({hint}); to search for text with a "
                f'colon, quote it: "{shown(token.text)}"',
                position,
                field=spelled,
            )
        modifier = modifier.lower()
        if modifier not in FIELDS[name]:
            known = [m for m in FIELDS[name] if m]
            hint = (
                f"{name} takes {', '.join(f'{name}.{m}' for m in known)}"
                if known
                else f"{name} takes no modifier"
            )
            raise self._fail(
                f"{modifier!r} is not a modifier of {name} ({hint})",
                position + len(spelled) + 1,
                field=name,
            )
        at = position + len(text_before_value(token.text))
        if name in ("status", "id"):
            self.names_status = True
        if name == "status":
            return self._status(value, at)
        if name in DATE_FIELDS:
            return self._date(name, modifier, value, at)
        if name == "priority":
            return self._priority(modifier, value, at)
        if name == "project":
            return self._project(modifier, value, at)
        if name == "tag":
            if not is_tag(value):
                raise self._fail(f"{shown(value)!r} is not a tag", at, field="tag")
            return TagTerm(value)
        if name == "id":
            return self._ids(value, at)
        if value.lower() != "overdue":
            raise self._fail(f"is:{shown(value)} is not known; is: takes overdue", at, field="is")
        return Overdue()

    def _status(self, value: str, at: int) -> Node:
        found: set[str] = set()
        for item in value.lower().split(","):
            if item == "all":
                found.update(STATUSES)
            elif item in STATUSES:
                found.add(item)
            else:
                raise self._fail(
                    f"{shown(item)!r} is not a status: use pending, waiting, done or all",
                    at,
                    field="status",
                )
        return StatusTerm(frozenset(found))

    def _date(self, name: str, modifier: str, value: str, at: int) -> Node:
        attribute = DATE_FIELDS[name]
        lowered = value.lower()
        if lowered in ("none", "any"):
            if modifier:
                raise self._fail(
                    f"{name}.{modifier} needs a date; {name}:{lowered} alone says whether "
                    "there is one",
                    at,
                    field=name,
                )
            return DateTerm(attribute, present=lowered == "any")
        try:
            when = parse_when(value, now=self.now, zone=self.zone)
            if when.day is None:
                moment = when.instant
                low, high = moment, moment
            else:
                low = _start_of_day(when.day, self.zone)
                high = end_of_day(when.day, self.zone)
        except ValidationError as error:
            raise self._fail(f"{error.message} (in {name})", at, field=name) from None
        if modifier in ("", "on"):
            return DateTerm(attribute, low=low, high=high)
        if modifier == "before":
            return DateTerm(attribute, high=low, high_inclusive=False)
        if modifier == "after":
            return DateTerm(attribute, low=high, low_inclusive=False)
        return DateTerm(attribute, high=high)  # by: up to the end of that day, or that instant

    def _priority(self, modifier: str, value: str, at: int) -> Node:
        values: set[int] = set()
        for item in value.split(","):
            letter = item.upper()
            if letter in PRIORITIES:
                values.add(PRIORITIES[letter])
            elif letter == "NONE" or (letter == "" and value == ""):
                values.add(NO_PRIORITY)
            else:
                raise self._fail(
                    f"{shown(item)!r} is not a priority: use H, M, L or none", at, field="priority"
                )
        if modifier:
            if len(values) != 1:
                raise self._fail(
                    f"priority.{modifier} takes one priority, as in priority.{modifier}:M",
                    at,
                    field="priority",
                )
            (pivot,) = values
            every = {*PRIORITIES.values(), NO_PRIORITY}
            above = modifier == "above"
            values = {v for v in every if (v > pivot if above else v < pivot)}
        return PriorityTerm(frozenset(values))

    def _project(self, modifier: str, value: str, at: int) -> Node:
        if value == "":
            return ProjectTerm(None, exact=True)
        if not is_project(value):
            raise self._fail(
                f"{shown(value)!r} is not a project: no spaces, commas, quotes or parentheses, "
                "dots between its parts (house.garden)",
                at,
                field="project",
            )
        return ProjectTerm(value, exact=modifier == "is")

    def _ids(self, value: str, at: int) -> Node:
        ranges: list[tuple[int, int]] = []
        items = value.split(",")
        if len(items) > MAX_ID_ITEMS:
            raise self._fail(f"id: takes at most {MAX_ID_ITEMS} items", at, field="id")
        offset = at
        for item in items:
            match = _ID_ITEM.fullmatch(item)
            low = int(match.group(1)) if match else 0
            high = int(match.group(2) or low) if match else 0
            if match is None or low > high or high > MAX_NUMBER:
                raise self._fail(
                    f"{shown(item)!r} is not a task number or range: write id:3, id:3,5 or "
                    "id:5-9 (the lower number first)",
                    offset,
                    field="id",
                )
            ranges.append((low, high))
            offset += len(item) + 1
        return IdTerm(tuple(ranges))

    def _keyword(self, word: str) -> bool:
        if self.index >= len(self.tokens):
            return False
        token = self.tokens[self.index]
        return token.kind == "word" and not token.quoted and token.text.lower() == word

    def _next(self, wanted: str, *, at: int | None = None) -> _Token:
        if self.index >= len(self.tokens):
            if at is not None:
                raise self._fail("this ( is never closed", at)
            raise self._fail(f"the filter ends where {wanted} should be", len(self.source))
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _fail(self, message: str, position: int, **details: Any) -> ValidationError:
        return _error(f"Bad filter: {message}", position, self.source, **details)


def text_before_value(word: str) -> str:
    return word.partition(":")[0] + ":"


def _start_of_day(day: date, zone: ZoneInfo) -> datetime:
    if day == date.min:
        return datetime.min.replace(tzinfo=UTC)
    return end_of_day(day - timedelta(days=1), zone) + _TICK


# --- SQL -----------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, user_id: uuid.UUID, now: datetime) -> None:
        self.user_id = user_id
        self.now = now

    def compile(self, node: Node, *, negated: bool) -> ColumnElement[bool]:
        """`node`'s condition, or its negation, two-valued (never NULL)."""
        if isinstance(node, Not):
            return self.compile(node.child, negated=not negated)
        if isinstance(node, And | Or):
            parts = [self.compile(child, negated=negated) for child in node.children]
            # De Morgan: a negated AND is an OR of the negations.
            conjunction = isinstance(node, And) != negated
            return and_(*parts) if conjunction else or_(*parts)
        condition = self.leaf(node)
        if not negated:
            return condition
        column = _nullable_column(node)
        if column is None:
            return not_(condition)
        return or_(column.is_(None), not_(condition))

    def leaf(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, TextTerm):
            return col(Task.search_text).like(f"%{_escaped(node.folded)}%", escape="\\")
        if isinstance(node, TagTerm):
            return exists(
                select(col(TaskTag.tag))
                .where(
                    col(TaskTag.user_id) == self.user_id,
                    col(TaskTag.task_id) == col(Task.id),
                    col(TaskTag.tag) == node.tag,
                )
                .correlate(Task)
            )
        if isinstance(node, StatusTerm):
            return self._status(node.statuses)
        if isinstance(node, DateTerm):
            column = col(getattr(Task, node.field))
            if node.present is not None:
                return column.is_not(None) if node.present else column.is_(None)
            if node.low is not None and node.low == node.high:
                return column == node.low
            bounds: list[ColumnElement[bool]] = []
            if node.low is not None:
                bounds.append(column >= node.low if node.low_inclusive else column > node.low)
            if node.high is not None:
                bounds.append(column <= node.high if node.high_inclusive else column < node.high)
            return and_(*bounds)
        if isinstance(node, PriorityTerm):
            if not node.values:
                return false()
            values = sorted(node.values)
            column = col(Task.priority)
            return column == values[0] if len(values) == 1 else column.in_(values)
        if isinstance(node, ProjectTerm):
            project = col(Task.project)
            if node.project is None:
                return project.is_(None)
            if node.exact:
                return project == node.project
            # The project and its subprojects, one index range in byte order: `house.`
            # up to `house/` (the character after `.`), never `housework`.
            return or_(
                project == node.project,
                and_(project >= f"{node.project}.", project < f"{node.project}/"),
            )
        if isinstance(node, IdTerm):
            number = col(Task.number)
            singles = [low for low, high in node.ranges if low == high]
            spans = [(low, high) for low, high in node.ranges if low != high]
            parts: list[ColumnElement[bool]] = []
            if singles:
                parts.append(number == singles[0] if len(singles) == 1 else number.in_(singles))
            parts.extend(number.between(low, high) for low, high in spans)
            return parts[0] if len(parts) == 1 else or_(*parts)
        if isinstance(node, Overdue):
            due = col(Task.due)
            return and_(~col(Task.is_completed), due.is_not(None), due < self.now)
        raise TypeError(f"not a filter leaf: {node!r}")

    def _status(self, statuses: frozenset[str]) -> ColumnElement[bool]:
        completed = col(Task.is_completed)
        wait = col(Task.wait)
        waiting = and_(wait.is_not(None), wait > self.now)
        if statuses >= set(STATUSES):
            return true()
        if statuses == {"pending", "waiting"}:
            return ~completed
        parts = {
            # `NOT is_completed` and `is_completed = true`: the conditions of the
            # pending-tasks and done-tasks partial indexes, spelled as they are.
            "pending": and_(~completed, not_(waiting)),
            "waiting": and_(~completed, waiting),
            "done": completed == true(),
        }
        chosen = [parts[name] for name in STATUSES if name in statuses]
        if not chosen:
            return false()
        return chosen[0] if len(chosen) == 1 else or_(*chosen)


def _nullable_column(node: Node) -> Any:
    if isinstance(node, DateTerm) and node.present is None and node.field != "created_at":
        return col(getattr(Task, node.field))
    if isinstance(node, ProjectTerm) and node.project is not None:
        return col(Task.project)
    return None


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- Python --------------------------------------------------------------------------------


def _status(task: TaskLike, now: datetime) -> str:
    if task.is_completed:
        return "done"
    if task.wait is not None and task.wait > now:
        return "waiting"
    return "pending"


def _evaluate(node: Node, task: TaskLike, now: datetime) -> bool:
    if isinstance(node, Not):
        return not _evaluate(node.child, task, now)
    if isinstance(node, And):
        return all(_evaluate(child, task, now) for child in node.children)
    if isinstance(node, Or):
        return any(_evaluate(child, task, now) for child in node.children)
    if isinstance(node, TextTerm):
        return node.folded in search_text(task.title, task.description)
    if isinstance(node, TagTerm):
        return node.tag in task.tags
    if isinstance(node, StatusTerm):
        return _status(task, now) in node.statuses
    if isinstance(node, DateTerm):
        value: datetime | None = getattr(task, node.field)
        if node.present is not None:
            return (value is not None) == node.present
        if value is None:
            return False
        if node.low is not None and (
            value < node.low or (value == node.low and not node.low_inclusive)
        ):
            return False
        return (
            node.high is None or value < node.high or (value == node.high and node.high_inclusive)
        )
    if isinstance(node, PriorityTerm):
        return task.priority in node.values
    if isinstance(node, ProjectTerm):
        if node.project is None:
            return task.project is None
        if task.project is None:
            return False
        if node.exact:
            return task.project == node.project
        return task.project == node.project or task.project.startswith(f"{node.project}.")
    if isinstance(node, IdTerm):
        return any(low <= task.number <= high for low, high in node.ranges)
    if isinstance(node, Overdue):
        return not task.is_completed and task.due is not None and task.due < now
    raise TypeError(f"not a filter node: {node!r}")


# --- sort ----------------------------------------------------------------------------------

# Each sort key and the task attribute it reads; nullable ones sort their missing values
# last in either direction.
SORT_KEYS: dict[str, str] = {
    "due": "due",
    "wait": "wait",
    "priority": "priority",
    "project": "project",
    "created": "created_at",
    "modified": "updated_at",
    "done": "completed_at",
    "id": "number",
}
_SORT_ALIASES = {"pri": "priority", "proj": "project", "updated": "modified", "number": "id"}
_NULLABLE = frozenset({"due", "wait", "project", "completed_at"})


class Sort:
    """Sort keys as (task attribute, descending), the task number last for stable pages."""

    __slots__ = ("keys",)

    def __init__(self, keys: tuple[tuple[str, bool], ...]) -> None:
        self.keys = keys

    def order_by(self) -> list[UnaryExpression[Any]]:
        clauses: list[UnaryExpression[Any]] = []
        for attribute, descending in self.keys:
            column = col(getattr(Task, attribute))
            clause = column.desc() if descending else column.asc()
            # NULLS LAST only where there can be nulls: on a NOT NULL key it would stop
            # PostgreSQL reading an index in order. Same meaning on both backends
            # (PostgreSQL's default for ascending, SQLite's NULLS LAST since 3.30).
            clauses.append(clause.nulls_last() if attribute in _NULLABLE else clause)
        return clauses

    def sorted(self, tasks: Iterable[_T]) -> list[_T]:
        """The same order in Python."""

        def compare(a: _T, b: _T) -> int:
            for attribute, descending in self.keys:
                x, y = getattr(a, attribute), getattr(b, attribute)
                if x == y:
                    continue
                if x is None or y is None:
                    return 1 if x is None else -1
                result = -1 if x < y else 1
                return -result if descending else result
            return 0

        return sorted(tasks, key=cmp_to_key(compare))


def parse_sort(text: str | None, *, default: Sequence[tuple[str, bool]] = ()) -> Sort:
    """`due,-priority,created` → a `Sort`; `-` sorts that key descending."""
    keys: list[tuple[str, bool]] = []
    if text is None or not text.strip():
        keys = list(default)
    else:
        offset = 0
        for item in text.split(","):
            word = item.strip()
            descending = word.startswith("-")
            name = word.lstrip("+-").lower()
            name = _SORT_ALIASES.get(name, name)
            if name not in SORT_KEYS:
                close = difflib.get_close_matches(name, SORT_KEYS, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]}?" if close else f"use {', '.join(SORT_KEYS)}"
                raise _error(
                    f"Bad sort: {shown(word)!r} is not a sort key ({hint}); put - before a key "
                    "to sort it descending, as in due,-priority",
                    offset + len(item) - len(item.lstrip()),
                    text,
                    field="sort",
                )
            keys.append((SORT_KEYS[name], descending))
            offset += len(item) + 1
    if not any(attribute == "number" for attribute, _ in keys):
        keys.append(("number", False))
    return Sort(tuple(keys))


# `todo next`: overdue first (they have the earliest due), then soonest due, then those
# without one, then priority, then oldest.
NEXT_SORT = parse_sort("due,-priority,created")
