"""Bearer tokens: the full matrix of tokens × routes, and the rules of a valid token.

Every refused request must leave user A's data exactly as it was.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from todo_cli import service, tokens
from todo_cli.api import create_app
from todo_cli.config import Settings
from todo_cli.errors import ConfigError
from todo_cli.models import TaskCreate, User, task_to_json

OTHER_SECRET = "another-secret-that-is-long-enough-0123456789"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_jwt(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT built with the standard library alone (no PyJWT): what any client could do."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{_b64(signature)}"


def claims_for(user_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": str(user_id), "iat": now, "exp": now + 3600, **overrides}


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    """A client that sends exactly the headers each test gives it."""
    with TestClient(create_app(api_settings)) as client:
        yield client


def refused_headers(alice: User, api_secret: str) -> dict[str, dict[str, str]]:
    expired, _ = tokens.mint_token(
        api_secret.encode(),
        user_id=alice.id,
        ttl=timedelta(hours=1),
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    wrong_signature, _ = tokens.mint_token(
        OTHER_SECRET.encode(), user_id=alice.id, ttl=timedelta(hours=1)
    )
    alg_none = hand_made_jwt({"alg": "none", "typ": "JWT"}, claims_for(alice.id), None)
    return {
        "no token": {},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "expired": {"Authorization": f"Bearer {expired}"},
        "wrong signature": {"Authorization": f"Bearer {wrong_signature}"},
        "alg none": {"Authorization": f"Bearer {alg_none}"},
    }


ROUTES = [
    ("POST", "/users/{user}/tasks", {"title": "intruder"}),
    ("GET", "/users/{user}/tasks", None),
    ("GET", "/users/{user}/tasks/{task}", None),
    ("PUT", "/users/{user}/tasks/{task}", {"title": "intruder"}),
    ("PATCH", "/users/{user}/tasks/{task}", {"is_completed": True}),
    ("DELETE", "/users/{user}/tasks/{task}", None),
]


def snapshot(session_factory: Callable[[], Session], user: User) -> list[dict[str, Any]]:
    with session_factory() as session:
        tasks = service.list_tasks(session, user_id=user.id, status="all")
        return [task_to_json(task) for task in tasks]


def assert_unauthorized(response: Response) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "UNAUTHORIZED"
    assert set(body["error"]) == {"code", "message", "details"}
    return body


def test_the_token_matrix_on_every_route(
    client: TestClient,
    alice: User,
    bob: User,
    session_factory: Callable[[], Session],
    api_secret: str,
    token_for: Callable[[uuid.UUID], str],
) -> None:
    """{no token, garbage, expired, wrong signature, alg none, B's token, A's token} × routes."""
    with session_factory() as session:
        task = service.create_task(
            session, user_id=alice.id, task=TaskCreate(title="Alice's", description="d")
        )
    before = snapshot(session_factory, alice)

    def request(method: str, path: str, body: Any, headers: dict[str, str]) -> Response:
        url = path.format(user=alice.id, task=task.id)
        response: Response = client.request(method, url, json=body, headers=headers)
        return response

    # Refused tokens: 401 everywhere, and nothing of Alice's changes.
    for name, headers in refused_headers(alice, api_secret).items():
        for method, path, body in ROUTES:
            response = request(method, path, body, headers)
            error = assert_unauthorized(response)
            if name == "expired":
                assert "expired" in error["error"]["message"]
            assert snapshot(session_factory, alice) == before, (name, method, path)

    # Bob's valid token on Alice's paths: 404, as if Alice's user and task did not exist.
    bobs = {"Authorization": token_for(bob.id)}
    as_bob = {}
    for method, path, body in ROUTES:
        response = request(method, path, body, bobs)
        assert response.status_code == 404, (method, path, response.text)
        as_bob[(method, path)] = response.json()
        assert snapshot(session_factory, alice) == before, (method, path)

    # Same bodies as for a user that does not exist…
    nobody = uuid.uuid4()
    for method, path, body in ROUTES[:2]:
        response = client.request(
            method,
            path.format(user=nobody),
            json=body,
            headers={"Authorization": token_for(nobody)},
        )
        missing_user = json.loads(response.text.replace(str(nobody), str(alice.id)))
        assert as_bob[(method, path)] == missing_user

    # …and, on task routes, as Alice herself gets for a task that does not exist.
    alices = {"Authorization": token_for(alice.id)}
    with session_factory() as session:
        service.delete_tasks(session, user_id=alice.id, refs=[str(task.id)])
    for method, path, body in ROUTES[2:]:
        response = request(method, path, body, alices)
        assert response.status_code == 404
        assert as_bob[(method, path)] == response.json(), (method, path)

    # Alice's own token: every route works.
    with session_factory() as session:
        task = service.create_task(
            session, user_id=alice.id, task=TaskCreate(title="Alice's again")
        )
    expected = [201, 200, 200, 200, 200, 204]
    for (method, path, body), status in zip(ROUTES, expected, strict=True):
        response = request(method, path, body, alices)
        assert response.status_code == status, (method, path, response.text)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic YWxpY2U6cHc=",
        "Bearer",
        "Bearer ",
        "bearer",
        "Token abc",
    ],
)
def test_other_schemes_and_empty_tokens_are_401(
    client: TestClient, alice: User, authorization: str
) -> None:
    response = client.get(f"/users/{alice.id}/tasks", headers={"Authorization": authorization})
    assert_unauthorized(response)


def test_the_scheme_name_is_case_insensitive(
    client: TestClient, alice: User, token_for: Callable[[uuid.UUID], str]
) -> None:
    token = token_for(alice.id).split(" ", 1)[1]
    response = client.get(f"/users/{alice.id}/tasks", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("name", "header", "claims"),
    [
        ("no exp", {"alg": "HS256"}, {"exp": None}),
        ("no sub", {"alg": "HS256"}, {"sub": None}),
        ("sub not a uuid", {"alg": "HS256"}, {"sub": "alice"}),
        ("sub a number", {"alg": "HS256"}, {"sub": 42}),
        ("not yet issued", {"alg": "HS256"}, {"iat": int(time.time()) + 3600}),
        ("HS512", {"alg": "HS512"}, {}),
    ],
)
def test_tokens_breaking_a_rule_are_401(
    client: TestClient,
    alice: User,
    name: str,
    header: dict[str, str],
    claims: dict[str, Any],
    api_secret: str,
) -> None:
    payload = {
        key: value for key, value in claims_for(alice.id, **claims).items() if value is not None
    }
    if header["alg"] == "HS512":
        token = jwt.encode(payload, api_secret * 2, algorithm="HS512")  # 64+ bytes for HS512
    else:
        token = hand_made_jwt({**header, "typ": "JWT"}, payload, api_secret.encode())
    response = client.get(f"/users/{alice.id}/tasks", headers={"Authorization": f"Bearer {token}"})
    assert_unauthorized(response)


def test_a_token_from_any_jwt_library_is_accepted(
    client: TestClient, alice: User, api_secret: str
) -> None:
    """Tokens are standard HS256 JWTs: one made with hmac and base64 alone works."""
    token = hand_made_jwt({"alg": "HS256", "typ": "JWT"}, claims_for(alice.id), api_secret.encode())
    response = client.post(
        f"/users/{alice.id}/tasks",
        json={"title": "hand-made"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201


def test_the_subject_is_compared_as_a_uuid(
    client: TestClient, alice: User, api_secret: str, token_for: Callable[[uuid.UUID], str]
) -> None:
    upper = hand_made_jwt(
        {"alg": "HS256"}, claims_for(alice.id, sub=str(alice.id).upper()), api_secret.encode()
    )
    response = client.get(f"/users/{alice.id}/tasks", headers={"Authorization": f"Bearer {upper}"})
    assert response.status_code == 200
    # And the path may spell the UUID differently too.
    response = client.get(
        f"/users/{alice.id.hex}/tasks", headers={"Authorization": token_for(alice.id)}
    )
    assert response.status_code == 200


def test_the_token_is_checked_before_the_path_and_the_body(client: TestClient) -> None:
    assert_unauthorized(client.get("/users/not-a-uuid/tasks"))
    assert_unauthorized(client.patch(f"/users/{uuid.uuid4()}/tasks/not-a-uuid", json={"bogus": 1}))


def test_a_valid_token_of_a_deleted_user_is_404(
    client: TestClient,
    alice: User,
    session_factory: Callable[[], Session],
    token_for: Callable[[uuid.UUID], str],
) -> None:
    headers = {"Authorization": token_for(alice.id)}
    with session_factory() as session:
        service.delete_user(session, ref="alice")
    response = client.get(f"/users/{alice.id}/tasks", headers=headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


def test_documentation_is_public(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


# --- the secret ----------------------------------------------------------------------------------


def test_an_app_with_auth_refuses_a_missing_or_short_secret(api_settings: Settings) -> None:
    url = api_settings.db_url().reveal()
    for secret in (None, "", "x" * 31, "é" * 15):  # "é" * 15 is 30 bytes
        settings = Settings(_env_file=None, database_url=url, api_secret=secret)
        with pytest.raises(ConfigError, match="TODO_API_SECRET"):
            create_app(settings)
    # Without auth no secret is needed, and no route asks for a token.
    app = create_app(api_settings.model_copy(update={"api_secret": None}), auth=False)
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
    assert "securitySchemes" not in document.get("components", {})
    assert all(
        "security" not in operation and "401" not in operation["responses"]
        for item in document["paths"].values()
        for operation in item.values()
    )


def test_a_32_byte_secret_is_enough(api_settings: Settings, alice: User, api_secret: str) -> None:
    secret = "s" * 32
    settings = Settings(
        _env_file=None, database_url=api_settings.db_url().reveal(), api_secret=secret
    )
    token, _ = tokens.mint_token(secret.encode(), user_id=alice.id, ttl=timedelta(minutes=5))
    with TestClient(create_app(settings)) as client:
        response = client.get(
            f"/users/{alice.id}/tasks", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200
