"""A password in the database URL, and the API secret, never appear in any output.

Every command is run as a user would run it, as a real process, with a password in
`TODO_DATABASE_URL` (the test server trusts every connection, so any password works):
its stdout and stderr, successful or not, with `--json` or without, must not contain the
password in any form a URL may carry it (plain or percent-encoded). The same holds for a
`TODO_DEBUG=1` traceback, and for the API's responses and its server log.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import API_SECRET, bearer
from tests.processes import TodoServer
from tests.servers import free_port
from todo_cli import db, service
from todo_cli.config import DatabaseURL, get_settings

# Characters that a URL must percent-encode, so both forms are checked.
PASSWORD = "Pw-9f/x%q@Zr"
ENCODED = quote(PASSWORD, safe="")
FORMS = (PASSWORD, ENCODED, quote(PASSWORD))


def with_password(url: DatabaseURL) -> str:
    return url.reveal().replace("postgres@", f"postgres:{ENCODED}@", 1)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text, f"the password leaked as {form!r}:\n{text}"
        assert API_SECRET not in text, f"the API secret leaked:\n{text}"


@pytest.fixture
def secret_env(
    new_database: Callable[[str], DatabaseURL], tmp_path: Path
) -> Iterator[dict[str, str]]:
    url = new_database("postgresql")
    env = {
        **os.environ,
        "TODO_DATABASE_URL": with_password(url),
        "TODO_API_SECRET": API_SECRET,
        "TODO_CONNECT_TIMEOUT": "1",
    }
    yield env


def todo(env: dict[str, str], *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "todo_cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


def test_no_command_prints_the_password(secret_env: dict[str, str], tmp_path: Path) -> None:
    runs = [
        ("db", "current"),  # before the schema exists: a schema error names the URL
        ("list", "-u", "ann"),
        ("db", "upgrade"),
        ("db", "current"),
        ("db", "current", "--json"),
        ("config",),
        ("config", "--json"),
        ("user", "add", "ann"),
        ("user", "add", "ann", "--json"),  # duplicate: exit 4
        ("user", "list", "--json"),
        ("add", "-u", "ann", "first"),
        ("add", "-u", "ann", "--json", ""),  # empty title: exit 2
        ("list", "-u", "ann"),
        ("list", "-u", "ann", "--json"),
        ("show", "-u", "ann", "1"),
        ("show", "-u", "ann", "99", "--json"),  # not found: exit 3
        ("done", "-u", "ann", "1"),
        ("edit", "-u", "ann", "1", "--title", "renamed"),
        ("list", "-u", "nobody"),
        ("token", "create", "--user", "ann"),
        ("token", "create", "--user", "ann", "--json"),
        ("db", "downgrade", "nosuchrev"),
        ("--help",),
        ("add", "--help"),
        ("db", "--help"),
        ("serve", "--help"),
    ]
    codes = set()
    for args in runs:
        code, out, err = todo(secret_env, *args, cwd=tmp_path)
        codes.add(code)
        assert_no_secret(out, err)
    assert {0, 2, 3, 4, 5} <= codes  # the error paths were really taken


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://postgres:{ENCODED}@127.0.0.1:{{port}}/todo",  # nothing listens
        f"postgresql://postgres:{ENCODED}@127.0.0.1:5432/todo_no_such_database",
        f"postgresql://postgres:{ENCODED}@127.0.0.1:5432/todo?sslmode=bogus",
        f"postgresql://postgres:{ENCODED}@127.0.0.1:5432/todo?bogus_option=1",
        f"postgresql://postgres@127.0.0.1:{{port}}/todo?password={ENCODED}",
        f"postgresql://postgres:{ENCODED}@127.0.0.1:99999/todo",  # not a valid port
        f"postgresql://postgres:{ENCODED}@[::1/todo",  # not a valid URL
        f"mysql://root:{ENCODED}@127.0.0.1/todo",  # not a supported database
    ],
)
@pytest.mark.parametrize("debug", ["0", "1"])
def test_a_database_that_cannot_serve_is_named_without_the_password(
    url: str, debug: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TODO_DATABASE_URL": url.format(port=free_port()),
        "TODO_CONNECT_TIMEOUT": "1",
        "TODO_DEBUG": debug,
    }
    for args in (("list", "-u", "ann"), ("list", "-u", "ann", "--json"), ("db", "upgrade")):
        code, out, err = todo(env, *args, cwd=tmp_path)
        assert code == 5, err
        assert_no_secret(out, err)
        assert "Traceback" not in err


def test_a_debug_traceback_masks_the_password(
    new_database: Callable[[str], DatabaseURL], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug whose message quotes the URL: TODO_DEBUG=1 shows the traceback, masked."""
    from typer.testing import CliRunner

    from todo_cli.cli import app

    url = new_database("postgresql")
    db.upgrade(url)
    leaky = with_password(url)
    monkeypatch.setenv("TODO_DATABASE_URL", leaky)
    monkeypatch.setenv("TODO_API_SECRET", API_SECRET)
    monkeypatch.setenv("TODO_DEBUG", "1")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"cannot use {leaky} (secret {API_SECRET}, raw {PASSWORD})")

    monkeypatch.setattr(service, "list_users", broken)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["user", "list"])
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: cannot use postgresql" in result.stderr
    assert_no_secret(result.stdout, result.stderr)


def test_the_api_answers_and_logs_without_the_password(
    secret_env: dict[str, str], tmp_path: Path
) -> None:
    """A real server: 503 while the database is unreachable, then its whole log."""
    unreachable = f"postgresql://postgres:{ENCODED}@127.0.0.1:{free_port()}/todo"
    server = TodoServer(free_port(), {**secret_env, "TODO_DATABASE_URL": unreachable}, tmp_path)
    try:
        server.wait_until_serving()
        user = uuid.uuid4()
        headers = {"Authorization": bearer(user)}
        tasks = f"{server.base}/users/{user}/tasks"
        responses = [
            httpx.get(tasks, headers=headers, timeout=30),
            httpx.post(tasks, json={"title": "x"}, headers=headers, timeout=30),
            httpx.get(tasks, timeout=30),  # no token: 401
        ]
        assert [r.status_code for r in responses] == [503, 503, 401]
        for response in responses:
            assert_no_secret(response.text, str(response.headers))
    finally:
        server.stop()
    log = server.log
    assert "GET /users/" in log  # the log was really captured
    assert_no_secret(log)


def test_the_server_log_masks_secrets_in_a_bugs_traceback(
    new_database: Callable[[str], DatabaseURL],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """uvicorn logs the traceback of a bug; the message may quote the URL."""
    from todo_cli.api import create_app

    leaky = with_password(new_database("postgresql"))
    monkeypatch.setenv("TODO_DATABASE_URL", leaky)
    monkeypatch.setenv("TODO_API_SECRET", API_SECRET)
    get_settings.cache_clear()
    create_app()
    try:
        raise RuntimeError(f"cannot use {leaky} with {API_SECRET}")
    except RuntimeError as exc:
        with caplog.at_level(logging.ERROR):
            logging.getLogger("uvicorn.error").error(
                "Exception in ASGI application %s", leaky, exc_info=exc
            )
    (record,) = [r for r in caplog.records if r.name == "uvicorn.error"]
    text = caplog.text
    assert "Exception in ASGI application postgresql" in text
    assert "RuntimeError: cannot use postgresql" in text
    assert record.exc_text is not None
    assert_no_secret(text, record.getMessage(), record.exc_text)
