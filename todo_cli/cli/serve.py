"""`todo serve`: the HTTP API under uvicorn (needs the `api` extra)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from todo_cli.cli._common import whole_number
from todo_cli.errors import ConfigError, ValidationError

# The name on PyPI; the import package (`todo_cli`) and the command (`todo`) differ from it
# because `todo-cli` there is someone else's project. A test holds this to pyproject.toml.
DISTRIBUTION = "todo-shared-tasks"
INSTALL_HINT = f'pip install "{DISTRIBUTION}[api]"'


def require_api_extra(*modules: str) -> None:
    """A friendly error, instead of a traceback, when the `api` extra is not installed."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise ConfigError(
                f"This needs the api extra ({name} is not installed); "
                f"install it with: {INSTALL_HINT}"
            ) from None


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[
        str,
        typer.Option(
            metavar="ADDRESS",
            help="Address to listen on; the default accepts local connections only. "
            "Example: --host 0.0.0.0",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            metavar="PORT",
            parser=whole_number(minimum=0, maximum=65535),
            help="Port to listen on, 0–65535 (0: any free port). Example: --port 8080",
        ),
    ] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            parser=whole_number(minimum=1),
            show_default=False,
            help="Worker processes, at least 1, each with its own connection pool "
            "(default: one per CPU core this process may run on). Example: --workers 2",
        ),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log",
            help="Log a line per request on stderr (off by default: it costs about a "
            "tenth of the server's throughput). Example: todo serve --access-log",
        ),
    ] = False,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Serve without bearer tokens: anyone who can connect acts as any user. "
            "Loopback addresses only. Example: todo serve --no-auth",
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (the same operations as the CLI) with uvicorn.

    Needs TODO_API_SECRET (at least 32 bytes) to check bearer tokens, unless --no-auth.

    Example: TODO_API_SECRET=… todo serve --port 8000, then open http://127.0.0.1:8000/docs
    """
    require_api_extra("fastapi", "fastapi_offline", "uvicorn", "jwt")
    from todo_cli import tokens
    from todo_cli.config import get_settings

    settings = get_settings()
    if no_auth:
        if not is_loopback(host):
            raise ValidationError(
                f"--no-auth is only allowed on a loopback address (127.0.0.1, ::1, localhost), "
                f"not {host}: without tokens anyone who can connect acts as any user; "
                "set TODO_API_SECRET instead.",
                details={"field": "host"},
            )
    elif settings.api_secret is None or not settings.api_secret.get_secret_value():
        raise ConfigError(
            "TODO_API_SECRET is not set, and without it anyone could act as any user; set it "
            f"to a random string of at least {tokens.MIN_SECRET_BYTES} bytes (python -c "
            '"import secrets; print(secrets.token_urlsafe(48))"), or pass --no-auth to serve '
            "on loopback without authentication."
        )
    else:
        tokens.signing_key(settings.api_secret)  # refuses a secret that is too short
    # Fail now, in the terminal, on a malformed database URL; an unreachable database is
    # not checked: the server starts and answers 503 until the database is back.
    settings.db_url()

    from todo_cli._startup import resume_gc

    resume_gc()  # a server runs for long: the collector must be on (todo_cli._startup)
    if no_auth:
        typer.echo(
            f"Warning: serving without authentication; anyone who can reach {host}:{port} "
            "can act as any user.",
            err=True,
        )
    # An import string and a factory, so that every worker process builds its own app
    # (and its own engine) from the same environment.
    factory = "todo_cli.api.app:create_app_without_auth" if no_auth else "todo_cli.api:create_app"
    try:
        run_uvicorn(
            factory,
            host=host,
            port=port,
            workers=workers or available_cores(),
            access_log=access_log,
        )
    except SystemExit as exc:
        # uvicorn exits with its own codes (3 when it cannot bind); ours mean other things.
        if exc.code not in (0, None):
            raise ConfigError(
                f"The server could not start on {host}:{port} (uvicorn's message above says "
                "why, e.g. the port is in use)."
            ) from None
        raise


def available_cores() -> int:
    """The CPU cores this process may run on (a container's or taskset's limit counts)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run_uvicorn(
    factory: str, *, host: str, port: int, workers: int, access_log: bool = False
) -> None:
    """`uvicorn.run(factory, factory=True, …)`, with TCP_NODELAY on every connection.

    With several workers, uvicorn binds the listening socket itself, as protocol 0;
    accepted connections inherit that, and asyncio only turns Nagle's algorithm off on a
    socket whose protocol is IPPROTO_TCP. Each keep-alive response would then wait for
    the client's delayed ACK: about 40 ms per request (Kludex/uvicorn#3149). The socket
    is handed over as IPPROTO_TCP instead. (One worker lets asyncio make its own socket,
    which is right already.)
    """
    import socket
    import sys

    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        factory, factory=True, host=host, port=port, workers=workers, access_log=access_log
    )
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            bound = config.bind_socket()
            listening = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, bound.detach())
            listening.set_inheritable(True)
            Multiprocess(config, sockets=[listening]).run()
            return
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; so did uvicorn.run
        return
    if not server.started:  # as uvicorn.run: the port was taken, the app failed to load…
        sys.exit(STARTUP_FAILURE)
