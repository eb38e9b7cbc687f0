"""Task commands: add, list, show, edit, done, reopen, rm.

Each parses its arguments, makes one service call for the acting user, and renders the
result; every rule (validation, references, isolation) lives in the service layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from todo_cli.cli._common import JsonOption, UserOption, acting_user, whole_number
from todo_cli.errors import ValidationError

if TYPE_CHECKING:
    import uuid

    from sqlmodel import Session

    from todo_cli.models import Task

RefsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="REF",
        show_default=False,
        help="Tasks by number, UUID or UUID prefix (4+ hex digits). Example: 3 7 1f3e",
    ),
]
RefArgument = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        show_default=False,
        help="A task by number, UUID or UUID prefix (4+ hex digits). Example: 3",
    ),
]


def add(
    title: Annotated[
        list[str],
        typer.Argument(
            metavar="TITLE",
            show_default=False,
            help="What to do, up to 255 characters; several words are joined with spaces. "
            'Example: "Buy milk"',
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
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Add a task and print its number; `todo add -` adds one task per line of stdin.

    Titles read from stdin are added in one go: all of them, or none if any is invalid
    (blank lines are skipped).

    Example: todo add "Buy milk" -d "2 litres, oat"
    """
    import sys

    from todo_cli import service
    from todo_cli.models import TaskCreate

    if title == ["-"]:
        if description is not None:
            raise ValidationError(
                "--description cannot be combined with titles from stdin (todo add -).",
                details={"field": "description"},
            )
        new = [TaskCreate(title=line) for line in sys.stdin.read().splitlines() if line.strip()]
        if not new:
            raise ValidationError("No titles on stdin: give one task title per line.")
    else:
        new = [TaskCreate(title=" ".join(title), description=description)]
    with acting_user(user) as (session, me):
        tasks = service.create_tasks(session, user_id=me.id, tasks=new)
    _render(tasks, "Added", as_json=json, single=len(new) == 1 and title != ["-"])


def list_tasks(
    show_all: Annotated[
        bool,
        typer.Option("--all", "-a", help="Pending and completed tasks. Example: todo list --all"),
    ] = False,
    done: Annotated[
        bool,
        typer.Option("--done", help="Completed tasks only. Example: todo list --done"),
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            metavar="N",
            parser=whole_number(minimum=0),
            show_default=False,
            help="Show at most N tasks (default: one screenful on a terminal, all of them "
            "when piped or with --json). Example: --limit 100",
        ),
    ] = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """List pending tasks, newest first (--all: every task, --done: completed ones).

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
    status: service.Status = "all" if show_all else "done" if done else "pending"
    flags = {"all": " --all", "done": " --done", "pending": ""}[status]
    empty = {
        "pending": 'No pending tasks. Add one with: todo add "Buy milk"',
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
            output.print_plain_tasks(tasks, empty=empty if limit != 0 else None)
            return
        if limit is None:
            # One screenful: the header, the rows, and the shell's prompt after them; when
            # not all fit, one row less, for the line that says how many more there are.
            room = max(1, output.screen_rows() - 2)
            page = service.list_tasks(session, user_id=me.id, status=status, limit=room + 1)
            shown = room if len(page) <= room else max(1, room - 1)
        else:
            shown = limit
            page = service.list_tasks(session, user_id=me.id, status=status, limit=shown + 1)
        more = 0
        if len(page) > shown:
            page = page[:shown]
            more = service.count_tasks(session, user_id=me.id, status=status) - shown
    output.print_tasks(
        page, more=more, more_hint=f"todo list{flags} | less shows them all", empty=empty
    )


def show(ref: RefArgument, user: UserOption = None, json: JsonOption = False) -> None:
    """Show one task with all its fields.

    Example: todo show 3
    """
    from todo_cli import models, output, service

    with acting_user(user) as (session, me):
        task = service.get_task(session, user_id=me.id, ref=ref)
    if json:
        output.print_json(models.task_to_json(task))
    else:
        output.print_task(task)


def edit(
    ref: RefArgument,
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
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Change a task's title or description; only the fields given change.

    Example: todo edit 3 --title "Buy oat milk"
    """
    from todo_cli import service
    from todo_cli.models import TaskUpdate

    if description is not None and no_description:
        raise ValidationError(
            "--description and --no-description cannot be combined.",
            details={"field": "description"},
        )
    changes: dict[str, str | None] = {}
    if title is not None:
        changes["title"] = title
    if description is not None or no_description:
        changes["description"] = description
    if not changes:
        raise ValidationError(
            "Nothing to change: give --title, --description or --no-description "
            '(example: todo edit 3 --title "Buy oat milk").'
        )
    with acting_user(user) as (session, me):
        task = service.update_task(
            session, user_id=me.id, ref=ref, changes=TaskUpdate.model_validate(changes)
        )
    _render([task], "Updated", as_json=json, single=True)


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
        output.print_done(verb, tasks)
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
