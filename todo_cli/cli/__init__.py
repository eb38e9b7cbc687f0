"""The `todo` command line: one small function per command, over the service layer."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from todo_cli import __version__
from todo_cli.cli._common import as_user_error, debug_enabled, wants_json
from todo_cli.errors import ExitCode


class _TodoGroup(TyperGroup):
    """The one place where errors become stderr text and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if isinstance(exc, typer.Exit | typer.Abort) or type(exc).__module__.startswith(
                "typer."
            ):
                raise  # Typer's own signals: exits, usage errors, aborts
            from todo_cli import output

            error = as_user_error(exc)
            if error is not None:
                output.print_error(error, as_json=wants_json(ctx))
                raise typer.Exit(error.exit_code) from None
            if debug_enabled():
                raise
            output.print_unexpected(exc)
            raise typer.Exit(ExitCode.UNEXPECTED) from None


app = typer.Typer(
    cls=_TodoGroup,
    name="todo",
    help="A fast task manager for the terminal, backed by SQLite or PostgreSQL.",
    no_args_is_help=True,
    rich_markup_mode="rich",
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

    Example: todo add "Buy milk" && todo list
    """


def _register() -> None:
    from todo_cli.cli.db_commands import db_app
    from todo_cli.cli.serve import serve
    from todo_cli.cli.token import token_app

    app.add_typer(db_app, name="db")
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")


_register()


def main() -> None:
    app(prog_name="todo")
