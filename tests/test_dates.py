"""The date grammar (SPEC → Dates and time zones): every word by example, DST, pitfalls.

`now` is fixed at Tuesday 2026-12-01 10:00 on the wall clock of each zone, so one table of
expectations holds in Paris, New York and UTC; the DST tests use the days the clocks
change in 2026.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from todo_cli.errors import ValidationError
from todo_cli.service.dates import (
    MONTHS,
    WEEKDAYS,
    WORDS,
    When,
    canonical,
    describe,
    end_of_day,
    local_zone,
    parse_when,
    relative,
    resolve_zone,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
ZONES = [PARIS, NEW_YORK, UTC_ZONE]
# Zones with every kind of offset: half hours, 45 minutes, a 30-minute DST (Lord Howe),
# DST in the southern summer, a gap at midnight (Havana), no DST at all.
ODD_ZONES = [
    ZoneInfo(name)
    for name in (
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "America/St_Johns",
        "America/Santiago",
        "America/Havana",
        "Pacific/Auckland",
        "Asia/Tokyo",
    )
]
ALL_ZONES = ZONES + ODD_ZONES
LAST_MICROSECOND = time(23, 59, 59, 999999)
ONE_MICROSECOND = timedelta(microseconds=1)


def tuesday(zone: ZoneInfo) -> datetime:
    return datetime(2026, 12, 1, 10, 0, tzinfo=zone)


def parse(text: str, zone: ZoneInfo = PARIS, now: datetime | None = None) -> When:
    return parse_when(text, now=now or tuesday(zone), zone=zone)


def local(when: When, zone: ZoneInfo) -> datetime:
    return when.instant.astimezone(zone).replace(tzinfo=None)


# --- every word, by example ---------------------------------------------------------------

DAYS = [
    ("today", date(2026, 12, 1)),
    ("eod", date(2026, 12, 1)),
    ("TODAY", date(2026, 12, 1)),
    ("tomorrow", date(2026, 12, 2)),
    ("tom", date(2026, 12, 2)),
    ("yesterday", date(2026, 11, 30)),
    # weekdays: the next such day, today included
    ("tue", date(2026, 12, 1)),
    ("tuesday", date(2026, 12, 1)),
    ("wed", date(2026, 12, 2)),
    ("fri", date(2026, 12, 4)),
    ("Fri", date(2026, 12, 4)),
    ("friday", date(2026, 12, 4)),
    ("sat", date(2026, 12, 5)),
    ("sun", date(2026, 12, 6)),
    ("mon", date(2026, 12, 7)),
    ("monday", date(2026, 12, 7)),
    ("thu", date(2026, 12, 3)),
    # ends of periods; weeks start on Monday
    ("eow", date(2026, 12, 6)),
    ("eom", date(2026, 12, 31)),
    ("eoy", date(2026, 12, 31)),
    # day offsets keep a day
    ("+3d", date(2026, 12, 4)),
    ("3d", date(2026, 12, 4)),
    ("-2d", date(2026, 11, 29)),
    ("2w", date(2026, 12, 15)),
    ("+1mo", date(2027, 1, 1)),
    ("+1y", date(2027, 12, 1)),
    ("+0d", date(2026, 12, 1)),
    ("eom+1d", date(2027, 1, 1)),
    ("fri+1w", date(2026, 12, 11)),
    ("fri-1w", date(2026, 11, 27)),
    ("tom+1mo-1d", date(2027, 1, 1)),
    ("eoy+1d", date(2027, 1, 1)),
    # days of months: the next such date, today included
    ("dec4", date(2026, 12, 4)),
    ("4dec", date(2026, 12, 4)),
    ("december4", date(2026, 12, 4)),
    ("dec1", date(2026, 12, 1)),
    ("nov30", date(2027, 11, 30)),
    ("jan1", date(2027, 1, 1)),
    ("31dec", date(2026, 12, 31)),
    ("feb29", date(2028, 2, 29)),
    ("dec4+1d", date(2026, 12, 5)),
    # ISO dates
    ("2026-12-04", date(2026, 12, 4)),
    ("2025-01-01", date(2025, 1, 1)),
    ("2028-02-29", date(2028, 2, 29)),
    ("2026-12-04+1w", date(2026, 12, 11)),
    ("2026-12-04-2d", date(2026, 12, 2)),
    ("  fri  ", date(2026, 12, 4)),
]


@pytest.mark.parametrize("zone", ZONES, ids=str)
@pytest.mark.parametrize(("text", "day"), DAYS, ids=[text for text, _ in DAYS])
def test_a_day_phrase_is_that_day_ending_at_its_last_microsecond(
    text: str, day: date, zone: ZoneInfo
) -> None:
    when = parse(text, zone)
    assert when.day == day
    assert when.is_day
    assert local(when, zone) == datetime.combine(day, LAST_MICROSECOND)
    assert when.instant.tzinfo is UTC


INSTANTS = [
    ("now", datetime(2026, 12, 1, 10, 0)),
    ("+3h", datetime(2026, 12, 1, 13, 0)),
    ("3h", datetime(2026, 12, 1, 13, 0)),
    ("+90min", datetime(2026, 12, 1, 11, 30)),
    ("90min", datetime(2026, 12, 1, 11, 30)),
    ("-30min", datetime(2026, 12, 1, 9, 30)),
    ("now+1d", datetime(2026, 12, 2, 10, 0)),
    ("now-1w", datetime(2026, 11, 24, 10, 0)),
    ("now+3h", datetime(2026, 12, 1, 13, 0)),
    ("+1d+3h", datetime(2026, 12, 2, 13, 0)),
    ("fri@9am", datetime(2026, 12, 4, 9, 0)),
    ("fri@9", datetime(2026, 12, 4, 9, 0)),
    ("fri@9:30am", datetime(2026, 12, 4, 9, 30)),
    ("fri@9pm", datetime(2026, 12, 4, 21, 0)),
    ("fri@12am", datetime(2026, 12, 4, 0, 0)),
    ("fri@12pm", datetime(2026, 12, 4, 12, 0)),
    ("fri@0", datetime(2026, 12, 4, 0, 0)),
    ("fri@23:59:30", datetime(2026, 12, 4, 23, 59, 30)),
    ("tom@17:30", datetime(2026, 12, 2, 17, 30)),
    ("tom@5:30PM", datetime(2026, 12, 2, 17, 30)),
    ("@5pm", datetime(2026, 12, 1, 17, 0)),
    ("@9am", datetime(2026, 12, 1, 9, 0)),
    ("@9am+2h", datetime(2026, 12, 1, 11, 0)),
    ("+1d@9am", datetime(2026, 12, 2, 9, 0)),
    ("fri+1w@9am", datetime(2026, 12, 11, 9, 0)),
    ("fri@9am+1w", datetime(2026, 12, 11, 9, 0)),
    ("fri@9am+90min", datetime(2026, 12, 4, 10, 30)),
    ("eom@18:00", datetime(2026, 12, 31, 18, 0)),
    ("dec4@9am", datetime(2026, 12, 4, 9, 0)),
    ("2026-12-04@9am", datetime(2026, 12, 4, 9, 0)),
    ("2026-12-04T09:00", datetime(2026, 12, 4, 9, 0)),
    ("2026-12-04t09:00", datetime(2026, 12, 4, 9, 0)),
    ("2026-12-04 09:00", datetime(2026, 12, 4, 9, 0)),
    ("2026-12-04T09:00:30", datetime(2026, 12, 4, 9, 0, 30)),
    ("2026-12-04T09:00:30.25", datetime(2026, 12, 4, 9, 0, 30, 250000)),
    ("2026-12-04T09:00+1d", datetime(2026, 12, 5, 9, 0)),
    ("2026-12-04T09:00+1200min", datetime(2026, 12, 5, 5, 0)),
]


@pytest.mark.parametrize("zone", ZONES, ids=str)
@pytest.mark.parametrize(("text", "wall"), INSTANTS, ids=[text for text, _ in INSTANTS])
def test_an_instant_phrase_is_that_wall_time(text: str, wall: datetime, zone: ZoneInfo) -> None:
    when = parse(text, zone)
    assert when.day is None
    assert not when.is_day
    assert local(when, zone) == wall


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-12-04T09:00Z", datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        ("2026-12-04T09:00z", datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        ("2026-12-04T09:00+01:00", datetime(2026, 12, 4, 8, 0, tzinfo=UTC)),
        ("2026-12-04T09:00+0100", datetime(2026, 12, 4, 8, 0, tzinfo=UTC)),
        ("2026-12-04T09:00-05:00", datetime(2026, 12, 4, 14, 0, tzinfo=UTC)),
        ("2026-12-04T09:00+05:45", datetime(2026, 12, 4, 3, 15, tzinfo=UTC)),
        ("2026-12-04T09:00:00.000001Z", datetime(2026, 12, 4, 9, 0, 0, 1, tzinfo=UTC)),
        # a date-time with an offset is exact, and offsets chain onto it
        ("2026-12-04T09:00Z+90min", datetime(2026, 12, 4, 10, 30, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_an_iso_datetime_with_an_offset_is_that_instant_in_any_zone(
    text: str, instant: datetime, zone: ZoneInfo
) -> None:
    assert parse(text, zone) == When(instant)


def test_plus_90min_is_90_minutes_never_90_months() -> None:
    now = tuesday(PARIS)
    assert parse("+90min").instant - now == timedelta(minutes=90)
    assert parse("+90mo").day == date(2034, 6, 1)


@pytest.mark.parametrize(
    ("today", "text", "day"),
    [
        (date(2027, 1, 31), "+1mo", date(2027, 2, 28)),
        (date(2028, 1, 31), "+1mo", date(2028, 2, 29)),
        (date(2027, 3, 31), "-1mo", date(2027, 2, 28)),
        (date(2027, 5, 31), "+1mo", date(2027, 6, 30)),
        (date(2028, 2, 29), "+1y", date(2029, 2, 28)),
        (date(2027, 1, 31), "eom+1mo", date(2027, 2, 28)),
        (date(2027, 12, 15), "+1mo", date(2028, 1, 15)),
        (date(2027, 1, 15), "-1mo", date(2026, 12, 15)),
        (date(2027, 1, 31), "now+1mo", None),
    ],
)
def test_month_offsets_clamp_to_the_last_day_of_the_month(
    today: date, text: str, day: date | None
) -> None:
    now = datetime.combine(today, time(10, 0), tzinfo=PARIS)
    when = parse(text, PARIS, now)
    if day is None:  # an instant moves the same way, keeping its time of day
        assert local(when, PARIS) == datetime(2027, 2, 28, 10, 0)
    else:
        assert when.day == day


@pytest.mark.parametrize(
    ("week_start", "eow"),
    [
        (0, date(2026, 12, 6)),  # Monday: the week ends on Sunday
        (6, date(2026, 12, 5)),  # Sunday: it ends on Saturday
        (1, date(2026, 12, 7)),  # Tuesday, today: it ends next Monday
        (2, date(2026, 12, 1)),  # Wednesday: it ends today, Tuesday
    ],
)
def test_eow_follows_the_configured_first_day_of_the_week(week_start: int, eow: date) -> None:
    when = parse_when("eow", now=tuesday(PARIS), zone=PARIS, week_start=week_start)
    assert when.day == eow


def test_week_start_out_of_range_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_when("eow", now=tuesday(PARIS), zone=PARIS, week_start=7)


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_when("today", now=datetime(2026, 12, 1, 10, 0), zone=PARIS)


def test_today_is_the_day_in_the_zone_not_in_utc() -> None:
    # 23:30 on Dec 1 in New York is already Dec 2 in UTC
    now = datetime(2026, 12, 1, 23, 30, tzinfo=NEW_YORK)
    assert parse_when("today", now=now, zone=NEW_YORK).day == date(2026, 12, 1)
    assert parse_when("today", now=now, zone=UTC_ZONE).day == date(2026, 12, 2)


def test_every_fixed_word_parses_and_only_now_is_an_instant() -> None:
    for word in WORDS:
        assert parse(word).is_day == (word != "now")


# --- refusals -----------------------------------------------------------------------------

REFUSED = [
    ("som", "someday"),
    ("sow", "someday"),
    ("SOW", "someday"),
    ("soy", "someday"),
    ("someday", "leave the date out"),
    ("later", "leave the date out"),
    ("12/4", "slash dates"),
    ("2026/12/04", "slash dates"),
    ("4/12/2026", "slash dates"),
    ("+3m", "mo for months"),
    ("3m", "mo for months"),
    ("eom+1m", "mo for months"),
    ("m", "use a word"),
    ("feb30", "February has no day 30"),
    ("30feb", "February has no day 30"),
    ("apr31", "April has no day 31"),
    ("dec0", "December has no day 0"),
    ("dec32", "December has no day 32"),
    ("2026-02-29", "February 2026 has 28 days"),
    ("2026-02-30", "February 2026 has 28 days"),
    ("2026-13-01", "no month 13"),
    ("2026-00-10", "no month 0"),
    ("0000-01-01", "no year 0"),
    ("2026-12-04T24:00", "hours go from 00 to 23"),
    ("2026-12-04T09:60", "minutes"),
    ("2026-12-04T09:00+24:00", "not a UTC offset"),
    ("dec", "day of the month too"),
    ("tom+3h", "count from now"),
    ("fri+90min", "count from now"),
    ("now@9am", "needs a day before it"),
    ("+3h@9am", "needs a day before it"),
    ("2026-12-04T09:00@10am", "needs a day before it"),
    ("fri@9am@10am", "one time"),
    ("fri@25", "hours go from 0 to 23"),
    ("fri@13pm", "hours go 1 to 12"),
    ("fri@0am", "hours go 1 to 12"),
    ("fri@9:60", "minutes"),
    ("fri@", "a time after @ is like"),
    ("fri@noon", "a time after @ is like"),
    ("10:30", "goes after @"),
    ("17:30", "goes after @"),
    ("9am", "goes after @"),
    ("+3", "needs a unit"),
    ("+3x", "'x' is not a unit"),
    ("+3days", "'days' is not a unit"),
    ("fri1w", "use a word"),
    ("+1d2w", "use a word"),
    ("fri 9am", "use a word"),
    ("next friday", "use a word"),
    ("friyay", "use a word"),
    ("tues", "use a word"),
    ("", "must not be empty"),
    ("   ", "must not be empty"),
    ("demain", "use a word"),
    ("٣d", "use a word"),  # Arabic-Indic digit
    ("２０２６-12-04", "use a word"),  # full-width digits
    ("20261204", "with dashes"),
    ("9999-12-31+1d", "out of range"),
    ("+1000000d", "out of range"),
    ("+999999w", "out of range"),
    ("+999999y", "out of range"),
    ("-999999y", "out of range"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED, ids=[text for text, _ in REFUSED])
def test_refused_with_one_clear_sentence(text: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(text)
    message = caught.value.message
    assert reason in message
    assert "\n" not in message
    assert caught.value.details["value"] == text.strip()


def test_the_generic_refusal_says_what_is_accepted() -> None:
    with pytest.raises(ValidationError) as caught:
        parse("whenever-ish")
    for example in ("today", "+3d", "dec4", "2026-12-04", "2026-12-04T09:00", "fri@9am"):
        assert example in caught.value.message


def test_a_long_refused_phrase_is_quoted_short() -> None:
    with pytest.raises(ValidationError) as caught:
        parse("x" * 500)
    assert len(caught.value.message) < 400
    assert caught.value.details["value"] == "x" * 500


# --- DST ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "suggested"),
    [
        ("2026-03-29T02:30", PARIS, "03:30"),
        ("2026-03-29T02:00", PARIS, "03:00"),
        ("2026-03-29T02:59:59", PARIS, "03:59"),
        ("2026-03-29@2:30", PARIS, "03:30"),
        ("mar29@2:30am", PARIS, "03:30"),
        ("2026-03-08T02:30", NEW_YORK, "03:30"),
        ("2026-10-04T02:15", ZoneInfo("Australia/Lord_Howe"), "02:45"),
    ],
)
def test_a_wall_time_in_a_dst_gap_is_refused(text: str, zone: ZoneInfo, suggested: str) -> None:
    now = datetime(2026, 3, 1, 10, 0, tzinfo=zone)
    with pytest.raises(ValidationError) as caught:
        parse_when(text, now=now, zone=zone)
    assert "does not exist in" in caught.value.message
    assert str(zone) in caught.value.message
    assert f"such as {suggested}" in caught.value.message


def test_the_edges_of_a_dst_gap_are_accepted() -> None:
    now = datetime(2026, 3, 1, 10, 0, tzinfo=PARIS)
    before = parse_when("2026-03-29T01:59:59", now=now, zone=PARIS)
    after = parse_when("2026-03-29T03:00", now=now, zone=PARIS)
    assert before.instant == datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)
    assert after.instant == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_an_instant_given_with_an_offset_is_never_in_a_gap() -> None:
    # 02:30 does not exist in Paris that night, but 02:30+01:00 names an instant exactly
    when = parse_when("2026-03-29T02:30+01:00", now=tuesday(PARIS), zone=PARIS)
    assert when.instant == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "zone", "utc"),
    [
        # 02:30 happens twice in Paris on 2026-10-25: first at +02:00, then at +01:00
        ("2026-10-25T02:30", PARIS, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("2026-10-25@2:30", PARIS, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        # 01:30 happens twice in New York on 2026-11-01: first at -04:00
        ("2026-11-01T01:30", NEW_YORK, datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    ],
)
def test_an_ambiguous_wall_time_is_its_first_occurrence(
    text: str, zone: ZoneInfo, utc: datetime
) -> None:
    assert parse_when(text, now=tuesday(zone), zone=zone).instant == utc


@pytest.mark.parametrize(
    ("day", "zone", "utc"),
    [
        (date(2026, 3, 28), PARIS, datetime(2026, 3, 28, 22, 59, 59, 999999, tzinfo=UTC)),
        (date(2026, 3, 29), PARIS, datetime(2026, 3, 29, 21, 59, 59, 999999, tzinfo=UTC)),
        (date(2026, 10, 25), PARIS, datetime(2026, 10, 25, 22, 59, 59, 999999, tzinfo=UTC)),
        (date(2026, 3, 8), NEW_YORK, datetime(2026, 3, 9, 3, 59, 59, 999999, tzinfo=UTC)),
        (date(2026, 11, 1), NEW_YORK, datetime(2026, 11, 2, 4, 59, 59, 999999, tzinfo=UTC)),
        # Havana's clocks jump from 00:00 to 01:00 on 2026-03-08: the 7th still ends at
        # 23:59:59.999999, and the next microsecond is 01:00 on the 8th
        (
            date(2026, 3, 7),
            ZoneInfo("America/Havana"),
            datetime(2026, 3, 8, 4, 59, 59, 999999, tzinfo=UTC),
        ),
    ],
)
def test_a_day_ends_at_its_last_local_microsecond_across_a_dst_change(
    day: date, zone: ZoneInfo, utc: datetime
) -> None:
    when = parse_when(day.isoformat(), now=tuesday(zone), zone=zone)
    assert when.instant == utc
    assert when.instant.astimezone(zone).replace(tzinfo=None) == datetime.combine(
        day, LAST_MICROSECOND
    )
    assert (when.instant + ONE_MICROSECOND).astimezone(zone).date() == day + timedelta(days=1)


def test_a_day_the_zone_skipped_is_refused() -> None:
    apia = ZoneInfo("Pacific/Apia")  # went from 2011-12-29 straight to 2011-12-31
    with pytest.raises(ValidationError, match="skipped that day"):
        parse_when("2011-12-30", now=tuesday(apia), zone=apia)
    assert parse_when("2011-12-31", now=tuesday(apia), zone=apia).day == date(2011, 12, 31)


def test_calendar_offsets_follow_the_wall_clock_and_clock_offsets_elapsed_time() -> None:
    saturday = datetime(2026, 3, 28, 10, 0, tzinfo=PARIS)  # the night before summer time
    one_day = parse_when("now+1d", now=saturday, zone=PARIS)
    hours = parse_when("now+24h", now=saturday, zone=PARIS)
    assert local(one_day, PARIS) == datetime(2026, 3, 29, 10, 0)
    assert one_day.instant - saturday == timedelta(hours=23)
    assert local(hours, PARIS) == datetime(2026, 3, 29, 11, 0)


def test_a_calendar_offset_landing_in_a_gap_moves_forward_by_the_gap() -> None:
    # The user typed no wall time in the gap, so nothing is refused.
    night = datetime(2026, 3, 28, 2, 30, tzinfo=PARIS)
    assert local(parse_when("now+1d", now=night, zone=PARIS), PARIS) == datetime(2026, 3, 29, 3, 30)


# --- describe, relative, canonical --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "echo"),
    [
        ("fri", "Fri 4 Dec"),
        ("2026-12-04", "Fri 4 Dec"),
        ("fri@9am", "Fri 4 Dec 09:00"),
        ("tom@17:30", "Wed 2 Dec 17:30"),
        ("eom+1d", "Fri 1 Jan 2027"),
        ("2027-01-01T09:05", "Fri 1 Jan 2027 09:05"),
        ("yesterday", "Mon 30 Nov"),
        ("2025-12-01", "Mon 1 Dec 2025"),
        ("now", "Tue 1 Dec 10:00"),
    ],
)
@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_describe_echoes_the_date_shortly(text: str, echo: str, zone: ZoneInfo) -> None:
    now = tuesday(zone)
    assert describe(parse(text, zone), now=now, zone=zone) == echo


def test_describe_shows_an_instant_on_the_wall_clock_of_the_zone_asked_for() -> None:
    when = parse("fri@9am", PARIS)
    assert describe(when, now=tuesday(NEW_YORK), zone=NEW_YORK) == "Fri 4 Dec 03:00"
    # while a day stays that day wherever the user is
    day = parse("fri", PARIS)
    assert describe(day, now=tuesday(NEW_YORK), zone=NEW_YORK) == "Fri 4 Dec"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (date(2026, 12, 1), "today"),
        (date(2026, 12, 2), "tomorrow"),
        (date(2026, 11, 30), "yesterday"),
        (date(2026, 12, 3), "Thu"),
        (date(2026, 12, 4), "Fri"),
        (date(2026, 12, 7), "Mon"),
        (date(2026, 12, 8), "in 7d"),
        (date(2026, 12, 14), "in 13d"),
        (date(2026, 12, 15), "in 2w"),
        (date(2026, 12, 21), "in 2w"),
        (date(2026, 12, 22), "in 3w"),
        (date(2027, 1, 30), "in 2mo"),
        (date(2027, 12, 1), "in 1y"),
        (date(2026, 11, 28), "3d ago"),
        (date(2026, 11, 24), "7d ago"),
        (date(2026, 11, 10), "3w ago"),
        (date(2025, 12, 1), "1y ago"),
        (datetime(2026, 12, 1, 13, 0, tzinfo=PARIS), "in 3h"),
        (datetime(2026, 12, 1, 10, 45, tzinfo=PARIS), "in 45min"),
        (datetime(2026, 12, 1, 10, 0, 30, tzinfo=PARIS), "now"),
        (datetime(2026, 12, 1, 9, 59, 45, tzinfo=PARIS), "now"),
        (datetime(2026, 12, 1, 8, 0, tzinfo=PARIS), "2h ago"),
        (datetime(2026, 12, 1, 9, 55, tzinfo=PARIS), "5min ago"),
        (datetime(2026, 12, 1, 23, 59, tzinfo=PARIS), "in 13h"),
        (datetime(2026, 12, 2, 9, 0, tzinfo=PARIS), "tomorrow"),
        (datetime(2026, 12, 4, 9, 0, tzinfo=PARIS), "Fri"),
        (datetime(2026, 11, 28, 9, 0, tzinfo=PARIS), "3d ago"),
        # an instant is read on the zone's calendar: 00:30 in Paris is still Dec 1 in UTC
        (datetime(2026, 12, 2, 0, 30, tzinfo=PARIS), "tomorrow"),
        (datetime(2026, 12, 1, 23, 30, tzinfo=UTC), "tomorrow"),
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "9h ago"),
    ],
)
def test_relative_reads_a_date_for_a_list_column(value: date, text: str) -> None:
    assert relative(value, now=tuesday(PARIS), zone=PARIS) == text


def test_relative_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError):
        relative(datetime(2026, 12, 1, 10), now=tuesday(PARIS), zone=PARIS)


@pytest.mark.parametrize(
    ("text", "zone", "phrase"),
    [
        ("fri", PARIS, "2026-12-04"),
        ("fri@9am", PARIS, "2026-12-04T09:00+01:00"),
        ("fri@9am", NEW_YORK, "2026-12-04T09:00-05:00"),
        ("fri@9am", UTC_ZONE, "2026-12-04T09:00+00:00"),
        ("2026-12-04T09:00:30", PARIS, "2026-12-04T09:00:30+01:00"),
        ("2026-12-04T09:00:00.5", PARIS, "2026-12-04T09:00:00.500000+01:00"),
        # the second 02:30 of the night summer time ends keeps its offset
        ("2026-10-25T00:30Z", PARIS, "2026-10-25T02:30+02:00"),
        ("2026-10-25T01:30Z", PARIS, "2026-10-25T02:30+01:00"),
        # Paris kept local mean time (+00:09:21) until 1911: UTC instead
        ("1900-06-01T12:00Z", PARIS, "1900-06-01T12:00+00:00"),
    ],
)
def test_canonical_writes_a_phrase_that_reads_back_exactly(
    text: str, zone: ZoneInfo, phrase: str
) -> None:
    when = parse(text, zone)
    assert canonical(when, zone=zone) == phrase
    assert parse_when(phrase, now=datetime(1990, 1, 1, tzinfo=UTC), zone=zone) == when


# --- When ---------------------------------------------------------------------------------


def test_when_is_immutable_compared_by_value_and_always_utc() -> None:
    paris_nine = datetime(2026, 12, 4, 9, 0, tzinfo=PARIS)
    when = When(paris_nine)
    assert when.instant.tzinfo is UTC
    assert when == When(datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
    assert hash(when) == hash(
        When(datetime(2026, 12, 4, 9, 0, tzinfo=timezone(timedelta(hours=1))))
    )
    assert when != When(paris_nine, date(2026, 12, 4))
    assert when != "2026-12-04"
    with pytest.raises(AttributeError):
        when.day = date(2026, 12, 4)
    with pytest.raises(AttributeError):
        del when.instant
    with pytest.raises(ValueError):
        When(datetime(2026, 12, 4, 9, 0))
    assert "2026" in repr(when)


# --- zones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Europe/Paris", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"]
)
def test_resolve_zone_takes_iana_names(name: str) -> None:
    assert resolve_zone(name) == ZoneInfo(name)
    assert resolve_zone(f" {name} ").key == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Mars/Olympus",
        "Europe",
        "europe/paris!",
        "../etc/passwd",
        "/etc/localtime",
        "zone.tab",
        "localtime",
        "Europe/Paris\x00",
        "+01:00",
        "CET-1CEST,M3.5.0,M10.5.0/3",
    ],
)
def test_resolve_zone_refuses_what_is_not_an_iana_name(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve_zone(name)
    assert "Europe/Paris" in caught.value.message
    assert "\n" not in caught.value.message


def _root(
    tmp_path: Path, *, link: str | None = None, timezone_file: str | bytes | None = None
) -> str:
    (tmp_path / "etc").mkdir()
    if link is not None:
        os.symlink(link, tmp_path / "etc" / "localtime")
    if timezone_file is not None:
        content = timezone_file if isinstance(timezone_file, bytes) else timezone_file.encode()
        (tmp_path / "etc" / "timezone").write_bytes(content)
    return str(tmp_path)


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Europe/Paris", "Europe/Paris"),
        (":Europe/Paris", "Europe/Paris"),
        ("/usr/share/zoneinfo/Asia/Tokyo", "Asia/Tokyo"),
        (":/usr/share/zoneinfo/posix/Asia/Tokyo", "Asia/Tokyo"),
        ("", "UTC"),
        ("UTC", "UTC"),
        # a POSIX rule has no IANA name to store, and the OS does not fall back to
        # /etc/localtime either, so neither does this
        ("CET-1CEST,M3.5.0,M10.5.0/3", None),
        ("Not/AZone", None),
        ("/etc/passwd", None),
    ],
)
def test_local_zone_reads_tz_first(tmp_path: Path, tz: str, expected: str | None) -> None:
    root = _root(tmp_path, link="/usr/share/zoneinfo/America/New_York")
    zone = local_zone(environ={"TZ": tz}, root=root)
    assert (zone.key if zone else None) == expected


@pytest.mark.parametrize(
    "link",
    [
        "/usr/share/zoneinfo/Europe/Paris",
        "../usr/share/zoneinfo/Europe/Paris",
        "/var/db/timezone/zoneinfo/Europe/Paris",
        "/usr/share/zoneinfo/right/Europe/Paris",
    ],
)
def test_local_zone_reads_the_etc_localtime_link(tmp_path: Path, link: str) -> None:
    zone = local_zone(environ={}, root=_root(tmp_path, link=link, timezone_file="Asia/Tokyo\n"))
    assert zone is not None and zone.key == "Europe/Paris"


def test_local_zone_falls_back_to_etc_timezone(tmp_path: Path) -> None:
    root = _root(tmp_path, timezone_file="Asia/Tokyo\n")
    zone = local_zone(environ={}, root=root)
    assert zone is not None and zone.key == "Asia/Tokyo"
    # a link that names no zone is passed over too
    other = tmp_path / "other"
    other.mkdir()
    root = _root(other, link="/nowhere/at/all", timezone_file="Asia/Tokyo")
    zone = local_zone(environ={}, root=root)
    assert zone is not None and zone.key == "Asia/Tokyo"


@pytest.mark.parametrize("content", [None, "", "garbage here\n", b"\xff\xfe", "Mars/Olympus"])
def test_local_zone_is_none_when_nothing_names_a_zone(
    tmp_path: Path, content: str | bytes | None
) -> None:
    root = _root(tmp_path, timezone_file=content)
    assert local_zone(environ={}, root=root) is None


def test_local_zone_reads_the_real_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kathmandu")
    zone = local_zone()
    assert zone is not None and zone.key == "Asia/Kathmandu"


# --- properties ---------------------------------------------------------------------------

zones = st.sampled_from(ALL_ZONES)
# Far enough from year 1 and 9999 that converting a day's end to UTC cannot overflow.
days = st.dates(min_value=date(2, 1, 1), max_value=date(9998, 12, 31))
instants = st.datetimes(
    min_value=datetime(1800, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
)
nows = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)


def _is_last_microsecond_of(instant: datetime, day: date, zone: ZoneInfo) -> bool:
    return instant.astimezone(zone).date() == day and (instant + ONE_MICROSECOND).astimezone(
        zone
    ).date() == day + timedelta(days=1)


@given(day=days, zone=zones, now=nows)
def test_every_iso_date_reads_as_that_day(day: date, zone: ZoneInfo, now: datetime) -> None:
    when = parse_when(day.isoformat(), now=now, zone=zone)
    assert when.day == day
    assert _is_last_microsecond_of(when.instant, day, zone)
    assert canonical(when, zone=zone) == day.isoformat()


day_phrases = st.one_of(
    st.sampled_from([w for w in WORDS if w != "now"]),
    st.builds(
        lambda n, u: f"{n:+d}{u}", st.integers(-400, 400), st.sampled_from(["d", "w", "mo", "y"])
    ),
    st.builds(
        lambda base, n, u: f"{base}{n:+d}{u}",
        st.sampled_from(["fri", "eom", "eow", "tom", "dec4", "29feb"]),
        st.integers(-60, 60),
        st.sampled_from(["d", "w", "mo"]),
    ),
)


@given(phrase=day_phrases, zone=zones, now=nows)
def test_a_day_result_is_always_the_last_microsecond_of_that_local_day(
    phrase: str, zone: ZoneInfo, now: datetime
) -> None:
    when = parse_when(phrase, now=now, zone=zone)
    assert when.day is not None
    assert _is_last_microsecond_of(when.instant, when.day, zone)


@given(a=st.integers(-500, 500), b=st.integers(-500, 500), zone=zones, now=nows)
def test_day_offsets_add_up(a: int, b: int, zone: ZoneInfo, now: datetime) -> None:
    def day(phrase: str) -> date | None:
        return parse_when(phrase, now=now, zone=zone).day

    today = now.astimezone(zone).date()
    assert day(f"{a:+d}d{b:+d}d") == day(f"{a + b:+d}d") == today + timedelta(days=a + b)
    assert day(f"{a:+d}w") == day(f"{7 * a:+d}d")
    assert day(f"today{a:+d}d") == day(f"{a:+d}d")
    assert day(f"tom{a:+d}d") == day(f"{a + 1:+d}d")


@given(hours=st.integers(-1000, 1000), minutes=st.integers(-5000, 5000), zone=zones, now=nows)
def test_clock_offsets_are_elapsed_time(
    hours: int, minutes: int, zone: ZoneInfo, now: datetime
) -> None:
    when = parse_when(f"now{hours:+d}h{minutes:+d}min", now=now, zone=zone)
    assert when.instant == now + timedelta(hours=hours, minutes=minutes)
    assert parse_when(f"{minutes:+d}min", now=now, zone=zone).instant == now + timedelta(
        minutes=minutes
    )


@given(months=st.integers(-240, 240), zone=zones, now=nows)
def test_month_offsets_land_in_the_right_month_and_never_overshoot(
    months: int, zone: ZoneInfo, now: datetime
) -> None:
    today = now.astimezone(zone).date()
    day = parse_when(f"{months:+d}mo", now=now, zone=zone).day
    assert day is not None
    assert (day.year - today.year) * 12 + day.month - today.month == months
    assert day.day == today.day or (day.day < today.day and (day + timedelta(days=1)).day == 1)


@given(instant=instants, zone=zones)
def test_canonical_round_trips_any_instant(instant: datetime, zone: ZoneInfo) -> None:
    when = When(instant)
    assert parse_when(canonical(when, zone=zone), now=instant, zone=zone) == when


@given(offset=st.integers(0, 364), zone=zones, now=nows)
def test_the_day_describe_shows_reads_back_as_that_day(
    offset: int, zone: ZoneInfo, now: datetime
) -> None:
    # `Fri 4 Dec` is what the user sees; typing `4dec` must give that day again
    today = now.astimezone(zone).date()
    day = today + timedelta(days=offset)
    shown = describe(When(end_of_day(day, zone), day), now=now, zone=zone)
    weekday, number, month, *year = shown.split()
    assert weekday == WEEKDAYS[day.weekday()] and month in MONTHS
    assert year == ([] if day.year == today.year else [str(day.year)])
    assert parse_when(f"{number}{month}", now=now, zone=zone).day == day


grammar_pieces = st.sampled_from(
    [
        *WORDS,
        "+",
        "-",
        "@",
        "3",
        "12",
        "2026",
        "-12-",
        "04",
        "t",
        "z",
        ":",
        "30",
        "am",
        "pm",
        "d",
        "w",
        "mo",
        "min",
        "m",
        "h",
        "y",
        "dec",
        "feb",
        "29",
        "/",
        " ",
        ".",
        "+01:00",
        "9999",
        "0000",
        "999999",
        "someday",
        "sow",
    ]
)


@settings(max_examples=300)
@given(
    text=st.one_of(st.text(max_size=30), st.lists(grammar_pieces, max_size=8).map("".join)),
    zone=zones,
    now=nows,
)
def test_any_text_is_a_when_or_a_validation_error(text: str, zone: ZoneInfo, now: datetime) -> None:
    try:
        when = parse_when(text, now=now, zone=zone)
    except ValidationError as error:
        assert "\n" not in error.message
        return
    assert when.instant.tzinfo is UTC
    if when.day is not None:
        assert _is_last_microsecond_of(when.instant, when.day, zone)
