"""The OpenAPI patterns promise exactly what the service accepts, no more and no less.

schemathesis generates titles from `TITLE_PATTERN` and expects them accepted, and
generates strings outside it and expects them refused; these tests make sure that holds
for every character, not only for the ones a fuzzer happens to try.
"""

from __future__ import annotations

import re
import sys

from hypothesis import given
from hypothesis import strategies as st

from todo_cli.api.schemas import DESCRIPTION_PATTERN, TITLE_PATTERN
from todo_cli.errors import ValidationError
from todo_cli.service import clean_description, clean_title

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
