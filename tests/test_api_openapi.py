"""The OpenAPI document as a client generator reads it: shared parts written once, and an
error code enum that is exactly what the server returns."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_SECRET, bearer
from todo_cli.api import create_app
from todo_cli.api.schemas import TITLE_PATTERN
from todo_cli.config import Settings
from todo_cli.models import User

ALL_CODES = {
    "VALIDATION_ERROR",
    "UNAUTHORIZED",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "CONFLICT",
    "PRECONDITION_FAILED",
    "SERVICE_UNAVAILABLE",
    "INTERNAL_ERROR",
}


def document(*, auth: bool = True) -> dict[str, Any]:
    settings = Settings(_env_file=None, database_url="sqlite:///unused.db", api_secret=API_SECRET)
    doc: dict[str, Any] = create_app(settings, auth=auth).openapi()
    return doc


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for path in doc["paths"].values() for operation in path.values()]


def test_etag_is_one_header_component_that_every_task_response_refers_to() -> None:
    doc = document()
    etag = doc["components"]["headers"]["ETag"]
    assert etag["required"] is True and etag["schema"]["pattern"] == '^"[0-9]+"$'
    carrying = [
        response
        for operation in operations(doc)
        for status, response in operation["responses"].items()
        if status in ("200", "201")
        and "TaskPublic" in json.dumps(response.get("content", {}))
        and "items" not in json.dumps(response.get("content", {}))
    ]
    assert len(carrying) == 4  # create, get, replace, update
    for response in carrying:
        assert response["headers"]["ETag"] == {"$ref": "#/components/headers/ETag"}


def test_etag_sent_matches_the_documented_header(api_client: TestClient, alice: User) -> None:
    import re

    pattern = document()["components"]["headers"]["ETag"]["schema"]["pattern"]
    created = api_client.post(f"/users/{alice.id}/tasks", json={"title": "Buy milk"})
    assert re.fullmatch(pattern, created.headers["ETag"])


def test_the_title_rule_is_written_once() -> None:
    text = json.dumps(document())
    assert text.count(json.dumps(TITLE_PATTERN)) == 1
    doc = document()
    assert doc["components"]["schemas"]["TaskTitle"]["pattern"] == TITLE_PATTERN
    for body in ("TaskCreateBody", "TaskReplaceBody", "TaskUpdateBody"):
        properties = doc["components"]["schemas"][body]["properties"]
        assert properties["title"]["$ref"] == "#/components/schemas/TaskTitle"
        assert properties["description"]["$ref"] == "#/components/schemas/TaskDescription"


@pytest.mark.parametrize(
    ("auth", "codes"), [(True, ALL_CODES), (False, ALL_CODES - {"UNAUTHORIZED"})]
)
def test_error_codes_are_an_enum_of_exactly_what_the_app_returns(
    auth: bool, codes: set[str]
) -> None:
    code = document(auth=auth)["components"]["schemas"]["ErrorInfo"]["properties"]["code"]
    assert code["type"] == "string"
    assert set(code["enum"]) == codes


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_every_code_of_the_enum_is_really_returned(api_settings: Settings, alice: User) -> None:
    """The other half of "exactly": each code in the document comes out of some request."""
    app = create_app(api_settings)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    seen: set[str] = set()
    token = {"Authorization": bearer(alice.id)}
    tasks = f"/users/{alice.id}/tasks"
    with TestClient(app, raise_server_exceptions=False) as client:
        kept = client.post(tasks, json={"title": "kept"}, headers=token).json()
        created = client.post(tasks, json={"title": "undone"}, headers=token)
        undo = f"/users/{alice.id}/changes/{created.headers['Todo-Change']}/undo"
        assert client.post(undo, headers=token).status_code == 200
        for method, url, headers in [
            ("GET", "/users/not-a-uuid/tasks", token),
            ("GET", tasks, {}),
            ("GET", f"{tasks}/{uuid.uuid4()}", token),
            ("DELETE", tasks, token),
            ("POST", undo, token),  # undone already
            ("DELETE", f"{tasks}/{kept['id']}", {**token, "If-Match": '"7"'}),
            ("GET", "/boom", {}),
        ]:
            seen.add(client.request(method, url, headers=headers).json()["error"]["code"])
    down = Settings(
        _env_file=None,
        database_url=f"postgresql://todo@127.0.0.1:{_closed_port()}/todo",
        connect_timeout=0.5,
        api_secret=API_SECRET,
    )
    with TestClient(create_app(down)) as client:
        seen.add(client.get(tasks, headers=token).json()["error"]["code"])
    enum = document()["components"]["schemas"]["ErrorInfo"]["properties"]["code"]["enum"]
    assert seen == set(enum)
