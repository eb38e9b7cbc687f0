"""Hypothesis strategies for bad input, shared by the CLI and API property tests.

`nasty_text` reaches what a person, a script or an attacker might send: control
characters, NUL, lone surrogates, SQL-looking text, right-to-left and bidi overrides,
emoji sequences, whitespace of every kind, numbers and UUIDs in odd spellings, and
strings far longer than any limit.
"""

from __future__ import annotations

from hypothesis import strategies as st

from todo_cli.service import DESCRIPTION_MAX_LENGTH

SAMPLES: tuple[str, ...] = (
    "",
    " ",
    "   \t  ",
    "\n",
    "\r\n",
    "\u3000\u00a0\u2003",  # ideographic, no-break and em spaces: whitespace to str.strip()
    "\u200b",  # zero-width space: not whitespace to str.strip()
    "\ufeff",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\x1b[31mred\x1b[0m",
    "\x07\x08\x7f\x85\x9b",
    "'; DROP TABLE tasks; --",
    "Robert'); DROP TABLE users;--",
    "1 OR 1=1",
    "' OR ''='",
    "%",
    "_",
    "\\",
    '"',
    "NULL",
    "null",
    "None",
    "true",
    "[bold red]markup[/]",
    ":smile:",
    "${HOME} $(id) `id`",
    "مرحبا بالعالم",
    "שלום עולם",
    "\u202eevil\u202c",
    "\u2066isolate\u2069",
    "🙂",
    "👨\u200d👩\u200d👧\u200d👦",
    "👍🏽",
    "🇺🇳",
    "e\u0301",
    "Ω≈ç√∫",
    "\U0010ffff",
    "-",
    "--",
    "-x",
    "--json",
    "--help",
    "0",
    "00",
    "-1",
    "1",
    " 1 ",
    "+1",
    "1.5",
    "1e3",
    "1_000",
    "0x1f",
    "٣",  # Arabic-Indic digit three: int() reads it, [0-9] does not
    "１",  # fullwidth digit one
    "²",
    "9" * 20,
    "1" * 5000,  # beyond Python's 4,300-digit int() limit
    "dead",
    "DEAD-BEEF",
    "deadbeef" * 5,
    "00000000-0000-0000-0000-000000000000",
    "{00000000-0000-0000-0000-000000000000}",
    "urn:uuid:00000000-0000-0000-0000-000000000000",
    "x" * 255,
    "x" * 256,
    " " * 300 + "x",
    "é" * 256,
    "🙂" * 255,
)

# Every code point, lone surrogates and control characters included.
any_character = st.characters(exclude_categories=()) | st.characters(
    min_codepoint=0xD800, max_codepoint=0xDFFF
)

nasty_text: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(SAMPLES),
    st.text(any_character, max_size=40),
    st.text(max_size=300),
    st.uuids().map(str),
    st.integers().map(str),
    st.builds(lambda char, count: char * count, any_character, st.integers(250, 3000)),
)

# A description just over the limit, and one of 10 MB.
TOO_LONG_DESCRIPTION = "d" * (DESCRIPTION_MAX_LENGTH + 1)
TEN_MEGABYTES = "x" * (10 * 1024 * 1024)
