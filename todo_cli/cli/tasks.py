"""Task commands: add, list, show, edit, done, reopen, rm.

Each parses its arguments, makes one service call for the acting user, and renders the
result; every rule (validation, references, isolation) lives in the service layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from todo_cli.cli import _complete
from todo_cli.cli._common import (
    JsonOption,
    TzOption,
    UserOption,
    acting_user,
    cli_zone,
    unmarked,
    whole_number,
)
from todo_cli.errors import ValidationError

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

    from todo_cli.cli._words import DateKey, Words
    from todo_cli.models import Task

RefsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="REF",
        show_default=False,
        autocompletion=_complete.task_refs,
        help="Tasks by number, range or list of numbers, UUID or UUID prefix (4+ hex "
        "digits). Example: 3 5-7 9,12 1f3e",
    ),
]
PageLimitOption = Annotated[
    int | None,
    typer.Option(
        "--limit",
        "-n",
        metavar="N",
        parser=whole_number(minimum=0),
        show_default=False,
        help="Show at most N tasks (default: one screenful on a terminal, all of them when "
        "piped or with --json). Example: --limit 100",
    ),
]
RefArgument = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        show_default=False,
        autocompletion=_complete.task_refs,
        help="A task by number, UUID or UUID prefix (4+ hex digits). Example: 3",
    ),
]


DueOption = Annotated[
    str | None,
    typer.Option(
        "--due",
        metavar="WHEN",
        help="When it is due: a day (fri, 2026-12-04, eom) or a time (tom@17:30). "
        "Example: --due fri",
    ),
]
WaitOption = Annotated[
    str | None,
    typer.Option(
        "--wait",
        metavar="WHEN",
        help="Hide it from lists until then. Example: --wait mon",
    ),
]
PriorityOption = Annotated[
    str | None,
    typer.Option("--priority", metavar="H|M|L", help="Its priority. Example: --priority H"),
]
ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        metavar="NAME",
        autocompletion=_complete.projects,
        help="Its project; dots make a hierarchy. Example: --project house.garden",
    ),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        metavar="TAG",
        autocompletion=_complete.tags,
        help="A tag; repeat for several. Example: --tag home --tag errand",
    ),
]


def add(
    ctx: typer.Context,
    title: Annotated[
        list[str],
        typer.Argument(
            metavar="WORDS",
            show_default=False,
            autocompletion=_complete.inline_words,
            help="What to do, with attributes as words: due:WHEN wait:WHEN pri:H|M|L "
            "project:NAME +TAG; after --, every word is title. Example: Pay rent due:fri +home",
        ),
    ],
    description: Annotated[
        str | None,
        typer.Option(
            "--description",
            "-d",
            metavar="TEXT",
            help='Longer notes, kept exactly as given. Example: -d "2 litres, oat"',
        ),
    ] = None,
    due: DueOption = None,
    wait: WaitOption = None,
    priority: PriorityOption = None,
    project: ProjectOption = None,
    tag: TagOption = None,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Add a task and print its number; `todo add -` adds one task per line of stdin.

    Words that are attributes (due:fri wait:mon pri:H project:house +home) set them;
    every other word is the title. Titles read from stdin are added in one go: all of
    them, or none if any is invalid (blank lines are skipped).

    Example: todo add Pay rent due:fri +home pri:H
    """
    import sys

    from todo_cli import service
    from todo_cli.cli._words import split_words
    from todo_cli.models import TaskCreate

    flags = {"due": due, "wait": wait, "priority": priority, "project": project}
    typed = _as_typed(ctx, title)
    from_stdin = typed == ["-"]  # `todo add -- -` is a task called "-"
    if from_stdin:
        if description is not None:
            raise ValidationError(
                "--description cannot be combined with titles from stdin (todo add -).",
                details={"field": "description"},
            )
        lines = [line for line in sys.stdin.read().splitlines() if line.strip()]
        if not lines:
            raise ValidationError("No titles on stdin: give one task title per line.")
        words = [split_words(line.split(), editing=False) for line in lines]
    else:
        words = [split_words(typed, editing=False)]
    with acting_user(user) as (session, me):
        zone = cli_zone(tz, me)
        new = [
            TaskCreate(
                title=said.title,
                description=description,
                tags=[*said.tags_add, *(tag or [])],
                **_attributes(said, flags, zone),
            )
            for said in words
        ]
        tasks = service.create_tasks(session, user_id=me.id, tasks=new, zone=zone)
    _render(tasks, "Added", as_json=json, single=not from_stdin, zone=zone)


def _as_typed(ctx: typer.Context, words: list[str]) -> list[str]:
    """The words as typed, with the `--` that Click took out put back where it was."""
    from todo_cli.cli import ARGS_KEY

    typed: list[str] = ctx.meta.get(ARGS_KEY, [])
    if "--" not in typed:
        return words
    after = len(typed) - typed.index("--") - 1
    return [*words[: len(words) - after], "--", *words[len(words) - after :]]


def _attributes(said: Words, flags: dict[str, str | None], zone: ZoneInfo) -> dict[str, str]:
    """The attributes given as words or as flags (never both), dates resolved in `zone`
    and handed on as ISO text, so the service stores exactly the instant echoed."""
    from datetime import UTC, datetime

    from todo_cli.service.dates import parse_when

    given = {name: value for name in flags if (value := _once(said, flags, name)) is not None}
    now = datetime.now(UTC)
    dates: tuple[DateKey, ...] = ("due", "wait")
    for name in dates:
        if name not in given:
            continue
        # A word's error says how to put such text in the title; a flag's need not.
        from_word = getattr(said, name) is not None
        when = said.when(name, now=now, zone=zone) if from_word else None
        when = when or parse_when(given[name], now=now, zone=zone)
        given[name] = when.day.isoformat() if when.day is not None else when.instant.isoformat()
    return given


def _once(said: Words, flags: dict[str, str | None], name: str) -> str | None:
    word: str | None = getattr(said, name)
    if word is not None and flags[name] is not None:
        raise ValidationError(
            f"{name} is given both as a word and as --{name}; give it once.",
            details={"field": name},
        )
    return word if word is not None else flags[name]


def list_tasks(
    show_all: Annotated[
        bool,
        typer.Option("--all", "-a", help="Pending and completed tasks. Example: todo list --all"),
    ] = False,
    done: Annotated[
        bool,
        typer.Option("--done", help="Completed tasks only. Example: todo list --done"),
    ] = False,
    limit: PageLimitOption = None,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """List pending tasks, newest first (--all: every task, --done: completed ones); a
    task waiting (wait:mon) stays out of the default list until then.

    On a terminal the table fits the window, shows one screenful and says how many
    more there are; piped, it is plain text with every matching row (for grep).

    --json streams a JSON array of every matching task.

    Example: todo list --all --limit 10
    """
    from todo_cli import models, output, service

    if show_all and done:
        raise ValidationError(
            "--all and --done cannot be combined; --all already includes completed tasks.",
            details={"field": "done"},
        )
    status: service.Status = "all" if show_all else "done" if done else "active"
    flags = {"all": " --all", "done": " --done", "active": ""}[status]
    empty = {
        "active": 'No pending tasks. Add one with: todo add "Buy milk"',
        "done": "No completed tasks.",
        "all": 'No tasks yet. Add one with: todo add "Buy milk"',
    }[status]
    with acting_user(user) as (session, me):
        if json:
            tasks = service.iter_tasks(session, user_id=me.id, status=status, limit=limit)
            output.stream_json_array(models.task_to_json(task) for task in tasks)
            return
        if not output.stdout_is_terminal():
            # A pipe (`| grep`, `| wc -l`) gets every matching row and nothing else.
            tasks = service.iter_tasks(session, user_id=me.id, status=status, limit=limit)
            zone = cli_zone(tz, me)
            output.print_plain_tasks(tasks, empty=empty if limit != 0 else None, zone=zone)
            return
        zone = cli_zone(tz, me)
        page, more = _screenful(
            lambda size: service.list_tasks(session, user_id=me.id, status=status, limit=size),
            lambda: service.count_tasks(session, user_id=me.id, status=status),
            limit,
        )
    output.print_tasks(
        page,
        more=more,
        more_hint=f"todo list{flags} | less shows them all",
        empty=empty,
        zone=zone,
    )


def _screenful(
    fetch: Callable[[int], list[Task]], count: Callable[[], int], limit: int | None
) -> tuple[list[Task], int]:
    """The tasks a terminal shows, and how many more there are.

    One screenful unless `limit` says otherwise: the header, the rows and the shell's
    prompt after them; when not all fit, one row less, for the line that says how many
    more there are. One row more than shown is fetched to tell, so only a list that does
    not fit is counted.
    """
    from todo_cli import output

    if limit is None:
        room = max(1, output.screen_rows() - 2)
        page = fetch(room + 1)
        shown = room if len(page) <= room else max(1, room - 1)
    else:
        shown = limit
        page = fetch(shown + 1)
    if len(page) <= shown:
        return page, 0
    return page[:shown], count() - shown


def next_tasks(
    limit: PageLimitOption = None,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """What to do next: overdue tasks first, then by due date, priority and age.

    Waiting and completed tasks stay out. `todo` alone runs it.

    Example: todo next --limit 5
    """
    from todo_cli import models, output, service

    empty = 'Nothing to do. Add a task with: todo add "Buy milk" due:fri'
    with acting_user(user) as (session, me):
        zone = cli_zone(tz, me)
        if json or not output.stdout_is_terminal():
            tasks = service.next_tasks(session, user_id=me.id, limit=limit)
            if json:
                output.print_json([models.task_to_json(task) for task in tasks])
            else:
                output.print_plain_tasks(tasks, empty=empty if limit != 0 else None, zone=zone)
            return
        page, more = _screenful(
            lambda size: service.next_tasks(session, user_id=me.id, limit=size),
            lambda: service.count_tasks(session, user_id=me.id, status="active"),
            limit,
        )
    hint = "todo next | less shows them all"
    output.print_tasks(page, more=more, more_hint=hint, empty=empty, zone=zone)


def show(
    ref: RefArgument, tz: TzOption = None, user: UserOption = None, json: JsonOption = False
) -> None:
    """Show one task with all its fields.

    Example: todo show 3
    """
    from todo_cli import models, output, service

    with acting_user(user) as (session, me):
        task = service.get_task(session, user_id=me.id, ref=ref)
        zone = cli_zone(tz, me)
    if json:
        output.print_json(models.task_to_json(task))
    else:
        output.print_task(task, zone=zone)


def edit(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            metavar="REF",
            show_default=False,
            autocompletion=_complete.task_refs,
            help="The task, or tasks as a range or list of numbers (all change, or none). "
            "Example: 3, 3-7 or 3,5,9",
        ),
    ],
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="WORDS",
            show_default=False,
            autocompletion=_complete.inline_words,
            help="Attributes to change: due:WHEN wait:WHEN pri:H|M|L project:NAME +TAG -TAG; "
            "an empty value clears (pri:). Example: due:mon -errand +home",
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option(
            "--title", "-t", metavar="TEXT", help='The new title. Example: --title "Buy oat milk"'
        ),
    ] = None,
    description: Annotated[
        str | None,
        typer.Option(
            "--description",
            "-d",
            metavar="TEXT",
            help='The new description. Example: -d "from the corner shop"',
        ),
    ] = None,
    no_description: Annotated[
        bool,
        typer.Option(
            "--no-description",
            help="Remove the description. Example: todo edit 3 --no-description",
        ),
    ] = False,
    due: DueOption = None,
    no_due: Annotated[
        bool, typer.Option("--no-due", help="Remove the due date. Example: --no-due")
    ] = False,
    wait: WaitOption = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Stop waiting: show it again. Example: --no-wait")
    ] = False,
    priority: PriorityOption = None,
    project: ProjectOption = None,
    tag: TagOption = None,
    untag: Annotated[
        list[str] | None,
        typer.Option(
            "--untag",
            metavar="TAG",
            autocompletion=_complete.tags,
            help="Remove a tag; repeatable. Example: --untag home",
        ),
    ] = None,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Change a task; only what is given changes, as one change (one undo reverts it).

    With nothing but REF, on a terminal, the task opens in $VISUAL / $EDITOR; saving
    applies what changed, an unchanged or emptied file changes nothing.

    Example: todo edit 3 due:mon pri: -errand --title "Buy oat milk"
    """
    from todo_cli import service
    from todo_cli.cli._words import split_words
    from todo_cli.models import TaskUpdate

    said = split_words(unmarked(words or []), editing=True)
    options = (title, description, due, wait, priority, project, tag, untag)
    if not said.has_attributes and all(value is None for value in options):
        if not (no_description or no_due or no_wait) and _on_a_terminal():
            _edit_in_editor(ref, tz=tz, user=user, as_json=json)
            return
    changes: dict[str, object] = {}
    for name, given, off in (
        ("description", description, no_description),
        ("due", due, no_due),
        ("wait", wait, no_wait),
    ):
        if given is not None and off:
            raise ValidationError(
                f"--{name} and --no-{name} cannot be combined.", details={"field": name}
            )
        if off:
            changes[name] = None
    if title is not None:
        changes["title"] = title
    if description is not None:
        changes["description"] = description
    for name in said.cleared:
        changes[name] = None
    added = [*said.tags_add, *(tag or [])]
    removed = [*said.tags_remove, *(untag or [])]
    if added:
        changes["add_tags"] = added
    if removed:
        changes["remove_tags"] = removed
    flags = {"due": due, "wait": wait, "priority": priority, "project": project}
    with acting_user(user) as (session, me):
        zone = cli_zone(tz, me)
        for name, value in _attributes(said, flags, zone).items():
            if name in changes:
                raise ValidationError(
                    f"{name} is given twice; give it once.", details={"field": name}
                )
            changes[name] = value
        if not changes:
            raise ValidationError(
                "Nothing to change: give attributes (due:fri +home pri:H), --title or "
                '--description (example: todo edit 3 --title "Buy oat milk").'
            )
        tasks = service.update_tasks(
            session,
            user_id=me.id,
            refs=[ref],
            changes=TaskUpdate.model_validate(changes),
            zone=zone,
        )
    _render(tasks, "Updated", as_json=json, single=len(tasks) == 1, zone=zone)


def _on_a_terminal() -> bool:
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty()


def _edit_in_editor(ref: str, *, tz: str | None, user: str | None, as_json: bool) -> None:
    """`todo edit REF` alone on a terminal: the task's fields in the user's editor.

    No database session stays open while the editor runs; the write then expects the
    version the form was made from, so a change made meanwhile is refused, not lost.
    """
    from todo_cli import output, service
    from todo_cli.cli import _editor
    from todo_cli.models import TaskUpdate

    with acting_user(user) as (session, me):
        task = service.get_task(session, user_id=me.id, ref=ref)
        zone = cli_zone(tz, me)
    text = _editor.form(task, zone)
    saved = _editor.edit_in_editor(text)
    after = _editor.read(saved) if saved != text else None
    updates = _editor.changes(task, _editor.read(text) or {}, after) if after else {}
    if not updates:
        output.print_line(f"Task {task.number} is unchanged.")
        return
    with acting_user(user) as (session, me):
        changed = service.update_task(
            session,
            user_id=me.id,
            ref=str(task.id),
            changes=TaskUpdate.model_validate(updates),
            expected_version=task.version,
            zone=zone,
        )
    _render([changed], "Updated", as_json=as_json, single=True, zone=zone)


def note(
    ref: RefArgument,
    text: Annotated[
        list[str],
        typer.Argument(
            metavar="TEXT…",
            show_default=False,
            help="The note; several words are joined with spaces. Example: called, no answer",
        ),
    ],
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Add a note to a task (`todo show` lists them, oldest first).

    Example: todo note 3 called the landlord, no answer
    """
    from todo_cli import models, output, service

    with acting_user(user) as (session, me):
        task = service.add_note(session, user_id=me.id, ref=ref, text=" ".join(text))
    if json:
        output.print_json(models.task_to_json(task))
    else:
        output.print_line(f"Noted on task {task.number}: {output.printable(task.title)}")


def done(refs: RefsArgument, user: UserOption = None, json: JsonOption = False) -> None:
    """Mark tasks completed; if any reference is unknown, nothing changes.

    Example: todo done 3 4
    """
    from todo_cli import service

    with acting_user(user) as (session, me):
        tasks = service.complete_tasks(session, user_id=me.id, refs=refs)
        changed = _changed(session)
    _render(tasks, "Completed", as_json=json, changed=changed, already="already completed")


def reopen(refs: RefsArgument, user: UserOption = None, json: JsonOption = False) -> None:
    """Mark completed tasks pending again; if any reference is unknown, nothing changes.

    Example: todo reopen 3
    """
    from todo_cli import service

    with acting_user(user) as (session, me):
        tasks = service.reopen_tasks(session, user_id=me.id, refs=refs)
        changed = _changed(session)
    _render(tasks, "Reopened", as_json=json, changed=changed, already="already pending")


def rm(refs: RefsArgument, user: UserOption = None, json: JsonOption = False) -> None:
    """Delete tasks for good; if any reference is unknown, nothing is deleted.

    Their numbers are never handed out again.

    Example: todo rm 3 4
    """
    from todo_cli import service

    with acting_user(user) as (session, me):
        tasks = service.delete_tasks(session, user_id=me.id, refs=refs)
    _render(tasks, "Deleted", as_json=json)


def _render(
    tasks: list[Task],
    verb: str,
    *,
    as_json: bool,
    single: bool = False,
    changed: frozenset[uuid.UUID] | None = None,
    already: str = "",
    zone: ZoneInfo | None = None,
) -> None:
    """JSON (one object, or an array for multi-task commands), or a line per task.

    Tasks outside `changed` (when given) were already as asked: they are said to be so.
    """
    from todo_cli import models, output

    if as_json:
        body = [models.task_to_json(task) for task in tasks]
        output.print_json(body[0] if single else body)
        return
    if changed is None:
        output.print_done(verb, tasks, zone=zone)
        return
    output.print_done(verb, [task for task in tasks if task.id in changed])
    for task in tasks:
        if task.id not in changed:
            output.print_line(f"Task {task.number} was {already}.")


def _changed(session: Session) -> frozenset[uuid.UUID]:
    """The tasks the command's change touched (none if it changed nothing)."""
    from todo_cli import service

    committed = service.last_committed(session)
    return committed.task_ids if committed is not None else frozenset()
