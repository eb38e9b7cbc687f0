"""`todo daemon status|start|stop`: the warm command server (docs/warm-server.md)."""

from __future__ import annotations

import os
import time
from typing import Any

import typer

from todo_cli.cli._common import PLAIN_HELP, JsonOption, LeanCommand, LeanGroup
from todo_cli.errors import ConfigError

daemon_app = typer.Typer(
    cls=LeanGroup,
    rich_markup_mode=PLAIN_HELP,
    help="The warm server that makes commands instant. Example: todo daemon status",
    no_args_is_help=True,
)

_START_WAIT_SECONDS = 15.0
_STOP_WAIT_SECONDS = 5.0


class DaemonError(ConfigError):
    """The warm server could not be used, started or stopped (exit 5, like a setting
    that cannot work)."""


def _status(directory: str) -> dict[str, Any] | None:
    from todo_cli.warm import client

    try:
        answer = client.ask(directory, b"status", timeout=2.0)
    except (OSError, EOFError, ValueError):
        return None
    if answer[:1] != [b"status"] or len(answer) < 2:
        return None
    import json as json_module  # only here: `todo --help` loads this module too

    report: dict[str, Any] = json_module.loads(answer[1])
    fresh = report.get("fingerprint") == _own_fingerprint()
    report["stale"] = not fresh
    return report


def _own_fingerprint() -> str:
    import hashlib

    from todo_cli.warm import client

    return hashlib.sha256(client.fingerprint()).hexdigest()[:16]


@daemon_app.command("status", cls=LeanCommand)
def status(json: JsonOption = False) -> None:
    """Say whether the warm server runs: its pid, version, uptime, commands served.

    Example: todo daemon status --json
    """
    from todo_cli import output
    from todo_cli.warm import client

    directory = client.socket_dir()
    problem = client.unsafe_dir(directory, create=False)
    enabled = client.daemon_enabled()
    report = _status(directory) if problem is None else None
    if json:
        output.print_json(
            {
                "running": report is not None,
                "enabled": enabled,
                "socket_dir": directory,
                "refused": problem,
                "server": report,
            }
        )
        return
    if not enabled:
        output.print_message("TODO_DAEMON is off: every command runs in its own process.")
    if problem is not None and os.path.lexists(directory):
        output.print_message(f"Not used: {problem}.")
    if report is None:
        output.print_message(f"No warm server is running (socket directory {directory}).")
        return
    uptime = _duration(report["uptime_seconds"])
    state = "stale: commands run in their own process" if report["stale"] else "up to date"
    output.print_message(
        f"Warm server running: pid {report['pid']}, todo {report['version']} "
        f"(fingerprint {report['fingerprint']}, {state}), up {uptime}, "
        f"{report['commands']} command{'s' if report['commands'] != 1 else ''} served "
        f"({report['commands_forked']} in a forked process). Log: {report['log']}"
    )


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60}s"
    return f"{whole // 3600}h {whole % 3600 // 60}m"


@daemon_app.command("start", cls=LeanCommand)
def start(json: JsonOption = False) -> None:
    """Start the warm server now (commands also start it on first use).

    Example: todo daemon start
    """
    from todo_cli import output
    from todo_cli.warm import client

    directory = client.socket_dir()
    problem = client.unsafe_dir(directory)
    if problem is not None:
        raise DaemonError(f"Cannot use the socket directory: {problem}.")
    report = _status(directory)
    if report is None or report["stale"]:
        client.start_server(directory)
        deadline = time.monotonic() + _START_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)
            report = _status(directory)
            if report is not None and not report["stale"]:
                break
        else:
            log = os.path.join(directory, client.LOG_NAME)
            raise DaemonError(f"The warm server did not start; see its log, {log}.")
        message = f"Started the warm server (pid {report['pid']})."
    else:
        message = f"The warm server is already running (pid {report['pid']})."
    if json:
        output.print_json({"running": True, "server": report})
    else:
        output.print_message(message)


@daemon_app.command("stop", cls=LeanCommand)
def stop(json: JsonOption = False) -> None:
    """Stop the warm server; the next command runs in its own process and starts a new one.

    Example: todo daemon stop
    """
    from todo_cli import output
    from todo_cli.warm import client

    directory = client.socket_dir()
    pid: int | None = None
    if client.unsafe_dir(directory, create=False) is None:
        try:
            answer = client.ask(directory, b"stop", timeout=2.0)
        except (OSError, EOFError, ValueError):
            answer = []
        if answer[:1] == [b"stopping"] and len(answer) == 2:
            pid = int(answer[1])
            _wait_for_exit(pid)
    if json:
        output.print_json({"stopped": pid is not None, "pid": pid})
    elif pid is None:
        output.print_message("No warm server was running.")
    else:
        output.print_message(f"Stopped the warm server (pid {pid}).")


def _wait_for_exit(pid: int) -> None:
    deadline = time.monotonic() + _STOP_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise DaemonError(f"The warm server (pid {pid}) did not stop within {_STOP_WAIT_SECONDS:g}s.")
