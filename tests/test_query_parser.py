"""The filter language's parser on its own: the tree it builds, what each term means in
Python, and errors with a position and a suggestion (SPEC → Finding: filters, sort, search).

No database here: `Filter.matches` is the plain-Python meaning that the differential test
(tests/test_query_backends.py) holds both backends to.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from todo_cli.errors import ValidationError
from todo_cli.service.query import (
    And,
    DateTerm,
    Filter,
    IdTerm,
    Not,
    Or,
    Overdue,
    PriorityTerm,
    ProjectTerm,
    StatusTerm,
    TagTerm,
    TaskView,
    TextTerm,
    caret,
    join_words,
    parse_filter,
    parse_sort,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday
PARIS = ZoneInfo("Europe/Paris")
UTC_ZONE = ZoneInfo("UTC")


def parse(text: str, zone: ZoneInfo = UTC_ZONE) -> Filter:
    return parse_filter(text, now=NOW, zone=zone)


def task(**values: object) -> TaskView:
    base: dict[str, object] = {
        "number": 1,
        "title": "Buy milk",
        "description": None,
        "is_completed": False,
        "created_at": NOW - timedelta(days=3),
        "updated_at": NOW - timedelta(days=3),
        "due": None,
        "wait": None,
        "priority": 0,
        "project": None,
        "completed_at": None,
        "tags": [],
    }
    return TaskView(**{**base, **values})  # type: ignore[arg-type]


# --- the tree ---------------------------------------------------------------------------


def test_juxtaposition_is_and_and_binds_tighter_than_or() -> None:
    node = parse("a b or c and not d").node
    assert node == Or(
        (And((TextTerm("a"), TextTerm("b"))), And((TextTerm("c"), Not(TextTerm("d")))))
    )


def test_parentheses_group() -> None:
    assert parse("(a or b) c").node == And((Or((TextTerm("a"), TextTerm("b"))), TextTerm("c")))


def test_terms() -> None:
    assert parse("+home").node == TagTerm("home")
    assert parse("tag:home").node == TagTerm("home")
    assert parse("-home").node == Not(TagTerm("home"))  # as `todo edit 3 -home` removes it
    assert parse('-"buy milk"').node == Not(TextTerm("buy milk"))
    assert parse("-project:house").node == Not(ProjectTerm("house"))
    assert parse("project:house").node == ProjectTerm("house")
    assert parse("proj.is:house").node == ProjectTerm("house", exact=True)
    assert parse("project:").node == ProjectTerm(None, exact=True)
    assert parse("pri:H,m").node == PriorityTerm(frozenset({3, 2}))
    assert parse("priority.above:L").node == PriorityTerm(frozenset({0, 2, 3}))
    assert parse("pri.below:M").node == PriorityTerm(frozenset({0, -1}))
    assert parse("pri:none").node == PriorityTerm(frozenset({0}))
    assert parse("id:3,5-9").node == IdTerm(((3, 3), (5, 9)))
    assert parse("is:overdue").node == Overdue()
    assert parse("status:all").node == StatusTerm(frozenset({"pending", "waiting", "done"}))
    assert parse("due:none").node == DateTerm("due", present=False)
    assert parse("done:any").node == DateTerm("completed_at", present=True)


def test_bare_numbers_and_colon_words_without_a_field_name_are_text() -> None:
    assert parse("42").node == TextTerm("42")
    assert parse("10:30").node == TextTerm("10:30")
    assert parse('"http://x"').node == TextTerm("http://x")
    assert parse('"or"').node == TextTerm("or")


def test_text_is_case_folded_unicode() -> None:
    assert parse("ÉTÉ").node == TextTerm("été")
    assert parse("STRASSE").node == parse("straße").node == TextTerm("strasse")


def test_a_day_compares_by_whole_days_in_the_zone() -> None:
    # Friday 4 December 2026 in Paris: 3 Dec 23:00 UTC to 4 Dec 22:59:59.999999 UTC.
    start = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    end = datetime(2026, 12, 4, 22, 59, 59, 999999, tzinfo=UTC)
    assert parse("due.on:fri", PARIS).node == DateTerm("due", low=start, high=end)
    assert parse("due:2026-12-04", PARIS).node == DateTerm("due", low=start, high=end)
    assert parse("due.by:fri", PARIS).node == DateTerm("due", high=end)
    assert parse("due.before:fri", PARIS).node == DateTerm("due", high=start, high_inclusive=False)
    assert parse("due.after:fri", PARIS).node == DateTerm("due", low=end, low_inclusive=False)


def test_an_instant_compares_exactly() -> None:
    moment = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert parse("due.before:2026-12-04T09:00Z").node == DateTerm(
        "due", high=moment, high_inclusive=False
    )
    assert parse("wait.on:2026-12-04T09:00Z").node == DateTerm("wait", low=moment, high=moment)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", False),
        ("+x", False),
        ("status:done", True),
        ("not id:3", True),
        ("(a or status:all)", True),
    ],
)
def test_status_and_id_turn_the_default_off(text: str, names: bool) -> None:
    assert parse(text).names_status is names


# --- meaning -------------------------------------------------------------------------------


def test_the_default_is_pending_and_not_waiting() -> None:
    empty = parse("")
    assert empty.matches(task())
    assert not empty.matches(task(is_completed=True))
    assert not empty.matches(task(wait=NOW + timedelta(hours=1)))
    assert empty.matches(task(wait=NOW - timedelta(hours=1)))  # its wait is over
    assert parse("status:waiting").matches(task(wait=NOW + timedelta(hours=1)))
    assert parse("id:1").matches(task(is_completed=True))


def test_projects_are_a_hierarchy_never_a_prefix() -> None:
    house = parse("project:house")
    assert house.matches(task(project="house"))
    assert house.matches(task(project="house.garden"))
    assert not house.matches(task(project="housework"))
    assert not house.matches(task(project=None))
    assert not parse("project.is:house").matches(task(project="house.garden"))
    assert parse("-project:house").matches(task(project=None))


def test_text_matches_title_or_description_as_substrings_any_case() -> None:
    assert parse("MILK").matches(task())
    assert parse('"buy milk"').matches(task())
    assert not parse('"milk buy"').matches(task())
    assert parse("corner").matches(task(description="From the Corner shop"))
    assert parse("ÉTÉ").matches(task(title="été à Paris"))
    assert parse("100%").matches(task(title="100% done"))
    assert not parse("100%").matches(task(title="1000 done"))


def test_negation_of_a_missing_value_is_true() -> None:
    assert parse("not due.before:fri").matches(task(due=None))
    assert not parse("due.before:fri").matches(task(due=None))


def test_overdue_is_pending_and_due_before_now() -> None:
    overdue = parse("is:overdue")
    assert overdue.matches(task(due=NOW - timedelta(minutes=1)))
    assert not overdue.matches(task(due=NOW + timedelta(minutes=1)))
    assert not parse("is:overdue status:all").matches(
        task(due=NOW - timedelta(days=1), is_completed=True)
    )


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("projct:house", 0, "did you mean project?"),
        ("+x stauts:done", 3, "did you mean status?"),
        ("prio:H", 0, "did you mean priority?"),
        ("due.befor:fri", 4, "due.before"),
        ("project.under:x", 8, "project.is"),
        ("due:someday", 4, "not a date"),
        ("due.before:none", 11, "needs a date"),
        ("pri:X", 4, "H, M, L"),
        ("pri.above:H,M", 10, "one priority"),
        ("status:open", 7, "pending, waiting, done or all"),
        ("id:3,x", 5, "task number"),
        ("id:9-5", 3, "lower number first"),
        ("is:late", 3, "overdue"),
        ("+", 0, "not a tag"),
        ("(a or b", 0, "never closed"),
        ("a )", 2, "no ("),
        ("a or", 4, "ends"),
        ('a "b', 2, "quote is never closed"),
        ("or a", 0, "quote it"),
        ("http://example.com", 0, 'quote it: "http://example.com"'),
    ],
)
def test_errors_say_where_and_what(text: str, position: int, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(text)
    error = caught.value
    assert error.details["position"] == position, error.message
    assert error.details["filter"] == text
    assert words in error.message
    assert error.message.startswith("Bad filter: ")
    assert "\n" not in error.message
    pointer = caret(error)
    assert pointer is not None
    line, mark = pointer.splitlines()
    assert line == f"  {text}" and mark == "  " + " " * position + "^"


# --- command-line words -----------------------------------------------------------------


def test_a_word_with_spaces_is_a_phrase_unless_it_is_filter_text() -> None:
    assert join_words(["buy milk", "+x"]) == '"buy milk" +x'
    assert join_words(["(a or +b)"]) == "(a or +b)"
    assert join_words(["project:house +errand"]) == "project:house +errand"
    assert join_words(['"buy milk"']) == '"buy milk"'
    assert parse_filter(["buy milk"], now=NOW, zone=PARIS).node == TextTerm("buy milk")


# --- sort ----------------------------------------------------------------------------------


def test_sort_keys_with_the_number_appended() -> None:
    assert parse_sort("due,-priority,created").keys == (
        ("due", False),
        ("priority", True),
        ("created_at", False),
        ("number", False),
    )
    assert parse_sort("-id").keys == (("number", True),)


def test_sort_puts_missing_values_last_either_way() -> None:
    early, late = NOW, NOW + timedelta(days=1)
    tasks = [task(number=1), task(number=2, due=late), task(number=3, due=early)]
    assert [t.number for t in parse_sort("due").sorted(tasks)] == [3, 2, 1]
    assert [t.number for t in parse_sort("-due").sorted(tasks)] == [2, 3, 1]


def test_a_bad_sort_key_suggests_one() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_sort("due,-prioity")
    assert "did you mean priority?" in caught.value.message
    assert caught.value.details["position"] == 4
