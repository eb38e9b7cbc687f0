"""`todo user …`: the people whose task lists the database holds."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from todo_cli.cli import _complete
from todo_cli.cli._common import (
    PLAIN_HELP,
    JsonOption,
    LeanGroup,
    UserOption,
    acting_user,
    cli_zone,
    database,
)
from todo_cli.errors import ValidationError

if TYPE_CHECKING:
    from todo_cli.models import User

user_app = typer.Typer(
    cls=LeanGroup,
    rich_markup_mode=PLAIN_HELP,
    help="Manage users; each has a private task list. Example: todo user add alice",
    no_args_is_help=True,
)

NameArgument = Annotated[
    str,
    typer.Argument(
        metavar="NAME",
        show_default=False,
        help="1–64 letters, digits and ._@+- (case-insensitive). Example: alice",
    ),
]


def add_user(name: NameArgument, json: JsonOption = False) -> None:
    """Create a user, who can then act with --user NAME.

    Example: todo user add alice
    """
    from todo_cli import service

    with database() as session:
        user = service.create_user(session, name=name)
    _render(user, f"Created user {user.name} ({user.id}).", as_json=json)


def list_users(json: JsonOption = False) -> None:
    """List every user, by name.

    Example: todo user list --json
    """
    from todo_cli import models, output, service

    with database() as session:
        users = service.list_users(session)
    if json:
        output.print_json([models.user_to_json(user) for user in users])
    else:
        output.print_users(users, zone=cli_zone(None, None))


def remove_user(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME_OR_UUID",
            show_default=False,
            autocompletion=_complete.user_names,
            help="The user to delete. Example: alice",
        ),
    ],
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Do not ask for confirmation. Example: todo user rm alice --yes"
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Delete a user and all of their tasks, after confirmation (or --yes).

    Without a terminal to ask on, --yes is required.

    Example: todo user rm alice --yes
    """
    from todo_cli import service

    with database() as session:
        user = service.get_user(session, ref=name)
        if not yes:
            count = service.count_tasks(session, user_id=user.id, status="all")
            # End the transaction first: nothing stays locked while a person reads.
            session.close()
            _confirm(user, count)
        deleted = service.delete_user(session, ref=str(user.id))
    _render(deleted, f"Deleted user {deleted.name} and all of their tasks.", as_json=json)


def user_zone(
    zone: Annotated[
        str | None,
        typer.Argument(
            metavar="ZONE",
            show_default=False,
            help="An IANA time zone to store. Example: Europe/Paris",
        ),
    ] = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Show or set your time zone: where the API reads "today" and a day-only due ends.

    Setting it moves the dues given as a day (due:fri) to the end of that day in the new
    zone, as one change that `todo undo` reverts. The command line itself reads dates in
    --tz, TODO_TZ or the system's zone first.

    Example: todo user zone Europe/Paris
    """
    from todo_cli import output, service

    with acting_user(user) as (session, me):
        if zone is None:
            name, moved = me.time_zone, []
        else:
            moved = service.set_time_zone(session, user_id=me.id, name=zone)
            name = zone.strip()
    numbers = [task.number for task in moved]
    if json:
        output.print_json({"user": me.name, "time_zone": name, "moved": numbers})
        return
    said = f"Time zone of {me.name}: {name or 'none (UTC)'}"
    if numbers:
        said += f"; moved the due of task{'s' if len(numbers) > 1 else ''} "
        said += " ".join(map(str, numbers))
    output.print_line(output.printable(said))


def _confirm(user: User, task_count: int) -> None:
    from todo_cli.output import printable

    what = f"user {user.name!r} and their {task_count} task{'s' if task_count != 1 else ''}"
    if not can_ask():
        raise ValidationError(
            f"Deleting {printable(what)} needs confirmation; pass --yes.",
            details={"field": "yes"},
        )
    if not ask(f"Delete {printable(what)}?"):
        raise ValidationError(
            f"Not confirmed; {printable(what)} were kept.", details={"field": "yes"}
        )


def ask(question: str) -> bool:
    """A yes/no question on stderr, default no.

    Not `typer.confirm`: it writes part of the prompt to stdout, which under `--json`
    belongs to the JSON alone.
    """
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in {"y", "yes"}


def can_ask() -> bool:
    """Whether a person can answer a prompt (stdin is a terminal).

    Also what `todo db downgrade` asks with: one rule for every destructive command.
    """
    return sys.stdin.isatty()


def _render(user: User, message: str, *, as_json: bool) -> None:
    from todo_cli import models, output

    if as_json:
        output.print_json(models.user_to_json(user))
    else:
        output.print_line(output.printable(message))
