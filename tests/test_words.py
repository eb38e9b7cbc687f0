"""Inline words and attribute values (SPEC → Giving attributes on the command line).

Pure functions: the words are given as a list, as Click would hand them over, and dates
resolve against a fixed `now` (Tuesday 2026-12-01 10:00 in Paris).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from todo_cli.cli._words import KEYS, Words, split_words
from todo_cli.errors import ValidationError
from todo_cli.service.attributes import (
    PRIORITY_VALUES,
    PROJECT_MAX_LENGTH,
    TAG_MAX_LENGTH,
    clean_project,
    clean_tag,
    is_project,
    is_tag,
    parse_priority,
    shown,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)


def add(*words: str) -> Words:
    return split_words(list(words), editing=False)


def edit(*words: str) -> Words:
    return split_words(list(words), editing=True)


# --- adding -------------------------------------------------------------------------------


def test_the_example_of_spec() -> None:
    words = add("Pay", "rent", "due:fri", "+home", "pri:H", "project:house")
    assert words.title == "Pay rent"
    assert words.given.get("due") == "fri"
    assert words.given.get("priority") == "H"
    assert words.given.get("project") == "house"
    assert words.tags_add == ("home",)
    assert words.tags_remove == ()
    assert words.cleared == frozenset()
    when = words.when("due", now=NOW, zone=PARIS)
    assert when is not None and when.day == date(2026, 12, 4)


@pytest.mark.parametrize(
    ("word", "field", "value"),
    [
        ("due:fri", "due", "fri"),
        ("due:2026-12-04T09:00+01:00", "due", "2026-12-04T09:00+01:00"),
        ("wait:mon", "wait", "mon"),
        ("pri:H", "priority", "H"),
        ("pri:m", "priority", "M"),
        ("priority:L", "priority", "L"),
        ("project:house", "project", "house"),
        ("proj:house.garden", "project", "house.garden"),
        ("project:Ünïcode-Proj_2", "project", "Ünïcode-Proj_2"),
    ],
)
def test_each_key_and_its_aliases(word: str, field: str, value: str) -> None:
    words = add("Title", word)
    assert words.given[field] == value
    assert words.title == "Title"
    assert words.has_attributes


@pytest.mark.parametrize(
    "word",
    [
        "http://x",
        "https://example.com/a:b",
        "10:30",
        "re:",
        "Re:fri",
        "C++",
        "+44",
        "+1-555-0100",
        "+",
        "++",
        "+-x",
        "++x",
        "+a,b",
        "+(x)",
        '+"x"',
        "+" + "a" * (TAG_MAX_LENGTH + 1),
        "-home",  # removing is for edit only
        "-",
        "Due:fri",
        "DUE:fri",
        "Pri:H",
        "due",
        ":fri",
        "todo:later",
        "x:y:z",
        "tag:home",
        "@home",
        "a+b",
        "",
        "two words",
        "+two words",
    ],
)
def test_a_word_that_is_not_wholly_an_attribute_is_title_text(word: str) -> None:
    words = add("Call", word, "back")
    assert words.title == f"Call {word} back"
    assert not words.has_attributes


def test_after_double_dash_everything_is_title_text() -> None:
    words = add("Pay", "due:fri", "--", "due:someday", "+home", "pri:Z", "--", "-x")
    assert words.given.get("due") == "fri"
    assert words.title == "Pay due:someday +home pri:Z -- -x"
    assert words.tags_add == ()


def test_a_title_may_be_only_double_dash_words() -> None:
    assert add("--", "--").title == "--"
    assert add("--").title == ""
    assert add().title == ""


def test_tags_keep_their_order_and_case_and_repeats_count_once() -> None:
    words = add("x", "+b", "+a", "+b", "+A", "+été")
    assert words.tags_add == ("b", "a", "A", "été")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["x", "due:someday"], 'todo add -- "due:someday"'),
        (["x", "due:someday"], "is not a date"),
        (["x", "due:12/4"], "slash dates"),
        (["x", "due:+3m"], "mo for months"),
        (["x", "wait:som"], 'todo add -- "wait:som"'),
        (["x", "pri:Z"], 'todo add -- "pri:Z"'),
        (["x", "pri:Z"], "use H, M or L"),
        (["x", "priority:high"], "is not a priority"),
        (["x", "project:a..b"], 'todo add -- "project:a..b"'),
        (["x", "project:a b"], "is not a project"),
        (["x", "project:.house"], "is not a project"),
        (["x", "proj:" + "p" * (PROJECT_MAX_LENGTH + 1)], "is not a project"),
        (["x", "due:"], "due: needs a value, as in due:fri; to put such text in the title, use --"),
        (["x", "pri:"], "pri: needs a value, as in pri:H"),
        (["x", "project:"], "project: needs a value"),
        (["x", "wait:"], "wait: needs a value"),
        (["x", "due:it's"], "todo add -- 'due:it'\"'\"'s'"),
        (["x", "due:fri", "due:mon"], "due is given twice (due:fri and due:mon)"),
        (["x", "pri:H", "priority:L"], "priority is given twice"),
        (["x", "project:a", "proj:b"], "project is given twice"),
    ],
)
def test_a_known_key_with_a_bad_value_says_how_to_put_it_in_the_title(
    words: list[str], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        words_ = split_words(words, editing=False)
        words_.when("due", now=NOW, zone=PARIS)
        words_.when("wait", now=NOW, zone=PARIS)
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_a_bad_date_keeps_the_word_and_the_grammars_details() -> None:
    words = add("x", "due:2026-03-29T02:30")
    with pytest.raises(ValidationError) as caught:
        words.when("due", now=NOW, zone=PARIS)
    assert "does not exist in Europe/Paris" in caught.value.message
    assert 'todo add -- "due:2026-03-29T02:30"' in caught.value.message
    assert caught.value.details["word"] == "due:2026-03-29T02:30"
    assert caught.value.details["zone"] == "Europe/Paris"


def test_when_is_none_for_a_date_not_given_and_resolves_wait_too() -> None:
    words = add("x", "wait:tom@9am")
    assert words.when("due", now=NOW, zone=PARIS) is None
    wait = words.when("wait", now=NOW, zone=PARIS)
    assert wait is not None and wait.day is None
    assert wait.instant.astimezone(PARIS) == datetime(2026, 12, 2, 9, 0, tzinfo=PARIS)


def test_eow_follows_week_start_through_when() -> None:
    words = add("x", "due:eow")
    sunday_start = words.when("due", now=NOW, zone=PARIS, week_start=6)
    assert sunday_start is not None and sunday_start.day == date(2026, 12, 5)


# --- editing ------------------------------------------------------------------------------


def test_edit_takes_the_same_words_removes_tags_and_clears_empty_values() -> None:
    words = edit("due:mon", "-errand", "+home", "pri:", "project:", "wait:")
    assert words.given.get("due") == "mon"
    assert words.tags_add == ("home",)
    assert words.tags_remove == ("errand",)
    assert words.cleared == {"priority", "project", "wait"}
    assert set(words.given) == {"due"}
    assert words.title == ""
    assert words.when("wait", now=NOW, zone=PARIS) is None


def test_clearing_due_through_its_alias() -> None:
    assert edit("due:").cleared == {"due"}
    assert edit("priority:").cleared == {"priority"}
    assert edit("proj:").cleared == {"project"}
    assert edit("proj:").has_attributes


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["oops"], "'oops' is not an attribute"),
        (["oops"], "--title"),
        (["due:fri", "Buy", "milk"], "'Buy' is not an attribute"),
        (["+44"], "'44' is not a tag"),
        (["-44"], "'44' is not a tag"),
        (["Due:fri"], "keys are lowercase: due:"),
        (["--", "new title"], "--title"),
        (["pri:Z"], '--title "pri:Z"'),
        (["due:someday"], '--title "due:someday"'),
        (["+home", "-home"], "+home and -home contradict each other"),
        (["pri:", "pri:H"], "priority is given twice"),
    ],
)
def test_edit_refuses_title_words_and_bad_values(words: list[str], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        split_words(words, editing=True).when("due", now=NOW, zone=PARIS)
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_nothing_given_has_no_attributes() -> None:
    assert not edit().has_attributes
    assert edit("+x").has_attributes
    assert edit("-x").has_attributes


# --- attribute values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "home",
        "a",
        "A1",
        "été",
        "日本",
        "x" * TAG_MAX_LENGTH,
        "a-b",
        "a.b",
        "a:b",
        "a+",
        "c++",
        "@home",
        "#1x",
        "x_y",
    ],
)
def test_valid_tags(tag: str) -> None:
    assert is_tag(tag)
    assert clean_tag(tag) == tag


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "44",
        "+1",
        "-x",
        "+x",
        "a b",
        "a\tb",
        "a,b",
        "a'b",
        'a"b',
        "a(b",
        "a)b",
        "a`b",
        "x" * (TAG_MAX_LENGTH + 1),
        "a\x00",
        "a\u200bb",
        "a\u202eb",
        "\ud800a",
        "a\nb",
        "!!!",
        "a\u00a0b",
    ],
)
def test_invalid_tags(tag: str) -> None:
    assert not is_tag(tag)
    with pytest.raises(ValidationError) as caught:
        clean_tag(tag)
    assert "at least one letter" in caught.value.message
    assert caught.value.details == {"field": "tags", "value": tag}


@pytest.mark.parametrize(
    "project",
    ["house", "house.garden", "a.b.c", "Work-2026", "p" * PROJECT_MAX_LENGTH, "44", "été.été"],
)
def test_valid_projects(project: str) -> None:
    assert is_project(project)
    assert clean_project(project) == project


@pytest.mark.parametrize(
    "project",
    [
        "",
        ".house",
        "house.",
        "house..garden",
        ".",
        "a b",
        "a,b",
        "a(b)",
        "a'b",
        "p" * (PROJECT_MAX_LENGTH + 1),
        "a\x07",
        "a\u200bb",
    ],
)
def test_invalid_projects(project: str) -> None:
    assert not is_project(project)
    with pytest.raises(ValidationError, match="is not a project"):
        clean_project(project)


@pytest.mark.parametrize(("text", "priority"), [("H", "H"), ("h", "H"), ("M", "M"), ("l", "L")])
def test_priorities(text: str, priority: str) -> None:
    assert parse_priority(text) == priority


@pytest.mark.parametrize("text", ["", "X", "HH", "high", "1", "none", " H"])
def test_invalid_priorities(text: str) -> None:
    with pytest.raises(ValidationError, match="use H, M or L"):
        parse_priority(text)


def test_priorities_sort_h_m_none_l() -> None:
    assert PRIORITY_VALUES["H"] > PRIORITY_VALUES["M"] > 0 > PRIORITY_VALUES["L"]


def test_shown_cuts_long_text_to_one_readable_line() -> None:
    assert shown("short") == "short"
    assert shown("x" * 100) == "x" * 39 + "…"


# --- properties ---------------------------------------------------------------------------

# Words that are title text by SPEC's rule whatever their content: no colon, and not
# starting with + or -.
title_words = st.text(min_size=1, max_size=12).filter(
    lambda word: ":" not in word and word[:1] not in ("+", "-") and word != "--"
)
valid_tags = st.text(
    alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=TAG_MAX_LENGTH
).filter(lambda tag: any(char.isalpha() for char in tag))
attribute_words = st.one_of(
    st.sampled_from(["due:fri", "wait:tom", "pri:H", "project:house.garden"]),
    valid_tags.map(lambda tag: f"+{tag}"),
)


@given(st.lists(st.one_of(title_words, attribute_words), max_size=12))
def test_title_words_are_kept_in_order_and_attributes_are_taken_out(words: list[str]) -> None:
    keys = [word.partition(":")[0] for word in words if ":" in word]
    if len(keys) != len({KEYS[key] for key in keys}):
        return  # a key given twice is an error, tested by example
    result = add(*words)
    assert result.title == " ".join(word for word in words if ":" not in word and word[0] != "+")
    assert set(result.tags_add) == {word[1:] for word in words if word[0] == "+"}


@given(st.lists(st.text(max_size=10), max_size=8), st.lists(st.text(max_size=10), max_size=8))
def test_everything_after_double_dash_is_kept_verbatim(before: list[str], after: list[str]) -> None:
    before = [word for word in before if word != "--"]
    try:
        result = add(*before, "--", *after)
    except ValidationError:
        return  # a bad attribute before `--`
    assert result.title.endswith(" ".join(after))


@given(valid_tags)
def test_a_valid_tag_is_always_taken_as_a_tag(tag: str) -> None:
    assert is_tag(tag)
    assert add("x", f"+{tag}").tags_add == (tag,)
    assert edit(f"-{tag}").tags_remove == (tag,)


@given(st.text(max_size=70))
def test_is_tag_and_clean_tag_agree(text: str) -> None:
    try:
        assert clean_tag(text) == text and is_tag(text)
    except ValidationError:
        assert not is_tag(text)


@given(
    words=st.lists(
        st.one_of(
            st.text(max_size=20),
            st.builds(
                lambda key, value: f"{key}:{value}",
                st.sampled_from(sorted(KEYS)),
                st.text(max_size=15),
            ),
            st.text(max_size=10).map(lambda text: f"+{text}"),
            st.text(max_size=10).map(lambda text: f"-{text}"),
            st.just("--"),
        ),
        max_size=10,
    ),
    editing=st.booleans(),
)
def test_any_words_give_words_or_a_validation_error(words: list[str], editing: bool) -> None:
    try:
        result = split_words(words, editing=editing)
        result.when("due", now=NOW, zone=PARIS)
        result.when("wait", now=NOW, zone=PARIS)
    except ValidationError as error:
        assert "\n" not in error.message
        return
    if editing:
        assert result.title == ""
    assert all(is_tag(tag) for tag in result.tags_add + result.tags_remove)
