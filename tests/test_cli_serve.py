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

from tests.cli import invoke
from todo_cli import db, service
from todo_cli.cli.serve import is_loopback
from todo_cli.config import DatabaseURL
from todo_cli.models import User

API_SECRET = "the-serve-tests-secret-0123456789abcdef"


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
        'install it with: pip install "todo-shared-tasks[api]"\n'
    )


def test_serve_refuses_to_start_without_a_secret_unless_no_auth() -> None:
    code, out, err = invoke("serve", "--port", str(free_port()))
    assert (code, out) == (5, "")
    assert err.startswith("Error: TODO_API_SECRET is not set") and err.count("\n") == 1
    assert "--no-auth" in err


def test_serve_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_API_SECRET", "x" * 31)
    code, out, err = invoke("serve", "--port", str(free_port()))
    assert (code, out) == (5, "")
    assert "TODO_API_SECRET is too short (31 bytes)" in err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", "10.0.0.1"])
def test_serve_refuses_no_auth_beyond_loopback(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_API_SECRET", API_SECRET)  # even with a secret set
    code, out, err = invoke("serve", "--no-auth", "--host", host, "--port", str(free_port()))
    assert (code, out) == (2, "")
    assert err.startswith("Error: --no-auth is only allowed on a loopback address")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("localhost.example.com", False),
        ("8.8.8.8", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_refuses_a_malformed_database_url_before_starting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TODO_API_SECRET", API_SECRET)
    monkeypatch.setenv("TODO_DATABASE_URL", "mysql://me:hunter2@db/todo")
    code, out, err = invoke("serve", "--port", str(free_port()))
    assert code == 5 and out == ""
    assert err.startswith("Error: The database URL") and "hunter2" not in err


def test_serve_help_documents_its_options() -> None:
    code, out, _ = invoke("serve", "--help")
    assert code == 0
    for option in ("--host", "--port", "--workers", "--no-auth", "127.0.0.1", "8000"):
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
    from datetime import timedelta

    from todo_cli import tokens

    alice = make_user(sqlite_url)
    port = free_port()
    env = {**os.environ, "TODO_DATABASE_URL": sqlite_url.reveal(), "TODO_API_SECRET": API_SECRET}
    server = start_server(["--port", str(port), "--workers", "2"], env, tmp_path)
    stop.append(server)
    wait_until_serving(server, port)

    base = f"http://127.0.0.1:{port}"
    tasks = f"{base}/users/{alice.id}/tasks"
    token, _ = tokens.mint_token(API_SECRET.encode(), user_id=alice.id, ttl=timedelta(minutes=5))
    authorization = {"Authorization": f"Bearer {token}"}
    created = httpx.post(tasks, json={"title": "Served"}, headers=authorization)
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    listed = httpx.get(tasks, headers=authorization)
    assert [task["title"] for task in listed.json()] == ["Served"]
    refused = httpx.get(tasks)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert httpx.get(f"{base}/nowhere").json()["error"]["code"] == "NOT_FOUND"

    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=15) == 0


def test_serve_no_auth_on_loopback_serves_without_tokens(
    sqlite_url: DatabaseURL, tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    alice = make_user(sqlite_url)
    port = free_port()
    env = {**os.environ, "TODO_DATABASE_URL": sqlite_url.reveal()}  # no secret needed
    server = start_server(["--port", str(port), "--no-auth"], env, tmp_path)
    stop.append(server)
    wait_until_serving(server, port)
    response = httpx.post(f"http://127.0.0.1:{port}/users/{alice.id}/tasks", json={"title": "x"})
    assert response.status_code == 201
    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=15) == 0
    assert "Warning: serving without authentication" in (
        server.stdout.read() if server.stdout else ""
    )


def make_user(url: DatabaseURL) -> User:
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session:
        user = service.create_user(session, name="alice")
    engine.dispose()
    return user


def test_the_cli_loads_no_api_machinery_until_serve_or_token_runs() -> None:
    """`todo --help` stays fast: serve and token import FastAPI, uvicorn, PyJWT lazily."""
    code = (
        "import sys, todo_cli.cli; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'jwt', 'sqlalchemy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_port_in_use_is_one_sentence_and_exit_5(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn exits 3 when it cannot bind; in our contract 3 means 'not found'."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = invoke("serve", "--no-auth", "--port", str(port))
    assert code == 5
    assert f"Error: The server could not start on 127.0.0.1:{port}" in err
