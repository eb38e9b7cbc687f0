"""Moving in and out: `todo export` and `todo import` (SPEC → Moving in and out).

The formats and every rule live in the service (`service.transfer`); these commands read a
file, make one service call and render its report, or stream the export to stdout.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from todo_cli.cli._common import (
    JsonOption,
    TzOption,
    UserOption,
    acting_user,
    cli_zone,
    unmarked,
)
from todo_cli.cli.tasks import FilterArgument, showing_filter
from todo_cli.errors import ValidationError

if TYPE_CHECKING:
    from todo_cli.service import ImportReport

_FORMAT_HELP = (
    "json (one task JSON a line, lossless), taskwarrior (what `task export` writes) or "
    "todotxt (the todo.txt format)"
)
_SKIPPED_SHOWN = 20


def export(
    words: FilterArgument = None,
    format: Annotated[
        str,
        typer.Option(
            "--format", "-f", metavar="FORMAT", help=f"{_FORMAT_HELP}. Example: -f todotxt"
        ),
    ] = "json",
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Write your tasks to stdout, in a format another tool or a later todo import reads.

    Without FILTER, every task (pending, waiting and done); with one, the tasks it selects,
    as in todo list (pending and not waiting unless it names status: or id:).
    --json is --format json (one task JSON a line), with errors as JSON.

    Example: todo export --format taskwarrior > tasks.json; todo export project:house status:all
    """
    from todo_cli import service

    chosen = service.parse_format(format)
    if json and chosen != "json":
        raise ValidationError(
            f"--json writes the json format; leave it out to write {chosen}.",
            details={"field": "format"},
        )
    with acting_user(user) as (session, me):
        zone = cli_zone(tz, me)
        selected = None
        if words:
            with showing_filter(json):
                parsed = service.parse_filter(unmarked(words), zone=zone)
            selected = service.iter_tasks(session, user_id=me.id, filter=parsed, zone=zone)
        write = sys.stdout.write
        chunks = service.export_tasks(
            session, user_id=me.id, format=chosen, zone=zone, tasks=selected
        )
        for chunk in chunks:
            write(chunk)


def import_(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            show_default=False,
            help="The file to read, or - for stdin. Example: tasks.json",
        ),
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            show_default=False,
            help=f"{_FORMAT_HELP}; default: told from the content. Example: -f taskwarrior",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what would change, change nothing. Example: --dry-run"),
    ] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Import the valid records and list the others (default: a file with an "
            "invalid record imports nothing). Example: --skip-invalid",
        ),
    ] = False,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Import tasks from a Taskwarrior export, a todo.txt file or a todo export, as one
    change (todo undo reverts it all).

    A task already here (same UUID) is updated only if the file's copy is newer, so
    importing the same file again changes nothing. Deleted Taskwarrior tasks are skipped.

    Example: task export > tw.json && todo import tw.json
    """
    from todo_cli import output, service

    chosen = service.parse_format(format) if format is not None else None
    text = _read(file)
    with acting_user(user) as (session, me):
        report = service.import_tasks(
            session,
            user_id=me.id,
            text=text,
            format=chosen,
            zone=cli_zone(tz, me),
            dry_run=dry_run,
            skip_invalid=skip_invalid,
        )
    if json:
        output.print_json(report.to_json())
        return
    for line in _report_lines(report, "stdin" if file == "-" else file):
        output.print_line(output.printable(line))


def _read(path: str) -> str:
    """The file's text (UTF-8, a byte-order mark allowed), or one sentence saying why not."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as stream:
                data = stream.read()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValidationError(
            f"Cannot read {path}: {reason}.", details={"field": "file", "path": path}
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(
            f"{'stdin' if path == '-' else path} is not UTF-8 text (byte {error.start}); "
            "nothing was imported.",
            details={"field": "file", "position": error.start},
        ) from None


def _report_lines(report: ImportReport, source: str) -> list[str]:
    counts = (
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped"
    )
    if report.dry_run:
        lines = [f"Dry run of {source} ({report.format}), nothing changed: would be {counts}."]
    elif report.change_id is not None:
        lines = [
            f"Imported {source} ({report.format}): {counts}; change {report.change_id} "
            "(todo undo reverts it)."
        ]
    else:
        lines = [f"Imported {source} ({report.format}): {counts}; nothing changed."]
    for record in report.skipped[:_SKIPPED_SHOWN]:
        lines.append(f"  skipped line {record.line}: {record.reason}")
    if len(report.skipped) > _SKIPPED_SHOWN:
        lines.append(f"  … and {len(report.skipped) - _SKIPPED_SHOWN} more (--json lists all)")
    return lines
