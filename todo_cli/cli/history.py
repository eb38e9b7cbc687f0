"""History commands: undo, redo, history, log.

Every task command is one change in the acting user's log; these read the log and
revert its changes, through the same service layer as everything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from todo_cli.cli._common import JsonOption, UserOption, acting_user, whole_number
from todo_cli.cli.tasks import RefArgument

if TYPE_CHECKING:
    from todo_cli.service import Logged

DEFAULT_HISTORY_LIMIT = 20

LimitOption = Annotated[
    int,
    typer.Option(
        "--limit",
        "-n",
        metavar="N",
        parser=whole_number(minimum=0),
        show_default=False,
        help=f"Show at most N changes (default {DEFAULT_HISTORY_LIMIT}). Example: --limit 50",
    ),
]


def undo(
    change_id: Annotated[
        int | None,
        typer.Argument(
            metavar="[ID]",
            parser=whole_number(minimum=1),
            show_default=False,
            help="The change to revert (see todo history); default: the latest one. Example: 42",
        ),
    ] = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Revert the latest change not yet undone (repeat to go further back), or change ID.

    If a task of that change has changed since, nothing is undone (exit 4).

    Example: todo undo
    """
    from todo_cli import service

    with acting_user(user) as (session, me):
        logged = service.undo_change(session, user_id=me.id, change_id=change_id)
    _render_revert(logged, as_json=json)


def redo(user: UserOption = None, json: JsonOption = False) -> None:
    """Re-apply the change that was undone last (repeat to go further forward).

    Example: todo undo && todo redo
    """
    from todo_cli import service

    with acting_user(user) as (session, me):
        logged = service.redo_change(session, user_id=me.id)
    _render_revert(logged, as_json=json)


def history(
    limit: LimitOption = DEFAULT_HISTORY_LIMIT, user: UserOption = None, json: JsonOption = False
) -> None:
    """List your changes, newest first: id, age, where it came from, what it did.

    Example: todo history --limit 5
    """
    from todo_cli import output, service

    with acting_user(user) as (session, me):
        changes = service.list_changes(session, user_id=me.id, limit=limit)
    if json:
        output.print_json([_change_json(logged) for logged in changes])
    else:
        output.print_changes(changes, empty="No changes yet.")


def log(
    ref: RefArgument,
    limit: LimitOption = DEFAULT_HISTORY_LIMIT,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """List the changes that touched one task, newest first.

    Example: todo log 3
    """
    from todo_cli import output, service

    with acting_user(user) as (session, me):
        changes = service.task_log(session, user_id=me.id, ref=ref, limit=limit)
    if json:
        output.print_json([_change_json(logged) for logged in changes])
    else:
        output.print_changes(changes, empty="No recorded changes of this task.")


def _render_revert(logged: Logged, *, as_json: bool) -> None:
    from todo_cli import output

    if as_json:
        output.print_json(_change_json(logged))
        return
    change = logged.change
    verb, _, what = change.summary.partition(" ")
    done = "Undid" if verb == "undo" else "Redid"
    output.print_line(f"{done} change {output.printable(what)}; recorded as change {change.id}.")


def _change_json(logged: Logged) -> dict[str, object]:
    from todo_cli.models import change_to_json

    return change_to_json(logged.change, logged.task_ids)
