"""Dates in plain words (SPEC → Dates and time zones), on the standard library alone.

`parse_when("fri@9am", now=…, zone=…)` turns what a person types after `due:` or `wait:`
into a `When`: an instant in UTC, plus the day when the phrase named a whole day. The
grammar is small and strict on purpose (docs/dates.md has all of it):

    phrase := iso-datetime offset*            2026-12-04T09:00, …T09:00Z, …T09:00+01:00
            | [base] offset* ['@' time offset*]
    base   := today | eod | tomorrow | tom | yesterday | now | monday…sunday | mon…sun
            | eow | eom | eoy | dec4 | 4dec | 2026-12-04
    offset := [+-]N (d | w | mo | y | h | min)   the first one may go without a sign
    time   := 9am | 9:30pm | 17:30 | 17:30:15 | 17

Calendar offsets (d, w, mo, y) move along the wall clock of the zone and keep a day a day;
clock offsets (h, min) add exact elapsed time and need an instant. A day's instant is the
last microsecond of that day in the zone. A wall time the user typed that does not exist
(a DST gap) is refused; one that exists twice (a DST fold) is the first of the two.

Nothing here is imported beyond `re`, `datetime`, `os` and `zoneinfo`, and nothing is
computed at import time, because this module sits on the start-up path of commands and of
shell completion: `When` is hand-written since `dataclasses` pulls in `inspect` (~6 ms
when nothing else has), and the regular expressions are compiled on first use.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from todo_cli.errors import ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import NoReturn

MONDAY = 0
SUNDAY = 6
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Every fixed word of the grammar, for shell completion and help text.
WORDS = (
    "today",
    "eod",
    "tomorrow",
    "tom",
    "yesterday",
    "now",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "eow",
    "eom",
    "eoy",
)
ACCEPTED = (
    "use a word (today, tom, fri, eow, eom), an offset (+3d, 2w, +1mo, +90min), "
    "a day of a month (dec4, 4dec), an ISO date (2026-12-04) or date-time "
    "(2026-12-04T09:00), with an optional time after @ (fri@9am, tom@17:30)"
)

_TICK = timedelta(microseconds=1)
_SHOWN_MAX_LENGTH = 40  # the rule of validation.shortened, which imports the models
_MAX_OFFSET_DIGITS = 6
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_WEEKDAY_NUMBERS = {
    **{name.lower(): number for number, name in enumerate(WEEKDAYS)},
    **{
        name: number
        for number, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_NUMBERS = {
    **{name.lower(): number for number, name in enumerate(MONTHS, start=1)},
    **{name.lower(): number for number, name in enumerate(_MONTH_NAMES, start=1)},
}
_DAY_WORDS = {"today": 0, "eod": 0, "tomorrow": 1, "tom": 1, "yesterday": -1}
_CALENDAR_UNITS = {"d": 1, "w": 7}  # days per unit
_MONTH_UNITS = {"mo": 1, "y": 12}  # months per unit
_CLOCK_UNITS = {"h": timedelta(hours=1), "min": timedelta(minutes=1)}
# Start-of-period words read as "someday" to most users (Taskwarrior's `som` is the start
# of the month, a task "due someday" is due never): refused with a word of explanation.
_START_WORDS = {"sod", "sow", "som", "soy", "soq"}
_NEVER_WORDS = {"someday", "later", "never", "whenever"}

# Regular expressions, compiled by `_re` on first use (see there).
_ISO = (
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[t ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?"
    # An offset such as +0100 must not swallow the start of a chained `+1200min`.
    r"(z|[+-]\d{2}:?\d{2}(?![a-z0-9]))?)?"
)
_NUMBER_THEN_WORD = r"(\d{1,2})([a-z]+)"
_WORD_THEN_NUMBER = r"([a-z]+)(\d*)"
_OFFSET = r"([+-]?)(\d+)([a-z]*)"
_TIME = r"@(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?(am|pm)?(?![:0-9])"
_LOOKS_LIKE_TIME = r"\d{1,2}(:\d{2}){1,2}(am|pm)?|\d{1,2}(am|pm)"
_ZONE_NAME = r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*"


def _re(source: str) -> re.Pattern[str]:
    # `re` caches what it compiles, so this is a dictionary lookup after the first call;
    # compiling at import time would add ~1 ms to every command, most of which never
    # parse a date. ASCII: \d must not take Arabic-Indic or full-width digits.
    return re.compile(source, re.ASCII)


class When:
    """A resolved date phrase: `instant` (aware, UTC) and, for a whole day, `day`.

    `day` is set only when the phrase named a day (`fri`, `2026-12-04`, `eom+1d`); then
    `instant` is the last microsecond of that day in the zone it was parsed in, which is
    what sorts and filters, while `day` is what is shown wherever the user is.
    Immutable, compared and hashed by value.
    """

    __slots__ = ("instant", "day")
    instant: datetime
    day: date | None

    def __init__(self, instant: datetime, day: date | None = None) -> None:
        if instant.utcoffset() is None:
            raise ValueError("When needs an aware datetime")
        object.__setattr__(self, "instant", instant.astimezone(UTC))
        object.__setattr__(self, "day", day)

    @property
    def is_day(self) -> bool:
        return self.day is not None

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"When is immutable (tried to set {name})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"When is immutable (tried to delete {name})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, When):
            return NotImplemented
        return self.instant == other.instant and self.day == other.day

    def __hash__(self) -> int:
        return hash((self.instant, self.day))

    def __repr__(self) -> str:
        return f"When(instant={self.instant!r}, day={self.day!r})"


# --- parsing ------------------------------------------------------------------------------


def parse_when(text: str, *, now: datetime, zone: ZoneInfo, week_start: int = MONDAY) -> When:
    """Resolve a date phrase relative to `now`, in `zone`; a `ValidationError` if it is not one.

    `now` is passed in rather than read so that one command resolves every phrase against
    the same moment, and tests can fix it. `week_start` (0 = Monday … 6 = Sunday) decides
    where `eow` falls.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if not MONDAY <= week_start <= SUNDAY:
        raise ValueError(f"week_start must be 0 (Monday) to 6 (Sunday), got {week_start}")
    raw = text.strip()
    phrase = raw.lower()
    _refuse_pitfalls(phrase, raw)
    try:
        return _parse(phrase, raw, now=now, zone=zone, week_start=week_start)
    except (OverflowError, ValueError):
        # Only date arithmetic past year 1 or 9999 raises these: every mistake in the
        # phrase itself is a ValidationError with its own reason.
        raise _out_of_range(raw) from None


def _invalid(raw: str, reason: str | None = None) -> ValidationError:
    return ValidationError(
        f"{_shown(raw)!r} is not a date: {reason or ACCEPTED}", details={"value": raw}
    )


def _out_of_range(raw: str) -> ValidationError:
    return ValidationError(
        f"{_shown(raw)!r} is out of range: dates go from year 1 to 9999", details={"value": raw}
    )


def _refuse_pitfalls(phrase: str, raw: str) -> None:
    if not phrase:
        raise ValidationError(f"a date must not be empty: {ACCEPTED}", details={"value": raw})
    if not phrase.isascii():
        raise _invalid(raw)
    if phrase in _START_WORDS:
        raise _invalid(
            raw,
            "start-of-period words are not accepted because they read as “someday”; "
            "give the day itself, such as mon, eom+1d or 2027-01-01",
        )
    if phrase in _NEVER_WORDS:
        raise _invalid(
            raw, "leave the date out for a task without one, or give a day such as eom or eoy"
        )
    if "/" in phrase:
        raise _invalid(
            raw,
            "slash dates mean different days in different countries; use dec4, 4dec or 2026-12-04",
        )


# A step after the base: an offset (count, unit) or a time of day after @.
_Step = tuple[int, str] | time


def _parse(phrase: str, raw: str, *, now: datetime, zone: ZoneInfo, week_start: int) -> When:
    today = now.astimezone(zone).date()
    # Exactly one of `day` and `instant` is set: a phrase is a day until a time or a
    # clock offset makes it an instant.
    day: date | None = None
    instant: datetime | None = None
    base = _parse_base(phrase, raw, today=today, zone=zone, week_start=week_start)
    if base is None:
        position = 0
    else:
        base_value, position = base
        if base_value is None:
            instant = now.astimezone(UTC)
        elif isinstance(base_value, datetime):
            instant = base_value
        else:
            day = base_value
    steps = _parse_steps(phrase, raw, position, has_base=base is not None)
    if base is None:
        # `+3d` is a day (three days from today); `+3h` is three hours from now, and so is
        # `+1d+3h`: a clock offset before any @ makes the phrase count from now.
        before_time = steps[: next((i for i, s in enumerate(steps) if isinstance(s, time)), None)]
        if any(not isinstance(s, time) and s[1] in _CLOCK_UNITS for s in before_time):
            instant = now.astimezone(UTC)
        else:
            day = today
    for step in steps:
        if isinstance(step, time):
            if day is None:
                raise _invalid(raw, "a time after @ needs a day before it, as in fri@9am")
            instant, day = _from_wall(datetime.combine(day, step), zone, raw), None
            continue
        count, unit = step
        if unit in _CLOCK_UNITS:
            if instant is None:
                raise _invalid(
                    raw,
                    "hours and minutes need a time to count from; give one "
                    "(tom@9am+2h) or count from now (now+3h, +3h)",
                )
            instant = instant + count * _CLOCK_UNITS[unit]
        elif day is not None:
            day = _shift_day(day, count, unit)
        else:
            assert instant is not None
            instant = _shift_instant(instant, count, unit, zone)
    if day is not None:
        return When(end_of_day(day, zone), day)
    assert instant is not None
    return When(instant)


def _parse_base(
    phrase: str, raw: str, *, today: date, zone: ZoneInfo, week_start: int
) -> tuple[date | datetime | None, int] | None:
    """What the phrase starts from, and where the rest begins; None when it starts with an
    offset or @. The value is a day, an instant (UTC), or None for `now`."""
    iso = _re(_ISO).match(phrase)
    if iso:
        return _iso_value(iso, raw, zone), iso.end()
    number_first = _re(_NUMBER_THEN_WORD).match(phrase)
    if number_first and number_first.group(2) in _MONTH_NUMBERS:
        month = _MONTH_NUMBERS[number_first.group(2)]
        day = _day_of_month(int(number_first.group(1)), month, raw)
        return _next_month_day(today, month, day), number_first.end()
    word = _re(_WORD_THEN_NUMBER).match(phrase)
    if not word:
        return None
    letters, digits = word.groups()
    if letters in _MONTH_NUMBERS:
        if not digits:
            raise _invalid(raw, f"give the day of the month too, such as {letters}4 or 4{letters}")
        if len(digits) > 2:
            raise _invalid(raw)
        month = _MONTH_NUMBERS[letters]
        day = _day_of_month(int(digits), month, raw)
        return _next_month_day(today, month, day), word.end()
    if digits:
        raise _invalid(raw)
    end = word.end()
    if letters in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[letters]), end
    if letters in _WEEKDAY_NUMBERS:
        return today + timedelta(days=(_WEEKDAY_NUMBERS[letters] - today.weekday()) % 7), end
    if letters == "eow":
        last_weekday = (week_start - 1) % 7
        return today + timedelta(days=(last_weekday - today.weekday()) % 7), end
    if letters == "eom":
        return today.replace(day=_days_in_month(today.year, today.month)), end
    if letters == "eoy":
        return date(today.year, 12, 31), end
    if letters == "now":
        return None, end
    raise _invalid(raw)


def _day_of_month(day: int, month: int, raw: str) -> int:
    # February 29 exists in some years, so only days no year has are refused here.
    longest = 29 if month == 2 else _DAYS_IN_MONTH[month - 1]
    if not 1 <= day <= longest:
        raise _invalid(raw, f"{_MONTH_NAMES[month - 1]} has no day {day}")
    return day


def _iso_value(match: re.Match[str], raw: str, zone: ZoneInfo) -> date | datetime:
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if int(year) == 0:
        raise _invalid(raw, "there is no year 0")
    if not 1 <= int(month) <= 12:
        raise _invalid(raw, f"there is no month {int(month)}")
    last = _days_in_month(int(year), int(month))
    if not 1 <= int(day) <= last:
        raise _invalid(
            raw, f"{_MONTH_NAMES[int(month) - 1]} {int(year)} has {last} days, not {int(day)}"
        )
    on = date(int(year), int(month), int(day))
    if hour is None:
        return on
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        raise _invalid(raw, "hours go from 00 to 23, minutes and seconds from 00 to 59")
    microsecond = int((fraction or "0").ljust(6, "0"))
    wall = datetime.combine(on, time(int(hour), int(minute), int(second or 0), microsecond))
    if offset is None:
        return _from_wall(wall, zone, raw)
    if offset == "z":
        return wall.replace(tzinfo=UTC)
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise _invalid(raw, f"{offset} is not a UTC offset (use Z or one such as +01:00)")
    sign = -1 if offset[0] == "-" else 1
    fixed = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return wall.replace(tzinfo=fixed).astimezone(UTC)


def _parse_steps(phrase: str, raw: str, position: int, *, has_base: bool) -> list[_Step]:
    steps: list[_Step] = []
    timed = False
    while position < len(phrase):
        if phrase[position] == "@":
            if timed:
                raise _invalid(raw, "give one time after @, not two")
            match = _re(_TIME).match(phrase, position)
            if not match:
                raise _invalid(raw, "a time after @ is like 9am, 9:30pm, 17:30 or 17")
            steps.append(_time_of_day(match, raw))
            timed = True
            position = match.end()
            continue
        match = _re(_OFFSET).match(phrase, position)
        unsigned_allowed = not steps and not has_base
        if not match or (not match.group(1) and not unsigned_allowed):
            raise _invalid(raw)
        sign, digits, unit = match.groups()
        if not unit:
            if len(digits) == 8 and not has_base:
                raise _invalid(raw, "write a date with dashes, as in 2026-12-04")
            if (
                _re(_LOOKS_LIKE_TIME).fullmatch(phrase, position)
                or phrase[match.end() :][:1] == ":"
            ):
                raise _invalid(raw, "a time of day goes after @, as in @17:30 or fri@9am")
            raise _invalid(raw, "an offset needs a unit: d, w, mo, y, h or min (as in +3d)")
        if unit == "m":
            raise _invalid(raw, "m is ambiguous; use mo for months (+1mo) or min for minutes")
        if unit not in _CALENDAR_UNITS and unit not in _MONTH_UNITS and unit not in _CLOCK_UNITS:
            if unit in ("am", "pm"):
                raise _invalid(raw, "a time of day goes after @, as in @5pm or fri@9am")
            raise _invalid(raw, f"{_shown(unit)!r} is not a unit: use d, w, mo, y, h or min")
        if len(digits) > _MAX_OFFSET_DIGITS:
            raise _out_of_range(raw)
        steps.append((-int(digits) if sign == "-" else int(digits), unit))
        position = match.end()
    return steps


def _time_of_day(match: re.Match[str], raw: str) -> time:
    hour_text, minute, second, meridiem = match.groups()
    hour = int(hour_text)
    if meridiem:
        if not 1 <= hour <= 12:
            raise _invalid(raw, f"{hour}{meridiem} is not a time: with am or pm, hours go 1 to 12")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or int(minute or 0) > 59 or int(second or 0) > 59:
        raise _invalid(raw, "hours go from 0 to 23, minutes and seconds from 00 to 59")
    return time(hour, int(minute or 0), int(second or 0))


def _next_month_day(today: date, month: int, day: int) -> date:
    """The next `month`/`day` on or after `today` (Feb 29 waits for a leap year)."""
    year = today.year
    while True:
        if day <= _days_in_month(year, month):
            candidate = date(year, month, day)
            if candidate >= today:
                return candidate
        year += 1


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    return 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month - 1]


def _shift_day(day: date, count: int, unit: str) -> date:
    if unit in _CALENDAR_UNITS:
        return day + timedelta(days=count * _CALENDAR_UNITS[unit])
    return _add_months(day, count * _MONTH_UNITS[unit])


def _add_months(day: date, months: int) -> date:
    """Calendar months, clamped: Jan 31 + 1 month is the last day of February."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    if not 1 <= year <= 9999:
        raise OverflowError("year out of range")
    return date(year, month, min(day.day, _days_in_month(year, month)))


def _shift_instant(instant: datetime, count: int, unit: str, zone: ZoneInfo) -> datetime:
    """Move along the zone's wall clock: `now+1d` is the same time of day tomorrow.

    A result inside a DST gap moves forward by the gap, one inside a fold takes the first
    occurrence (what fold=0 gives); the user did not type that wall time, so it is not
    refused.
    """
    local = instant.astimezone(zone).replace(tzinfo=None)
    shifted_day = _shift_day(local.date(), count, unit)
    wall = datetime.combine(shifted_day, local.time())
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _from_wall(wall: datetime, zone: ZoneInfo, raw: str) -> datetime:
    """A wall time the user typed, as UTC; refused if the zone skips it (a DST gap).

    zoneinfo maps a skipped time to an instant without complaint; only the round trip
    back to the wall clock shows it. In a fold, fold=0 is the first occurrence.
    """
    aware = wall.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    back = instant.astimezone(zone).replace(tzinfo=None)
    if back != wall:
        gap = aware.replace(fold=1).utcoffset() or timedelta(0)
        skipped = abs(gap - (aware.utcoffset() or timedelta(0)))
        raise ValidationError(
            f"{wall:%Y-%m-%d %H:%M} does not exist in {_zone_name(zone)} (the clocks "
            f"skip {_span(skipped)} there that day); give another time, such as "
            f"{back:%H:%M}",
            details={"value": raw, "zone": _zone_name(zone)},
        )
    return instant


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The last microsecond of `day` in `zone`, in UTC: what a day-only due sorts by.

    Computed as "one microsecond before the next day starts", so a day that ends inside
    a DST change still ends at 23:59:59.999999 of its own wall clock. A next day starting
    in a gap at midnight (Havana, Santiago) starts at the transition, which fold=0 gives;
    no zone in tzdata has a gap that straddles midnight. A day the zone skipped altogether
    (Pacific/Apia, 2011-12-30) is refused.
    """
    try:
        following = day + timedelta(days=1)
        start = datetime(following.year, following.month, following.day, tzinfo=zone)
        end = start.astimezone(UTC) - _TICK
    except OverflowError:
        raise ValidationError(
            f"{day.isoformat()} is out of range: dates go from year 1 to 9999",
            details={"value": day.isoformat()},
        ) from None
    if end.astimezone(zone).date() != day:
        raise ValidationError(
            f"{day.isoformat()} does not exist in {_zone_name(zone)} (the zone skipped that day)",
            details={"value": day.isoformat(), "zone": _zone_name(zone)},
        )
    return end


# --- showing ------------------------------------------------------------------------------


def describe(when: When, *, now: datetime, zone: ZoneInfo) -> str:
    """The short echo of a resolved date: `Fri 4 Dec`, `Fri 4 Dec 09:00`, `Fri 4 Dec 2027`.

    The year only when it is not the current one (in `zone`); English names whatever the
    locale, like the grammar itself.
    """
    today = now.astimezone(zone).date()
    if when.day is not None:
        return _day_text(when.day, today)
    local = when.instant.astimezone(zone)
    return f"{_day_text(local.date(), today)} {local:%H:%M}"


def _day_text(day: date, today: date) -> str:
    text = f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def relative(value: date | datetime, *, now: datetime, zone: ZoneInfo) -> str:
    """A date for a list column: `today`, `tomorrow`, `Fri`, `3d ago`, `in 2w`, `in 3h`.

    A `date` is a day-only value; an aware `datetime` an instant, which on the current day
    reads in hours or minutes and on another day like that day. Counts round down, so
    `in 2w` is 14 to 20 days away.
    """
    today = now.astimezone(zone).date()
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("relative() needs an aware datetime")
        local = value.astimezone(zone)
        if local.date() == today:
            seconds = (value - now).total_seconds()
            minutes = int(abs(seconds) // 60)
            if minutes == 0:
                return "now"
            amount = f"{minutes}min" if minutes < 60 else f"{minutes // 60}h"
            return f"in {amount}" if seconds > 0 else f"{amount} ago"
        day = local.date()
    else:
        day = value
    days = (day - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    if 1 < days < 7:
        return WEEKDAYS[day.weekday()]
    amount = _span_in_days(abs(days))
    return f"in {amount}" if days > 0 else f"{amount} ago"


def _span_in_days(days: int) -> str:
    if days < 14:
        return f"{days}d"
    if days < 60:
        return f"{days // 7}w"
    if days < 365:
        return f"{days // 30}mo"
    return f"{days // 365}y"


def canonical(when: When, *, zone: ZoneInfo) -> str:
    """A phrase of the grammar that parses back to exactly `when`, whatever `now` is.

    For text a user edits and saves (`todo edit` in `$EDITOR`): a day as its ISO date, an
    instant as an ISO date-time on the zone's wall clock with its UTC offset, so a time in
    a DST fold stays the one it was.
    """
    if when.day is not None:
        return when.day.isoformat()
    local = when.instant.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    if offset % timedelta(minutes=1):
        # Local mean time before ~1900 has offsets in seconds, which ISO 8601 cannot
        # write in the ±HH:MM form the grammar reads.
        local = when.instant
    spec = "minutes" if not (local.second or local.microsecond) else "auto"
    return local.isoformat(timespec=spec)


# --- zones --------------------------------------------------------------------------------


def resolve_zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (`Europe/Paris`, `UTC`), or a `ValidationError` naming examples."""
    key = name.strip()
    zone = _load_zone(key) if _re(_ZONE_NAME).fullmatch(key) and key != "localtime" else None
    if zone is None:
        raise ValidationError(
            f"{_shown(name)!r} is not a time zone: give an IANA name such as Europe/Paris, "
            "America/New_York or UTC",
            details={"value": name},
        )
    return zone


def local_zone(*, environ: Mapping[str, str] | None = None, root: str = "/") -> ZoneInfo | None:
    """The operating system's zone, or None when it cannot be named.

    Read the way the C library does, without tzlocal: `TZ` first (an IANA name, with or
    without the leading `:`, or a path into a zoneinfo directory; empty means UTC), else
    the target of the `/etc/localtime` symlink, else Debian's `/etc/timezone`. A zone
    without an IANA name (a POSIX rule in `TZ`, a copied /etc/localtime file) is None,
    because the name is what `users.time_zone` stores for the API. `environ` and `root`
    exist for tests.
    """
    env = os.environ if environ is None else environ
    setting = env.get("TZ")
    if setting is not None:
        setting = setting.removeprefix(":")
        if not setting:
            return ZoneInfo("UTC")
        if setting.startswith("/"):
            name = _name_in_zoneinfo_path(setting)
            return _load_zone(name) if name else None
        return _load_zone(setting) if _re(_ZONE_NAME).fullmatch(setting) else None
    try:
        target = os.readlink(os.path.join(root, "etc", "localtime"))
    except OSError:
        target = None
    if target:
        name = _name_in_zoneinfo_path(target)
        zone = _load_zone(name) if name else None
        if zone is not None:
            return zone
    try:
        with open(os.path.join(root, "etc", "timezone"), encoding="utf-8") as file:
            name = file.readline().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return _load_zone(name) if _re(_ZONE_NAME).fullmatch(name) else None


def _name_in_zoneinfo_path(path: str) -> str | None:
    # /usr/share/zoneinfo/Europe/Paris, ../usr/share/zoneinfo/…, macOS's
    # /var/db/timezone/zoneinfo/…; posix/ and right/ are variants of the same zones.
    _, found, name = path.rpartition("zoneinfo/")
    if not found:
        return None
    for variant in ("posix/", "right/"):
        name = name.removeprefix(variant)
    return name if _re(_ZONE_NAME).fullmatch(name) else None


def _load_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # not found; not a TZif file (zone.tab); a directory (Europe)
        return None


# --- small helpers ------------------------------------------------------------------------


def _zone_name(zone: ZoneInfo) -> str:
    return zone.key or "the local time zone"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def _shown(text: str) -> str:
    if len(text) <= _SHOWN_MAX_LENGTH:
        return text
    return f"{text[: _SHOWN_MAX_LENGTH - 1]}…"
