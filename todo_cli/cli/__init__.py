"""The `todo` command line: one small function per command, over the service layer.

This module is what `todo --help` and shell completion load, so it imports Typer and the
command modules (which import nothing heavy at module level) and nothing else.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator, MutableMapping
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand
from typer.models import CommandInfo, TyperInfo

from todo_cli import __version__
from todo_cli.cli._common import (
    CONTEXT_SETTINGS,
    PLAIN_HELP,
    LeanCommand,
    LeanGroup,
    WordsCommand,
    as_user_error,
    debug_enabled,
    wants_json,
)
from todo_cli.errors import ExitCode, ValidationError

# The command line as typed, kept for the commands that need its `--` (see tasks.add).
ARGS_KEY = "todo.args"
# What bare `todo` runs, as Taskwarrior's `task` runs its default report (SPEC: `todo next`
# once that report exists).
DEFAULT_COMMAND = "next"


class _TodoGroup(LeanGroup):
    """The one place where errors become stderr text and an exit code.

    Its commands are built on first use (`_LazyCommands`): a command line runs one of
    them, and `todo --help` lists them all from their help text alone.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands)

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return list(self.commands)

    def shell_complete(self, ctx: typer.Context, incomplete: str) -> list[Any]:  # type: ignore[override]
        """`todo <Tab>`: the command names from the registry, none of them built."""
        from typer._click.shell_completion import CompletionItem

        commands: _LazyCommands = self.commands  # type: ignore[assignment]
        items: list[Any] = [
            CompletionItem(name, help=commands.short_help(name))
            for name in commands
            if name.startswith(incomplete) and not commands.hidden(name)
        ]
        # The group's own options (`--version`, `--help`…), as Click offers them.
        items.extend(typer.core.TyperCommand.shell_complete(self, ctx, incomplete))
        return items

    def format_commands(self, ctx: typer.Context, formatter: Any) -> None:  # type: ignore[override]
        commands: _LazyCommands = self.commands  # type: ignore[assignment]
        names = [name for name in commands if not commands.hidden(name)]
        if names:
            limit = formatter.width - 6 - max(len(name) for name in names)
            with formatter.section("Commands"):
                formatter.write_dl([(name, commands.short_help(name, limit)) for name in names])

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if not args and not ctx.resilient_parsing:  # shell completion must see no command
            args = [DEFAULT_COMMAND]
        # Kept for `invoke`: a usage error can strike before `--json` itself is parsed.
        ctx.meta[ARGS_KEY] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Ctrl-C: the shell's convention (128 + SIGINT), quietly, as SPEC says; Click
            # would print "Aborted!" and exit 1, like a failure.
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except Exception as exc:
            if isinstance(exc, typer.TyperException) and exc.exit_code == ExitCode.USAGE:
                if _json_requested(ctx):
                    from todo_cli import output

                    output.print_error(ValidationError(exc.format_message()), as_json=True)
                    raise typer.Exit(ExitCode.USAGE) from None
                raise  # Typer shows it with the usage line and a pointer to --help
            if isinstance(exc, typer.Exit | typer.Abort | typer.TyperException | BrokenPipeError):
                raise  # Typer's own signals; a closed pipe (`| head`) ends quietly
            from todo_cli import output

            error = as_user_error(exc)
            if error is not None:
                output.print_error(error, as_json=_json_requested(ctx))
                raise typer.Exit(error.exit_code) from None
            if debug_enabled():
                output.print_traceback(exc)
            else:
                output.print_unexpected(exc, as_json=_json_requested(ctx))
            raise typer.Exit(ExitCode.UNEXPECTED) from None


# The root's commands and groups as registered, by name, in the order of `todo --help`.
_REGISTERED: dict[str, CommandInfo | TyperInfo] = {}


class _LazyCommands(MutableMapping[str, Any]):
    """The root's commands by name, each built by Typer the first time it is looked up.

    Typer builds a command's options from the type hints of its function, evaluated
    anew on every run: for all of `todo`'s thirty commands, about 20 ms of every command
    line, which runs one of them. Listing the names, their help line or whether one is
    hidden builds nothing.
    """

    def __init__(self, built: MutableMapping[str, Any]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> Any:
        command = self._built.get(name)
        if command is None:
            command = self._built[name] = _build(_REGISTERED[name])
        return command

    def get(self, name: str, default: Any = None) -> Any:
        # Click looks commands up with `get`: an error while building one must surface as
        # itself, not as "No such command" (Mapping.get would take its KeyError for that).
        return self[name] if name in self else default

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in _REGISTERED

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name in _REGISTERED and name not in self._built:
            raise TypeError(f"{name!r} is registered at import and cannot be removed")
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(_REGISTERED), **self._built})

    def __len__(self) -> int:
        return len({**dict.fromkeys(_REGISTERED), **self._built})

    def hidden(self, name: str) -> bool:
        if name in self._built or name not in _REGISTERED:
            return bool(self[name].hidden)
        info = _REGISTERED[name]
        if isinstance(info, TyperInfo):
            info = typer.main.solve_typer_info_defaults(info)
        return bool(info.hidden)

    def short_help(self, name: str, limit: int = 45) -> str:
        """The line `todo --help` shows for a command, as its built command gives it."""
        if name in self._built or name not in _REGISTERED:
            return str(self[name].get_short_help_str(limit))
        info = _REGISTERED[name]
        if isinstance(info, TyperInfo):
            solved = typer.main.solve_typer_info_defaults(info)
            text, short, deprecated = solved.help, solved.short_help, solved.deprecated
        else:  # as typer.main.get_command_from_info reads it
            assert info.callback is not None
            text = (
                inspect.getdoc(info.callback) if info.help is None else inspect.cleandoc(info.help)
            )
            short, deprecated = info.short_help, info.deprecated
        # A command with its help and no options: what Click reads the line from.
        stand_in = TyperCommand(name=name, help=text, short_help=short, deprecated=deprecated)
        return stand_in.get_short_help_str(limit)


def _build(info: CommandInfo | TyperInfo) -> Any:
    if isinstance(info, TyperInfo):
        return typer.main.get_group_from_info(
            info,
            pretty_exceptions_short=app.pretty_exceptions_short,
            suggest_commands=app.suggest_commands,
            rich_markup_mode=app.rich_markup_mode,
        )
    return typer.main.get_command_from_info(
        info,
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )


def _json_requested(ctx: typer.Context) -> bool:
    if wants_json(ctx):
        return True
    args: list[str] = ctx.meta.get(ARGS_KEY, [])
    options = args[: args.index("--")] if "--" in args else args
    return "--json" in options


app = typer.Typer(
    cls=_TodoGroup,
    name="todo",
    no_args_is_help=False,
    context_settings=CONTEXT_SETTINGS,
    rich_markup_mode=PLAIN_HELP,
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"todo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit. Example: todo --version",
        ),
    ] = False,
) -> None:
    """A fast task manager for the terminal, backed by SQLite or PostgreSQL.

    Without a command, runs `todo next`: what to do next.

    Example: todo add "Buy milk" && todo list
    """


def help_command(
    ctx: typer.Context,
    command: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="COMMAND",
            show_default=False,
            help="The command to explain, as typed after todo. Example: todo help user rm",
        ),
    ] = None,
) -> None:
    """Show the help of COMMAND (the same as todo COMMAND --help), or of todo itself.

    Example: todo help add
    """
    root = ctx.find_root()
    group: Any = root.command
    current = root
    for word in command or []:
        found = group.get_command(current, word) if hasattr(group, "get_command") else None
        if found is None:
            path = " ".join(("todo", *(command or [])))
            raise ValidationError(
                f"There is no command `{path}`; `todo --help` lists them.",
                details={"field": "command"},
            )
        current = found.make_context(word, [], parent=current, resilient_parsing=True)
        group = found
    typer.echo(current.get_help(), color=ctx.color)


def _register() -> None:
    from todo_cli.cli import history, settings, tasks, transfer, users
    from todo_cli.cli.daemon import daemon_app
    from todo_cli.cli.db_commands import db_app
    from todo_cli.cli.serve import serve
    from todo_cli.cli.token import token_app

    for name, command in (
        ("add", tasks.add),
        ("show", tasks.show),
        ("done", tasks.done),
        ("reopen", tasks.reopen),
        ("rm", tasks.rm),
        ("undo", history.undo),
        ("redo", history.redo),
        ("history", history.history),
        ("log", history.log),
        ("import", transfer.import_),
    ):
        app.command(name, cls=LeanCommand)(command)
    # Filter words may start with `-` (`todo list -errand`): words, never short options.
    app.command("list", cls=WordsCommand)(tasks.list_tasks)
    app.command("next", cls=WordsCommand)(tasks.next_tasks)
    app.command("count", cls=WordsCommand)(tasks.count)
    app.command("export", cls=WordsCommand)(transfer.export)
    app.command("edit", cls=WordsCommand)(tasks.edit)
    app.command("note", cls=LeanCommand)(tasks.note)
    users.user_app.command("add", cls=LeanCommand)(users.add_user)
    users.user_app.command("list", cls=LeanCommand)(users.list_users)
    users.user_app.command("rm", cls=LeanCommand)(users.remove_user)
    users.user_app.command("zone", cls=LeanCommand)(users.user_zone)
    app.add_typer(users.user_app, name="user")
    app.command("config", cls=LeanCommand)(settings.show_config)
    app.add_typer(db_app, name="db")
    app.command("serve", cls=LeanCommand)(serve)
    app.add_typer(token_app, name="token")
    app.command("help", cls=LeanCommand)(help_command)
    app.add_typer(daemon_app, name="daemon")
    # Built on first use by `_LazyCommands`, instead of all of them on every run.
    for registered in app.registered_commands:
        assert registered.name is not None  # every command above is registered by name
        _REGISTERED[registered.name] = registered
    for group in app.registered_groups:
        assert isinstance(group.name, str)
        _REGISTERED[group.name] = group
    app.registered_commands.clear()
    app.registered_groups.clear()


_register()


def main() -> None:
    """The `todo` console script: run, flush, and leave without interpreter teardown.

    Everything worth keeping is written and every connection closed by the time the
    command returns, so tearing down thousands of imported objects would only add
    latency. Only the real entry point does this, never `CliRunner`.
    """
    os._exit(run())


def run() -> int:
    """Run the command in `sys.argv`, flush stdout and stderr, and return its exit code.

    Shared by `main` and the warm server (`todo_cli.warm.server`), so that a command
    ends the same way, closed pipe included, wherever it runs.
    """
    try:
        app(prog_name="todo")
        code = 0
    except SystemExit as exc:
        code = _exit_status(exc.code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # reader gone (`| head`), or stream closed
            code = code or ExitCode.UNEXPECTED
    return code


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")  # sys.exit("message"), as the interpreter would print it
    return ExitCode.UNEXPECTED
