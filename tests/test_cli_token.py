"""`todo token create`, through the real command line, on both backends."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.cli import invoke
from todo_cli import service
from todo_cli.api import create_app
from todo_cli.config import DatabaseURL, Settings
from todo_cli.models import User

# The secret todo token create signs with; any 32 bytes will do.
API_SECRET = "the-cli-tests-secret-0123456789abcdef"


@pytest.fixture
def alice(use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    monkeypatch.setenv("TODO_API_SECRET", API_SECRET)
    return service.create_user(session, name="alice")


def test_prints_only_a_token_for_the_user(alice: User) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    code, out, err = invoke("token", "create", "--user", "ALICE")  # names are case-insensitive
    assert (code, err) == (0, "")
    assert out.endswith("\n") and out.count("\n") == 1
    claims = jwt.decode(out.strip(), API_SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(alice.id)
    assert claims["exp"] - claims["iat"] == int(timedelta(days=30).total_seconds())
    assert claims["iat"] >= int(started.timestamp())


def test_json_output_and_ttl(alice: User) -> None:
    code, out, err = invoke("token", "create", "-u", str(alice.id), "--ttl", "12h", "--json")
    assert (code, err) == (0, "")
    body = json.loads(out)
    assert set(body) == {"token", "user_id", "expires_at"}
    assert body["user_id"] == str(alice.id)
    claims = jwt.decode(body["token"], API_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 12 * 3600
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert body["expires_at"].endswith("Z") and expires_at.timestamp() == claims["exp"]


def test_the_api_accepts_the_token(alice: User, use_database: DatabaseURL) -> None:
    _, token, _ = invoke("token", "create", "--user", "alice")
    settings = Settings(_env_file=None, database_url=use_database.reveal(), api_secret=API_SECRET)
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {token.strip()}"}
        response = client.post(f"/users/{alice.id}/tasks", json={"title": "x"}, headers=headers)
        assert response.status_code == 201
        other = client.get(f"/users/{uuid.uuid4()}/tasks", headers=headers)
        assert other.status_code == 404


def test_an_unknown_user_gets_no_token(alice: User) -> None:
    code, out, err = invoke("token", "create", "--user", "mallory")
    assert (code, out) == (3, "")
    assert err.startswith("Error: No user 'mallory'")


def test_refuses_without_a_usable_secret(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TODO_API_SECRET")
    code, out, err = invoke("token", "create", "--user", "alice")
    assert (code, out) == (5, "")
    assert err.startswith("Error: TODO_API_SECRET is not set")
    monkeypatch.setenv("TODO_API_SECRET", "short")
    code, out, err = invoke("token", "create", "--user", "alice", "--json")
    assert (code, out) == (5, "")
    assert "too short" in json.loads(err)["error"]["message"]


@pytest.mark.parametrize("ttl", ["forever", "0d", "400d", "999999999999w"])
def test_refuses_a_bad_ttl(alice: User, ttl: str) -> None:
    code, out, err = invoke("token", "create", "--user", "alice", "--ttl", ttl)
    assert (code, out) == (2, "")
    assert "--ttl" in err


def test_user_is_required() -> None:
    code, out, _ = invoke("token", "create")
    assert code == 2 and out == ""


def test_without_the_api_extra_says_how_to_install_it(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)
    code, out, err = invoke("token", "create", "--user", "alice")
    assert (code, out) == (5, "")
    assert 'pip install "todo-shared-tasks[api]"' in err and "jwt" in err
