"""Import and export: files of tasks in, streams of tasks out (SPEC → Moving in and out).

The formats (`formats`, `formats_taskwarrior`, `formats_todotxt`) are pure parsers and
writers; this module applies a parsed file as ONE change in ONE transaction, through
`transaction.writing` and `tasks.write_task` like every other write, so one `todo undo`
reverts a whole import.

Identity is the task's UUID, among the importing user's tasks only: tasks are keyed by
`(user_id, id)`, so a file that carries another user's UUIDs makes tasks of the
importer's own, and nothing about the other user's tasks is read, changed or revealed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from todo_cli.errors import ValidationError
from todo_cli.models import AnyTask, Task, User, utcnow
from todo_cli.service import formats, formats_taskwarrior, formats_todotxt
from todo_cli.service.formats import Incoming, Parsed, Rejected, Skipped, local_day
from todo_cli.service.references import owned_query
from todo_cli.service.tasks import iter_tasks, write_task
from todo_cli.service.transaction import last_committed, writing
from todo_cli.service.users import user_not_found

Format = Literal["json", "taskwarrior", "todotxt"]
FORMATS: tuple[Format, ...] = ("json", "taskwarrior", "todotxt")
_PARSERS: dict[Format, Callable[[str, ZoneInfo], Iterator[Parsed]]] = {
    "json": formats.parse_ndjson,
    "taskwarrior": formats_taskwarrior.parse,
    "todotxt": formats_todotxt.parse,
}
_WRITERS: dict[Format, Callable[[AnyTask, ZoneInfo], str]] = {
    "json": formats.write_ndjson,
    "taskwarrior": formats_taskwarrior.write,
    "todotxt": formats_todotxt.write,
}
# One import is one transaction: a bound on its size, far above any real task list.
MAX_IMPORT = 100_000
# Existing tasks are looked up this many ids per statement.
_BATCH = 1_000
_REJECTIONS_SHOWN = 100
UTC_ZONE = ZoneInfo("UTC")


@dataclass
class ImportReport:
    """What an import did (or, dry, would do)."""

    format: Format
    dry_run: bool
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped | Rejected] = field(default_factory=list)
    change_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": len(self.skipped),
            "skipped_records": [
                {"line": record.line, "reason": record.reason} for record in self.skipped
            ],
            "change": self.change_id,
        }


class _DryRun(Exception):
    """Raised inside the import's transaction to roll it back once the report is made."""


def parse_format(name: str) -> Format:
    for known in FORMATS:
        if name == known:
            return known
    raise ValidationError(
        f"{name[:40]!r} is not a format: use {', '.join(FORMATS)}", details={"field": "format"}
    )


def detect_format(text: str) -> Format:
    """JSON that reads as Taskwarrior's (`uuid` and `description`), other JSON, or todo.txt."""
    start = text.lstrip()[:1]
    if start == "[":
        return "taskwarrior"
    if start == "{":
        first = next(iter(formats.json_lines(text)), None)
        if first is not None and isinstance(first[1], dict):
            return "taskwarrior" if formats_taskwarrior.looks_like(first[1]) else "json"
        return "json"
    return "todotxt"


def import_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    text: str,
    format: Format | None = None,
    zone: ZoneInfo | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
) -> ImportReport:
    """Import a file's tasks into the user's, all or nothing, as one change.

    A task whose UUID the user has is updated only when the file's copy is newer (or,
    for a format without modification times, when its content differs); re-importing a
    file changes nothing. A record that breaks a rule stops the whole import, naming its
    line and reason, unless `skip_invalid`; duplicate UUIDs always do. `dry_run` reports
    what would happen and changes nothing (the same work, rolled back). Days in the file
    are read in `zone`, by default the user's (else UTC).
    """
    chosen = format or detect_format(text)
    user = session.get(User, user_id)
    if user is None:
        raise user_not_found(user_id)
    if zone is None:  # the user's own zone, as the API reads "today" for them
        zone = _zone_of(user)
    parsed = list(_PARSERS[chosen](text, zone))
    report = ImportReport(chosen, dry_run)
    incoming = _accepted(parsed, report, skip_invalid=skip_invalid)
    if not incoming:
        return report
    try:
        with writing(session, user_id=user_id, verb="import") as change:
            # The user's row first: two imports of one file at once queue here, and the
            # second sees the tasks the first added instead of adding them again.
            session.exec(select(User.id).where(col(User.id) == user_id).with_for_update())
            stamps = _updated_at(session, user_id, [item.id for item in incoming])
            new = [item for item in incoming if item.id not in stamps]
            # Only a task the file may change is loaded (and locked): re-importing a file
            # reads one small row per task, not every task with its tags and notes.
            candidates = [
                item.id
                for item in incoming
                if item.id in stamps
                and (item.updated_at is None or item.updated_at > stamps[item.id])
            ]
            existing = _existing(session, user_id, candidates)
            # Numbered as they were created, so an exported list comes back in its order.
            new.sort(key=lambda item: item.values.get("created_at") or utcnow())
            first = 0
            if new:
                with writing(
                    session, user_id=user_id, verb="import", new_tasks=len(new)
                ) as numbering:
                    first = numbering.last_task_number - len(new) + 1
            for offset, item in enumerate(new):
                values = {**item.values, "id": item.id, "number": first + offset}
                values["extra"] = _merged_extra(None, item)
                write_task(session, change, None, values, keep=False)
            report.added = len(new)
            report.unchanged = len(stamps) - len(existing)
            for item in incoming:
                task = existing.get(item.id)
                if task is None:
                    continue
                values = _update_values(task, item, zone)
                version = task.version
                if values:
                    write_task(session, change, task, values)
                if task.version != version:
                    report.updated += 1
                else:
                    report.unchanged += 1
            if dry_run:
                raise _DryRun
    except _DryRun:
        return report
    committed = last_committed(session)
    report.change_id = committed.change_id if committed is not None else None
    return report


def _zone_of(user: User) -> ZoneInfo:
    from todo_cli.service.dates import resolve_zone

    try:
        return resolve_zone(user.time_zone) if user.time_zone else UTC_ZONE
    except ValidationError:  # a zone this machine's tzdata does not know
        return UTC_ZONE


def _accepted(parsed: list[Parsed], report: ImportReport, *, skip_invalid: bool) -> list[Incoming]:
    """The records to import; the others go to the report, or stop the import."""
    if len(parsed) > MAX_IMPORT:
        raise ValidationError(
            f"a file holds at most {MAX_IMPORT} tasks (this one {len(parsed)}); split it",
            details={"max": MAX_IMPORT},
        )
    rejected = [record for record in parsed if isinstance(record, Rejected)]
    if rejected and not skip_invalid:
        first = rejected[0]
        more = len(rejected) - 1
        others = f" ({more} more invalid {'record' if more == 1 else 'records'})" if more else ""
        raise ValidationError(
            f"line {first.line}: {first.reason}{others}; nothing was imported "
            "(--skip-invalid imports the rest).",
            details={
                "records": [
                    {"line": record.line, "reason": record.reason}
                    for record in rejected[:_REJECTIONS_SHOWN]
                ]
            },
        )
    seen: dict[uuid.UUID, int] = {}
    accepted = []
    for record in parsed:
        if isinstance(record, Incoming):
            earlier = seen.setdefault(record.id, record.line)
            if earlier != record.line:
                raise ValidationError(
                    f"line {record.line}: task {record.id} is also on line {earlier}; a file "
                    "names each task once, and nothing was imported.",
                    details={"line": record.line, "id": str(record.id), "first_line": earlier},
                )
            accepted.append(record)
        else:
            report.skipped.append(record)
    return accepted


def _updated_at(
    session: Session, user_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When each of the user's tasks among `ids` last changed, a batch per statement."""
    found: dict[uuid.UUID, datetime] = {}
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), _BATCH):
        batch = ordered[start : start + _BATCH]
        rows = session.exec(
            select(Task.id, Task.updated_at).where(
                col(Task.user_id) == user_id, col(Task.id).in_(batch)
            )
        )
        found.update((task_id, stamp) for task_id, stamp in rows)
    return found


def _existing(session: Session, user_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, Task]:
    """The user's tasks among `ids`, locked, a batch per statement (in id order, as every
    multi-task write locks, so two writers cannot deadlock)."""
    found: dict[uuid.UUID, Task] = {}
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), _BATCH):
        batch = ordered[start : start + _BATCH]
        for task in session.exec(
            owned_query(user_id)
            .where(col(Task.id).in_(batch))
            .order_by(col(Task.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        ):
            found[task.id] = task
    return found


def _update_values(task: Task, item: Incoming, zone: ZoneInfo) -> dict[str, Any]:
    """What an incoming copy changes in an existing task: nothing unless it is newer."""
    if item.updated_at is not None and item.updated_at <= task.updated_at:
        return {}
    values = dict(item.values)
    values.pop("version", None)  # versions only grow: the write moves it on
    for name, day in item.days.items():
        current = getattr(task, name)
        if current is not None and local_day(current, zone) == day:
            # Known to the day only, and that is the day of the task's own instant.
            values.pop(name, None)
            if name == "due":
                values.pop("due_date", None)
    if "extra" in values:
        values["extra"] = _merged_extra(task.extra, item)
    return values


def _merged_extra(current: dict[str, Any] | None, item: Incoming) -> dict[str, Any] | None:
    """The task's `extra` with the format's own part replaced by the file's."""
    given = item.values.get("extra")
    if item.namespace is None:
        return given or None
    merged = dict(current or {})
    if given:
        merged[item.namespace] = given
    else:
        merged.pop(item.namespace, None)
    return merged or None


def export_tasks(
    session: Session,
    *,
    user_id: uuid.UUID,
    format: Format,
    zone: ZoneInfo = UTC_ZONE,
    tasks: Iterable[AnyTask] | None = None,
) -> Iterator[str]:
    """The user's tasks in a format, as chunks of text to write one after another.

    `tasks` is what to export, e.g. the tasks a filter matched; by default every task
    of the user, of every status. Fetched in batches as the chunks are taken, so memory
    stays flat for any number of tasks.
    """
    rows = tasks if tasks is not None else iter_tasks(session, user_id=user_id, status="all")
    write = _WRITERS[format]
    if format != "taskwarrior":
        for task in rows:
            yield write(task, zone) + "\n"
        return
    # As `task export` writes it: a JSON array with one task a line.
    separator = "[\n"
    for task in rows:
        yield separator + write(task, zone)
        separator = ",\n"
    yield "[\n]\n" if separator == "[\n" else "\n]\n"
