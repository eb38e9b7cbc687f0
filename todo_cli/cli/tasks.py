"""Task commands: add, list, show, edit, done, reopen, rm.

Each parses its arguments, makes one service call for the acting user, and renders the
result; every rule (validation, references, isolation) lives in the service layer.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from todo_cli.cli import _complete
from todo_cli.cli._common import (
    WORD_MARK,
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
    from collections.abc import Callable, Sequence
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

    from todo_cli.cli._words import Words
    from todo_cli.models import AnyTask
    from todo_cli.service import Status as TaskStatus

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

    from todo_cli.service.attributes import BY_NAME
    from todo_cli.service.dates import parse_when

    given = {name: value for name in flags if (value := _once(said, flags, name)) is not None}
    now = datetime.now(UTC)
    for name in given:
        if not BY_NAME[name].is_date:
            continue
        # A word's error says how to put such text in the title; a flag's need not.
        from_word = name in said.given
        when = said.when(name, now=now, zone=zone) if from_word else None
        when = when or parse_when(given[name], now=now, zone=zone)
        given[name] = when.day.isoformat() if when.day is not None else when.instant.isoformat()
    return given


def _once(said: Words, flags: dict[str, str | None], name: str) -> str | None:
    word = said.given.get(name)
    if word is not None and flags[name] is not None:
        raise ValidationError(
            f"{name} is given both as a word and as --{name}; give it once.",
            details={"field": name},
        )
    return word if word is not None else flags[name]


FilterArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="FILTER",
        show_default=False,
        help="Which tasks (see above). Example: project:house +errand due.by:fri",
    ),
]
SortOption = Annotated[
    str | None,
    typer.Option(
        "--sort",
        metavar="KEYS",
        help="Order by these keys, - for descending: due, wait, priority, project, created, "
        "modified, done, id; missing values last (default: newest first). "
        "Example: --sort due,-priority",
    ),
]


def list_tasks(
    words: FilterArgument = None,
    show_all: Annotated[
        bool,
        typer.Option("--all", "-a", help="Pending and completed tasks. Example: todo list --all"),
    ] = False,
    done: Annotated[
        bool,
        typer.Option("--done", help="Completed tasks only. Example: todo list --done"),
    ] = False,
    sort: SortOption = None,
    limit: PageLimitOption = None,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """List pending tasks, newest first, or those FILTER selects (--all: every task,
    --done: completed ones); a task waiting (wait:mon) stays out until then.

    FILTER: +TAG -TAG project:P (and its subprojects) project.is:P pri:H,M pri.above:L
    due|wait|created|done[.before|.after|.by|.on]:WHEN, :none, :any
    status:pending|waiting|done|all id:3,5-9 is:overdue, words or "a phrase" (title or
    description, any case); all must match, or join with 'or', negate with 'not' or -,
    group with ( ). A day compares by whole days (due.by:fri), a time exactly. Default:
    pending and not waiting, unless the filter names status: or id:.

    On a terminal the table fits the window, shows one screenful and says how many
    more there are; piped, it is plain text with every matching row (for grep).

    --json streams a JSON array of every matching task.

    Example: todo list project:house +errand --sort due,-priority
    """
    import shlex

    from todo_cli import models, output, service

    if show_all and done:
        raise ValidationError(
            "--all and --done cannot be combined; --all already includes completed tasks.",
            details={"field": "done"},
        )
    typed = unmarked(words or [])
    status: service.Status | None = "all" if show_all else "done" if done else None
    flags = {"all": " --all", "done": " --done", None: ""}[status]
    flags += "".join(f" {shlex.quote(word)}" for word in typed)
    empty = {
        None: 'No pending tasks. Add one with: todo add "Buy milk"',
        "done": "No completed tasks.",
        "all": 'No tasks yet. Add one with: todo add "Buy milk"',
    }[status]
    if typed:
        empty = "No tasks match."
    with acting_user(user) as (session, me):
        zone = cli_zone(tz, me)
        with showing_filter(json):
            parsed = service.parse_filter(typed, zone=zone)
            if sort is not None:
                service.parse_sort(sort)

        def fetch(size: int | None) -> Iterable[AnyTask]:
            return service.iter_tasks(
                session, user_id=me.id, status=status, filter=parsed, sort=sort, limit=size
            )

        if json:
            output.stream_json_array(models.task_to_json(task) for task in fetch(limit))
            return
        if not output.stdout_is_terminal():
            # A pipe (`| grep`, `| wc -l`) gets every matching row and nothing else.
            output.print_plain_tasks(fetch(limit), empty=empty if limit != 0 else None, zone=zone)
            return
        page, more = _screenful(
            lambda size: list(fetch(size)),
            lambda: service.count_tasks(session, user_id=me.id, status=status, filter=parsed),
            limit,
        )
    output.print_tasks(
        page,
        more=more,
        more_hint=f"todo list{flags} | less shows them all",
        empty=empty,
        zone=zone,
    )


@contextmanager
def showing_filter(as_json: bool) -> Iterator[None]:
    """A filter's error with the filter and a caret under the place, on a terminal's
    stderr (under --json, the error body's details.position says where)."""
    try:
        yield
    except ValidationError as error:
        from todo_cli import output
        from todo_cli.service.query import caret

        pointer = caret(error)
        if as_json or pointer is None:
            raise
        output.print_error(error)
        sys.stderr.write(output.printable(pointer, multiline=True) + "\n")
        raise typer.Exit(error.exit_code) from None


def _screenful(
    fetch: Callable[[int], Sequence[AnyTask]], count: Callable[[], int], limit: int | None
) -> tuple[Sequence[AnyTask], int]:
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
    words: FilterArgument = None,
    limit: PageLimitOption = None,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """What to do next: overdue tasks first, then by due date, priority and age.

    Waiting and completed tasks stay out; FILTER (as in todo list) narrows it down.
    `todo` alone runs it.

    Example: todo next project:house --limit 5
    """
    import shlex

    from todo_cli import models, output, service

    typed = unmarked(words or [])
    empty = 'Nothing to do. Add a task with: todo add "Buy milk" due:fri'
    if typed:
        empty = "No tasks match."
    with acting_user(user) as (session, me):
        zone = cli_zone(tz, me)
        with showing_filter(json):
            parsed = service.parse_filter(typed, zone=zone)
        if json or not output.stdout_is_terminal():
            tasks = service.next_tasks(session, user_id=me.id, limit=limit, filter=parsed)
            if json:
                output.print_json([models.task_to_json(task) for task in tasks])
            else:
                output.print_plain_tasks(tasks, empty=empty if limit != 0 else None, zone=zone)
            return
        page, more = _screenful(
            lambda size: service.next_tasks(session, user_id=me.id, limit=size, filter=parsed),
            lambda: service.count_tasks(session, user_id=me.id, filter=parsed),
            limit,
        )
    hint = f"todo next{''.join(f' {shlex.quote(w)}' for w in typed)} | less shows them all"
    output.print_tasks(page, more=more, more_hint=hint, empty=empty, zone=zone)


def count(
    words: FilterArgument = None,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Print how many tasks FILTER selects (as in todo list: pending and not waiting
    unless it names status: or id:).

    --json prints {"count": N}.

    Example: todo count project:house status:all
    """
    from todo_cli import output, service

    with acting_user(user) as (session, me):
        zone = cli_zone(tz, me)
        with showing_filter(json):
            parsed = service.parse_filter(unmarked(words or []), zone=zone)
        number = service.count_tasks(session, user_id=me.id, filter=parsed)
    if json:
        output.print_json({"count": number})
    else:
        output.print_message(str(number))


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
        str | None,
        typer.Argument(
            metavar="REF",
            show_default=False,
            autocompletion=_complete.task_refs,
            help="The task, or tasks as a range or list of numbers (all change, or none); "
            "left out with --filter. Example: 3, 3-7 or 3,5,9",
        ),
    ] = None,
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
    filter: FilterOption = None,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Change a task; only what is given changes, as one change (one undo reverts it).

    With nothing but REF, on a terminal, the task opens in $VISUAL / $EDITOR; saving
    applies what changed, an unchanged or emptied file changes nothing. --filter EXPR
    changes every task it selects instead of REF, after saying how many and asking.

    Example: todo edit 3 due:mon pri: -errand --title "Buy oat milk"
    """
    from todo_cli import service
    from todo_cli.cli._words import split_words
    from todo_cli.models import TaskUpdate

    typed = unmarked(words or [])
    if filter is not None and ref is not None:
        typed = [ref.removeprefix(WORD_MARK), *typed]  # with --filter there is no REF
        ref = None
    _refs_or_filter([ref] if ref is not None else None, filter, "edit")
    _no_filter_options(filter, yes, dry_run)
    said = split_words(typed, editing=True)
    options = (title, description, due, wait, priority, project, tag, untag)
    if not said.has_attributes and all(value is None for value in options):
        if not (no_description or no_due or no_wait) and _on_a_terminal() and ref is not None:
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
    if not changes and not said.has_attributes and all(value is None for value in options):
        raise _nothing_to_change()
    refs = [ref] if ref is not None else None
    if refs is None:
        assert filter is not None
        refs = _targets(None, filter, "edit", "Change", yes, dry_run, tz, user, json)
        if refs is None:
            return
    with acting_user(user) as (session, me):
        zone = cli_zone(tz, me)
        for name, value in _attributes(said, flags, zone).items():
            if name in changes:
                raise ValidationError(
                    f"{name} is given twice; give it once.", details={"field": name}
                )
            changes[name] = value
        if not changes:
            raise _nothing_to_change()
        tasks = service.update_tasks(
            session,
            user_id=me.id,
            refs=refs,
            changes=TaskUpdate.model_validate(changes),
            zone=zone,
        )
    _render(tasks, "Updated", as_json=json, single=len(tasks) == 1 and filter is None, zone=zone)


def _nothing_to_change() -> ValidationError:
    return ValidationError(
        "Nothing to change: give attributes (due:fri +home pri:H), --title or "
        '--description (example: todo edit 3 --title "Buy oat milk").'
    )


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


OptionalRefsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="REF",
        show_default=False,
        autocompletion=_complete.task_refs,
        help="Tasks by number, range or list of numbers, UUID or UUID prefix (4+ hex "
        "digits); or none, with --filter. Example: 3 5-7 9,12 1f3e",
    ),
]
FilterOption = Annotated[
    str | None,
    typer.Option(
        "--filter",
        "-f",
        metavar="EXPR",
        help="Every task this filter selects (the language of todo list), after saying how "
        "many and asking (--yes without a terminal). Example: --filter 'project:house +errand'",
    ),
]
YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="With --filter: do not ask for confirmation. Example: --yes"),
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="With --filter: list the tasks it selects and change nothing. Example: --dry-run",
    ),
]


# As many tasks as one range (`todo done 1-10000`) names at most.
MAX_BULK = 10_000


class _Bulk:
    """The tasks a bulk command's `--filter` selects, once confirmed: their numbers.

    The tasks are listed and counted in one session that is closed before anyone is
    asked, so nothing stays locked while a person reads; the change then names them by
    number (never reused), all or nothing, as one change that one undo reverts.
    """

    def __init__(
        self,
        expression: str,
        *,
        verb: str,
        user: str | None,
        tz: str | None,
        yes: bool,
        dry_run: bool,
        as_json: bool,
        status: TaskStatus | None = None,
    ) -> None:
        self.expression = expression
        self.verb = verb
        self.user = user
        self.tz = tz
        self.yes = yes
        self.dry_run = dry_run
        self.as_json = as_json
        self.status = status

    def numbers(self) -> list[str] | None:
        """The numbers to change, or None when there is nothing to do (a dry run, no
        match); refusals (not confirmed, no terminal) are errors that change nothing."""
        from todo_cli import models, output, service
        from todo_cli.cli.users import ask, can_ask

        with acting_user(self.user) as (session, me):
            zone = cli_zone(self.tz, me)
            with showing_filter(self.as_json):
                parsed = service.parse_filter(self.expression, zone=zone)
            status = self.status if not parsed.names_status else None
            tasks = service.list_tasks(
                session, user_id=me.id, filter=parsed, status=status, sort="id"
            )
            session.close()
        one = len(tasks) == 1
        what = f"{len(tasks)} task{'' if one else 's'} match{'es' if one else ''}"
        them = "it" if one else "them"
        quoted = output.printable(self.expression)
        if self.dry_run:
            if self.as_json:
                output.print_json([models.task_to_json(task) for task in tasks])
            else:
                output.print_plain_tasks(tasks, empty=None, zone=zone)
                output.print_line(f"{what} {quoted!r}; --dry-run changed nothing.")
            return None
        if not tasks:
            if self.as_json:
                output.print_json([])
            else:
                output.print_line(f"No tasks match {quoted!r}; nothing changed.")
            return None
        if len(tasks) > MAX_BULK:
            # One change holds every task's image, and the rows are locked in one statement.
            raise ValidationError(
                f"{what} {quoted!r}; one change takes at most {MAX_BULK:,} tasks: narrow the "
                "filter (for instance with created.before:…) and repeat.",
                details={"field": "filter", "count": len(tasks), "max": MAX_BULK},
            )
        if not self.yes:
            if not can_ask():
                raise ValidationError(
                    f"{what} {quoted!r}; to {self.verb.lower()} {them} without a terminal "
                    f"to ask on, pass --yes (or see {them} first with --dry-run).",
                    details={"field": "yes", "count": len(tasks)},
                )
            if not ask(f"{what} {quoted!r}. {self.verb} {them}?"):
                raise ValidationError(
                    f"Not confirmed; nothing changed ({what} {quoted!r}).",
                    details={"field": "yes", "count": len(tasks)},
                )
        return [str(task.number) for task in tasks]


def _refs_or_filter(refs: list[str] | None, expression: str | None, command: str) -> None:
    if refs and expression is not None:
        raise ValidationError(
            f"Give tasks or --filter, not both (todo {command} 3 5 or todo {command} --filter "
            "'project:house').",
            details={"field": "filter"},
        )
    if not refs and expression is None:
        raise ValidationError(
            f"Give the tasks to {command}: numbers (todo {command} 3 5-7) or --filter EXPR.",
            details={"field": "refs"},
        )


def _no_filter_options(expression: str | None, yes: bool, dry_run: bool) -> None:
    if expression is None and (yes or dry_run):
        option = "--dry-run" if dry_run else "--yes"
        raise ValidationError(
            f"{option} goes with --filter; tasks named by number change without asking.",
            details={"field": option.lstrip("-")},
        )


def done(
    refs: OptionalRefsArgument = None,
    filter: FilterOption = None,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Mark tasks completed; if any reference is unknown, nothing changes.

    --filter EXPR completes every task it selects, as one change (one undo reverts it).

    Example: todo done 3 4, or todo done --filter 'project:house +errand' --dry-run
    """
    from todo_cli import service

    targets = _targets(refs, filter, "done", "Complete", yes, dry_run, tz, user, json)
    if targets is None:
        return
    with acting_user(user) as (session, me):
        tasks = service.complete_tasks(session, user_id=me.id, refs=targets)
        changed = _changed(session)
    _render(tasks, "Completed", as_json=json, changed=changed, already="already completed")


def reopen(
    refs: OptionalRefsArgument = None,
    filter: FilterOption = None,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Mark completed tasks pending again; if any reference is unknown, nothing changes.

    --filter EXPR reopens every completed task it selects (every task, if it names
    status: or id:), as one change.

    Example: todo reopen 3, or todo reopen --filter 'done.after:mon' --yes
    """
    from todo_cli import service

    targets = _targets(
        refs, filter, "reopen", "Reopen", yes, dry_run, tz, user, json, status="done"
    )
    if targets is None:
        return
    with acting_user(user) as (session, me):
        tasks = service.reopen_tasks(session, user_id=me.id, refs=targets)
        changed = _changed(session)
    _render(tasks, "Reopened", as_json=json, changed=changed, already="already pending")


def rm(
    refs: OptionalRefsArgument = None,
    filter: FilterOption = None,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    tz: TzOption = None,
    user: UserOption = None,
    json: JsonOption = False,
) -> None:
    """Delete tasks for good; if any reference is unknown, nothing is deleted.

    Their numbers are never handed out again. --filter EXPR deletes every task it
    selects, as one change (one undo brings them back).

    Example: todo rm 3 4, or todo rm --filter 'status:done created.before:2026-01-01'
    """
    from todo_cli import service

    targets = _targets(refs, filter, "rm", "Delete", yes, dry_run, tz, user, json)
    if targets is None:
        return
    with acting_user(user) as (session, me):
        tasks = service.delete_tasks(session, user_id=me.id, refs=targets)
    _render(tasks, "Deleted", as_json=json)


def _targets(
    refs: list[str] | None,
    expression: str | None,
    command: str,
    verb: str,
    yes: bool,
    dry_run: bool,
    tz: str | None,
    user: str | None,
    as_json: bool,
    *,
    status: TaskStatus | None = None,
) -> list[str] | None:
    """The references a command changes: those given, or those `--filter` selects."""
    _refs_or_filter(refs, expression, command)
    _no_filter_options(expression, yes, dry_run)
    if expression is None:
        assert refs
        return refs
    bulk = _Bulk(
        expression,
        verb=verb,
        user=user,
        tz=tz,
        yes=yes,
        dry_run=dry_run,
        as_json=as_json,
        status=status,
    )
    return bulk.numbers()


def _render(
    tasks: Sequence[AnyTask],
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
