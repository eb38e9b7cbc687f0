"""Everything the CLI prints: Rich for people, JSON for machines.

Rich and the models are imported only by the functions that draw with them, so the error
path and `--json` output never pay for a table library.

Two rules hold for every human line: user text is made printable first (`printable`), so
a title or description can never move the cursor, recolour the terminal or inject Rich
markup; and when stdout is not a terminal or `NO_COLOR` is set, not a single escape code
is written.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from todo_cli.errors import TodoError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console, RenderableType
    from rich.text import Text

    from todo_cli.models import AnyTask, User
    from todo_cli.service import Logged
    from todo_cli.service.attributes import Attribute
    from todo_cli.service.dates import When

# Control characters (C0, DEL, C1) and the invisible bidirectional overrides that can make
# a terminal show text in another order than it is stored ("trojan source").
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_KEEPING_LAYOUT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# Plain output is never truncated: a pipe has no width, and a script (or `grep`) that reads
# a human listing must see whole titles.
_PLAIN_WIDTH = 10_000
_COLUMN_GAP = 2  # Rich's default cell padding: one space either side
_MIN_TITLE_WIDTH = 10
_AGE_UNITS = (
    ("y", 365 * 86400),
    ("mo", 30 * 86400),
    ("w", 7 * 86400),
    ("d", 86400),
    ("h", 3600),
    ("m", 60),
    ("s", 1),
)


# --- machines ---------------------------------------------------------------------------


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False))
    sys.stdout.write("\n")


def stream_json_array(items: Iterable[Any]) -> None:
    """Write a JSON array one element at a time, so memory stays flat for any length.

    The first element is fetched before anything is written: a failure at the start (the
    database going away) leaves stdout empty instead of holding half an array.
    """
    write = sys.stdout.write
    iterator = iter(items)
    end = object()
    first = next(iterator, end)
    if first is end:
        write("[]\n")
        return
    write("[\n")
    write(json.dumps(first, ensure_ascii=False))
    for item in iterator:
        write(",\n")
        write(json.dumps(item, ensure_ascii=False))
    write("\n]\n")


def print_error(error: TodoError, *, as_json: bool = False) -> None:
    """One sentence on stderr; under `--json`, the API's error body instead."""
    if as_json:
        sys.stderr.write(json.dumps(error.to_body(), ensure_ascii=False) + "\n")
    else:
        sys.stderr.write(f"Error: {printable(error.message)}\n")


def print_message(text: str) -> None:
    sys.stdout.write(text + "\n")


def print_unexpected(exc: BaseException, *, as_json: bool = False) -> None:
    """A bug: one sentence, and how to see more; no internals (they may hold secrets)."""
    message = f"unexpected {type(exc).__name__}; run again with TODO_DEBUG=1 for details."
    if as_json:
        print_error(TodoError(message), as_json=True)
    else:
        sys.stderr.write(f"Error: {message}\n")


def print_traceback(exc: BaseException) -> None:
    """A bug's traceback for `TODO_DEBUG=1`, with every known secret masked.

    A traceback quotes exception messages, and a driver's message may quote the URL it
    was given; debugging must not mean pasting a password into an issue.
    """
    import traceback

    from todo_cli.config import known_secrets, redact

    sys.stderr.write(redact("".join(traceback.format_exception(exc)), *known_secrets()))


# --- people -----------------------------------------------------------------------------


def printable(text: str, *, multiline: bool = False) -> str:
    """User text made safe for a terminal: control characters shown as `\\xNN` escapes.

    `multiline` keeps newlines and tabs (descriptions); everything else that could move
    the cursor or change colours is made visible instead of obeyed.
    """
    pattern = _UNPRINTABLE_KEEPING_LAYOUT if multiline else _UNPRINTABLE
    return pattern.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def colour_enabled(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR", ""):
        return False
    return _is_terminal(stream if stream is not None else sys.stdout)


def _console() -> Console:
    from rich.console import Console

    common: dict[str, Any] = {"highlight": False, "markup": False, "emoji": False}
    if colour_enabled(sys.stdout):
        return Console(file=sys.stdout, force_terminal=True, **common)
    # color_system=None: Rich renders every style as nothing, so no escape code at all.
    return Console(
        file=sys.stdout, force_terminal=False, color_system=None, width=_PLAIN_WIDTH, **common
    )


def _print(*renderables: RenderableType, console: Console | None = None) -> None:
    """Print for people; plain output also loses the padding Rich puts at line ends."""
    from rich.text import Text

    console = console or _console()
    if console.color_system is not None:
        for renderable in renderables:
            console.print(renderable, soft_wrap=isinstance(renderable, Text))
        return
    with console.capture() as captured:
        for renderable in renderables:
            console.print(renderable, soft_wrap=isinstance(renderable, Text))
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def print_line(text: str, *, style: str = "") -> None:
    """One sentence; any user text in it must already be `printable`."""
    from rich.text import Text

    _print(Text(text, style=style))


def print_done(verb: str, tasks: Sequence[AnyTask], *, zone: ZoneInfo | None = None) -> None:
    """One line per task, saying what happened to it ("Completed task 3: Buy milk"), and
    the dates it resolved, in `zone` ("Added task 7: Pay rent (due Fri 4 Dec)")."""
    from rich.text import Text

    _print(
        *(
            Text.assemble(
                f"{verb} task ",
                (str(task.number), "bold cyan"),
                ": ",
                printable(task.title),
                _dates(task, zone) if zone is not None else "",
            )
            for task in tasks
        )
    )


def _dates(task: AnyTask, zone: ZoneInfo) -> str:
    from todo_cli.service.attributes import ATTRIBUTES
    from todo_cli.service.dates import describe

    now = datetime.now(UTC)
    said = [
        f"{attribute.name} {describe(when, now=now, zone=zone)}"
        for attribute in ATTRIBUTES
        if (when := _when_of(task, attribute)) is not None
    ]
    return f" ({', '.join(said)})" if said else ""


def _when_of(task: AnyTask, attribute: Attribute) -> When | None:
    """A date attribute of the task as the date grammar gives it (None: not a date, or
    not set)."""
    from todo_cli.service.dates import When

    moment = getattr(task, attribute.name) if attribute.is_date else None
    if moment is None:
        return None
    return When(moment, getattr(task, attribute.day_field) if attribute.day_field else None)


def _text_of(task: AnyTask, attribute: Attribute) -> str:
    """A text attribute of the task as it is given (`H`, `house`); empty if not set."""
    return printable(attribute.from_column(getattr(task, attribute.name)) or "")


def _attribute_columns(
    tasks: Sequence[AnyTask], now: datetime, zone: ZoneInfo
) -> list[tuple[str, list[str], list[bool]]]:
    """The list's attribute columns that some task in view has: (header, cells, overdue).

    Due is relative (`today`, `Fri`, `3d ago`), in the user's zone.
    """
    from todo_cli.service.attributes import ATTRIBUTES
    from todo_cli.service.dates import relative

    columns: list[tuple[str, list[str], list[bool]]] = []
    nothing_late = [False] * len(tasks)
    for attribute in ATTRIBUTES:
        if not attribute.listed:
            continue
        if not attribute.is_date:
            cells = [_text_of(task, attribute) for task in tasks]
            if any(cells):
                columns.append((attribute.heading, cells, nothing_late))
            continue
        whens = [_when_of(task, attribute) for task in tasks]
        if all(when is None for when in whens):
            continue
        cells = [
            relative(when.day or when.instant, now=now, zone=zone) if when else "" for when in whens
        ]
        late = nothing_late
        if attribute.name == "due":  # overdue: red
            late = [
                bool(when and when.instant < now and not task.is_completed)
                for when, task in zip(whens, tasks, strict=True)
            ]
        columns.append((attribute.heading, cells, late))
    tags = [" ".join(f"+{printable(tag)}" for tag in task.tags) for task in tasks]
    if any(tags):
        columns.append(("tags", tags, nothing_late))
    return columns


def print_tasks(
    tasks: Sequence[AnyTask],
    *,
    more: int = 0,
    more_hint: str = "",
    empty: str,
    zone: ZoneInfo | None = None,
) -> None:
    """The task table: number, status, title, age; completed tasks dimmed with a ✓.

    On a terminal the table fits its width: only the title gives way (ending in "…"),
    the number, status and age always show. Elsewhere nothing is cut. `more` tasks that
    were not fetched are announced on a last line, with the command that shows them.
    """
    from rich.table import Table
    from rich.text import Text

    console = _console()
    if not tasks and more <= 0:
        _print(Text(empty), console=console)
        return
    now = datetime.now(UTC)
    ages = [age(task.created_at, now) for task in tasks]
    extra = _attribute_columns(tasks, now, zone or _utc())
    number_width = max([1, *(len(str(task.number)) for task in tasks)])
    age_width = max([len("age"), *(len(text) for text in ages)])
    extra_widths = [max(len(header), *(len(cell) for cell in cells)) for header, cells, _ in extra]
    title_width = None
    if console.color_system is not None:  # a terminal; plain output is never cut
        # Rich would shrink every column to fit; the title alone should. Two spaces
        # between each pair of columns.
        fixed = number_width + len("status") + age_width + sum(extra_widths)
        fixed += (3 + len(extra)) * _COLUMN_GAP
        title_width = max(_MIN_TITLE_WIDTH, console.width - fixed)
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("#", justify="right", style="cyan", no_wrap=True, min_width=number_width)
    table.add_column("status", no_wrap=True, min_width=len("status"))
    table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=title_width)
    for (header, _, _), width in zip(extra, extra_widths, strict=True):
        table.add_column(header, no_wrap=True, min_width=width)
    table.add_column("age", justify="right", no_wrap=True, min_width=age_width)
    for row, (task, task_age) in enumerate(zip(tasks, ages, strict=True)):
        done = task.is_completed
        table.add_row(
            str(task.number),
            Text("[✓]", style="green") if done else Text("[ ]"),
            Text(printable(task.title), style="strike" if done else ""),
            *(Text(cells[row], style="red" if late[row] else "") for _, cells, late in extra),
            Text(task_age),
            style="dim" if done else None,
        )
    parts: list[RenderableType] = [table] if tasks else []
    if more > 0:
        parts.append(Text(f"… and {more} more ({more_hint})", style="dim"))
    _print(*parts, console=console)


def print_plain_tasks(
    tasks: Iterable[AnyTask], *, empty: str | None, zone: ZoneInfo | None = None
) -> None:
    """Every given task as the plain table a pipe gets: the terminal table's columns,
    nothing cut, no escape code, and no line but the header and one per task.

    Written by hand rather than by Rich, which takes seconds for 10,000 rows: people pipe
    `todo list` into `grep`, and a pipe gets every matching row. `empty` is printed when
    there are no tasks (None: nothing is printed).
    """
    from rich.cells import cell_len

    now = datetime.now(UTC)
    listed = list(tasks)
    rows = [
        (
            str(task.number),
            "[✓]" if task.is_completed else "[ ]",
            printable(task.title),
            age(task.created_at, now),
        )
        for task in listed
    ]
    if not rows:
        if empty is not None:
            sys.stdout.write(empty + "\n")
        return
    extra = _attribute_columns(listed, now, zone or _utc())
    number_width = max(1, *(len(row[0]) for row in rows))
    title_width = max(len("title"), *(cell_len(row[2]) for row in rows))
    age_width = max(len("age"), *(len(row[3]) for row in rows))
    extra_widths = [max(len(header), *(cell_len(c) for c in cells)) for header, cells, _ in extra]
    gap = " " * _COLUMN_GAP

    def line(number: str, status: str, title: str, task_age: str, attributes: list[str]) -> str:
        padded_title = title + " " * (title_width - cell_len(title))
        cells = [number.rjust(number_width), status.ljust(len("status")), padded_title]
        cells += [
            c + " " * (w - cell_len(c)) for c, w in zip(attributes, extra_widths, strict=True)
        ]
        return f"{gap.join(cells)}{gap}{task_age.rjust(age_width)}\n"

    write = sys.stdout.write
    write(line("#", "status", "title", "age", [header for header, _, _ in extra]))
    for position, row in enumerate(rows):
        write(line(*row, [cells[position] for _, cells, _ in extra]))


def stdout_is_terminal() -> bool:
    """Whether a person reads stdout (a terminal), whatever NO_COLOR says about colour."""
    return _is_terminal(sys.stdout)


def screen_rows() -> int:
    """The terminal's height in lines (`LINES`, else the window's size, else 24)."""
    import shutil

    return shutil.get_terminal_size().lines


def print_task(task: AnyTask, *, zone: ZoneInfo | None = None) -> None:
    """Every field of one task, labelled, for `todo show`; nothing stored is ever cut.

    On a terminal a long value wraps at the window's edge; elsewhere each value is
    written as it is, however long, its further lines indented under the first.
    """
    from rich.table import Table
    from rich.text import Text

    now = datetime.now(UTC)
    zone = zone or _utc()
    heading = Text.assemble(
        ("Task ", "bold"), (str(task.number), "bold cyan"), (": ", "bold"), printable(task.title)
    )
    status = {
        "done": Text("done ✓", style="green"),
        "waiting": Text("waiting"),
        "pending": Text("pending"),
    }[task.status]
    description = (
        Text(printable(task.description, multiline=True))
        if task.description is not None
        else Text("(none)", style="dim")
    )
    fields: list[tuple[str, Text]] = [
        ("status", status),
        ("description", description),
        *_attributes(task, zone, now),
        ("id", Text(str(task.id))),
        ("created", Text(_when(task.created_at, now, zone))),
        ("updated", Text(_when(task.updated_at, now, zone))),
        ("version", Text(str(task.version))),
    ]
    console = _console()
    if console.color_system is None:
        label_width = max(len(label) for label, _ in fields)
        indent = " " * (label_width + _COLUMN_GAP)
        lines = [heading.plain]
        for label, value in fields:
            first, *rest = value.plain.split("\n")
            # The user's text as stored, trailing spaces included; only padding is trimmed.
            lines.append(
                f"{label.ljust(label_width)}{' ' * _COLUMN_GAP}{first}" if first else label
            )
            lines.extend(indent + text if text else "" for text in rest)
        sys.stdout.write("".join(text + "\n" for text in lines))
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")  # a word wider than the window breaks, never ends in …
    for label, value in fields:
        grid.add_row(label, value)
    _print(heading, grid, console=console)


def _utc() -> ZoneInfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo("UTC")


def _attributes(task: AnyTask, zone: ZoneInfo, now: datetime) -> list[tuple[str, Text]]:
    """The attribute rows of `todo show` that the task has, and each note."""
    from rich.text import Text

    from todo_cli.service.attributes import ATTRIBUTES
    from todo_cli.service.dates import describe

    rows: list[tuple[str, Text]] = []
    for attribute in ATTRIBUTES:
        when = _when_of(task, attribute)
        shown = describe(when, now=now, zone=zone) if when is not None else ""
        if not attribute.is_date:
            shown = _text_of(task, attribute)
        if shown:
            rows.append((attribute.name, Text(shown)))
    if task.tags:
        rows.append(("tags", Text(" ".join(f"+{printable(tag)}" for tag in task.tags))))
    if task.completed_at is not None:
        rows.append(("completed", Text(_when(task.completed_at, now, zone))))
    for note in task.note_rows:
        stamp = f"{note.created_at.astimezone(zone):%Y-%m-%d %H:%M}"
        rows.append(("note", Text(f"{stamp}  {printable(note.text, multiline=True)}")))
    return rows


def print_users(users: Sequence[User], *, zone: ZoneInfo | None = None) -> None:
    """The users with the time each was created, on the wall clock of `zone`."""
    from rich.table import Table
    from rich.text import Text

    if not users:
        _print(Text("No users yet. Add one with: todo user add NAME"))
        return
    now = datetime.now(UTC)
    zone = zone or _utc()
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("created", style="dim", no_wrap=True)
    for user in users:
        table.add_row(printable(user.name), str(user.id), _when(user.created_at, now, zone))
    _print(table)


def print_rows(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A plain table of strings (`todo config`); every cell is treated as user text."""
    from rich.table import Table

    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(printable(cell) for cell in row))
    _print(table)


def age(moment: datetime, now: datetime) -> str:
    """A compact age, like `gh` and `ls`: now, 42s, 5m, 3h, 2d, 3w, 4mo, 2y."""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 10:
        return "now"
    for unit, size in _AGE_UNITS:
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"  # unreachable: the last unit is one second


def _when(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """An absolute time people can read, with its age: `2026-11-27 14:00 JST (3h ago)`.

    On the wall clock of `zone`, the one notes, due and wait are shown in, as Taskwarrior
    shows local times; the zone's abbreviation (`CET`, `CEST`, `UTC`, `+04`) is written
    because a copied line, or a `TODO_TZ` that is not the machine's zone, would otherwise
    leave the reader guessing which clock it is, and because it tells apart the two
    02:30 of a night the clocks go back.
    """
    ago = age(moment, now)
    ago = "just now" if ago == "now" else f"{ago} ago"
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M %Z} ({ago})"


def print_changes(changes: Sequence[Logged], *, empty: str) -> None:
    """The change log, one line a change: `42 · 2m ago · cli · done 3 4`."""
    from rich.text import Text

    if not changes:
        _print(Text(empty))
        return
    now = datetime.now(UTC)
    width = max(len(str(logged.change.id)) for logged in changes)
    lines = []
    for logged in changes:
        change = logged.change
        ago = age(change.at, now)
        line = Text.assemble(
            (str(change.id).rjust(width), "bold cyan"),
            f" · {'just now' if ago == 'now' else ago + ' ago'} · {printable(change.origin)} · ",
            printable(change.summary),
        )
        if change.undone_by is not None:
            line.append(f" (undone by {change.undone_by})", style="dim")
        lines.append(line)
    _print(*lines)
