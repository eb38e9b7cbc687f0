"""`todo serve`: refusals through the real command line, and one real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from todo_cli import db, service
from todo_cli.cli import app
from todo_cli.config import DatabaseURL, get_settings

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    get_settings.cache_clear()
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_serve_without_the_api_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # what `import uvicorn` meets without it
    code, out, err = invoke("serve")
    assert (code, out) == (5, "")
    assert err == (
        "Error: This needs the api extra (uvicorn is not installed); "
        'install it with: pip install "todo-cli[api]"\n'
    )


def test_serve_refuses_a_malformed_database_url_before_starting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TODO_DATABASE_URL", "mysql://me:hunter2@db/todo")
    code, out, err = invoke("serve", "--port", str(free_port()))
    assert code == 5 and out == ""
    assert err.startswith("Error: The database URL") and "hunter2" not in err


def test_serve_help_documents_its_options() -> None:
    code, out, _ = invoke("serve", "--help")
    assert code == 0
    for option in ("--host", "--port", "--workers", "127.0.0.1", "8000"):
        assert option in out


@pytest.fixture
def sqlite_url(new_database: Callable[[str], DatabaseURL]) -> DatabaseURL:
    url = new_database("sqlite")
    db.upgrade(url)
    return url


def start_server(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "todo_cli", "serve", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until_serving(server: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            pytest.fail(f"todo serve exited with {server.returncode}:\n{output}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("todo serve did not answer within 30 seconds")


@pytest.fixture
def stop() -> Iterator[list[subprocess.Popen[str]]]:
    servers: list[subprocess.Popen[str]] = []
    yield servers
    for server in servers:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def test_serve_runs_the_api_on_loopback_with_several_workers(
    sqlite_url: DatabaseURL, tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    engine = db.make_engine(sqlite_url)
    with db.make_session_factory(engine)() as session:
        alice = service.create_user(session, name="alice")
    engine.dispose()
    port = free_port()
    env = {**os.environ, "TODO_DATABASE_URL": sqlite_url.reveal()}
    server = start_server(["--port", str(port), "--workers", "2"], env, tmp_path)
    stop.append(server)
    wait_until_serving(server, port)

    base = f"http://127.0.0.1:{port}"
    created = httpx.post(f"{base}/users/{alice.id}/tasks", json={"title": "Served"})
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    listed = httpx.get(f"{base}/users/{alice.id}/tasks")
    assert [task["title"] for task in listed.json()] == ["Served"]
    assert httpx.get(f"{base}/nowhere").json()["error"]["code"] == "NOT_FOUND"

    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=15) == 0
