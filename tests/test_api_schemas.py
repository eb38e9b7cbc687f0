"""The OpenAPI patterns promise exactly what the service accepts, no more and no less.

schemathesis generates titles from `TITLE_PATTERN` and expects them accepted, and
generates strings outside it and expects them refused; these tests make sure that holds
for every character, not only for the ones a fuzzer happens to try.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from todo_cli.api.schemas import (
    DATE_SCHEMA,
    DESCRIPTION_PATTERN,
    TITLE_PATTERN,
    check_http_date,
    project_schema,
    tag_schema,
)
from todo_cli.errors import ValidationError
from todo_cli.service import clean_description, clean_title
from todo_cli.service.attributes import clean_project, clean_tag
from todo_cli.service.validation import clean_task_fields

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

TITLE = re.compile(TITLE_PATTERN)
DESCRIPTION = re.compile(DESCRIPTION_PATTERN)


def service_accepts_title(title: str) -> bool:
    try:
        clean_title(title)
    except ValidationError:
        return False
    return True


def test_title_pattern_agrees_with_the_service_on_every_character() -> None:
    disagreements = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue  # lone surrogates cannot travel in UTF-8 JSON
        for title in (char, f"a{char}b", f"{char}a", f"a{char}"):
            if bool(TITLE.fullmatch(title)) != service_accepts_title(title):
                disagreements.append(title)
    assert disagreements == []


def test_title_pattern_agrees_on_length_after_stripping() -> None:
    for title in [
        "x" * 255,
        "x" * 256,
        " " * 300 + "x" * 255 + "\t" * 9,
        "x" + " " * 253 + "y",
        "x" + " " * 254 + "y",
        "  ",
        "",
    ]:
        assert bool(TITLE.fullmatch(title)) == service_accepts_title(title), repr(title)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_title_pattern_agrees_with_the_service_on_any_text(title: str) -> None:
    assert bool(TITLE.fullmatch(title)) == service_accepts_title(title)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=50))
def test_description_pattern_agrees_with_the_service(description: str) -> None:
    try:
        clean_description(description)
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(DESCRIPTION.fullmatch(description)) == accepted


# --- attributes: tags, projects, dates -------------------------------------------------------


def _schema_accepts(schema: dict[str, Any], value: str) -> bool:
    """JSON Schema's meaning: a search for the pattern, plus the length bounds."""
    if not schema["minLength"] <= len(value) <= schema["maxLength"]:
        return False
    return re.search(schema["pattern"], value) is not None


TAG_SCHEMA = tag_schema()
PROJECT_SCHEMA = project_schema()["anyOf"][0]


def _service_accepts(clean: Callable[[str], str], value: str) -> bool:
    try:
        clean(value)
    except ValidationError:
        return False
    return True


def test_tag_and_project_patterns_agree_with_the_service_on_every_character() -> None:
    disagreements = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        for value in (char, f"a{char}", f"{char}a", f"a{char}b"):
            if _schema_accepts(TAG_SCHEMA, value) != _service_accepts(clean_tag, value):
                disagreements.append(("tag", value))
            if _schema_accepts(PROJECT_SCHEMA, value) != _service_accepts(clean_project, value):
                disagreements.append(("project", value))
    assert disagreements == []


_PIECES = st.sampled_from(["a", "é", "1", "+", "-", ".", " ", ",", "_", "\u200b", "日", "x"])


@given(st.lists(_PIECES, max_size=70).map("".join) | st.text(max_size=70))
def test_tag_and_project_patterns_agree_with_the_service_on_any_text(value: str) -> None:
    assert _schema_accepts(TAG_SCHEMA, value) == _service_accepts(clean_tag, value)
    assert _schema_accepts(PROJECT_SCHEMA, value) == _service_accepts(clean_project, value)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("2026-12-04", True),
        ("2026-12-04T09:00:00Z", True),
        ("2026-12-04t09:00:00.123456+01:00", True),
        ("0001-01-02T00:00:00+23:59", True),
        ("9999-12-30T23:59:59-23:59", True),
        ("0001-01-01", False),
        ("9999-12-31T00:00:00Z", False),
        ("2026-12-04T09:00", False),  # a date-time needs its offset over HTTP
        ("2026-12-04 09:00:00Z", False),
        ("fri", False),
        ("2026-12-04T09:00:00.1234567Z", False),
    ],
)
def test_http_dates_are_iso_days_or_rfc3339_date_times(value: str, accepted: bool) -> None:
    try:
        check_http_date(value)
    except PydanticCustomError:
        assert not accepted
    else:
        assert accepted


_RFC3339 = st.builds(
    "{}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.dates().map(str),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.just("") | st.text("0123456789", min_size=1, max_size=6).map(".".__add__),
    st.just("Z")
    | st.builds(
        "{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)
    ),
)


@given(st.dates().map(str) | _RFC3339)
def test_every_date_the_document_allows_is_stored(value: str) -> None:
    """What schemathesis generates from DATE_SCHEMA: valid by the pattern means valid."""
    allowed = re.search(DATE_SCHEMA["anyOf"][0]["pattern"], value) is not None
    try:
        check_http_date(value)
        clean_task_fields({"due": value}, zone=ZoneInfo("Pacific/Kiritimati"), now=NOW)
        clean_task_fields({"due": value}, zone=ZoneInfo("Etc/GMT+12"), now=NOW)
        stored = True
    except (PydanticCustomError, ValidationError):
        stored = False
    assert stored == allowed, value


def test_the_stored_character_classes_are_those_of_this_unicode_database() -> None:
    """`_unicode_classes.py` is current (else `python -m todo_cli.api.schemas` rewrites it)."""
    import unicodedata

    from todo_cli.api import _unicode_classes
    from todo_cli.api.schemas import compute_character_classes

    assert _unicode_classes.UNICODE_VERSION == unicodedata.unidata_version
    assert _unicode_classes.CLASSES == compute_character_classes()
