"""HTTP habits of the API, on SQLite and PostgreSQL: strict query strings, JSON only, HEAD,
and documentation that works without internet access."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from todo_cli.models import User

ROUTES = [
    ("POST", "/users/{user}/tasks"),
    ("GET", "/users/{user}/tasks"),
    ("GET", "/users/{user}/tasks/{task}"),
    ("PUT", "/users/{user}/tasks/{task}"),
    ("PATCH", "/users/{user}/tasks/{task}"),
    ("DELETE", "/users/{user}/tasks/{task}"),
]


def assert_400(response: Response, location: str) -> str:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"]["errors"][0]["location"] == location
    message: str = body["error"]["message"]
    return message


@pytest.fixture
def task(api_client: TestClient, alice: User) -> dict[str, Any]:
    response = api_client.post(f"/users/{alice.id}/tasks", json={"title": "Buy milk"})
    assert response.status_code == 201
    created: dict[str, Any] = response.json()
    return created


def _url(template: str, alice: User, task: dict[str, Any]) -> str:
    return template.format(user=alice.id, task=task["id"])


def _all_tasks(api_client: TestClient, alice: User) -> list[dict[str, Any]]:
    response = api_client.get(f"/users/{alice.id}/tasks")
    tasks: list[dict[str, Any]] = response.json()
    return tasks


# --- query strings ------------------------------------------------------------------------


# Every route with every query parameter it does not take (the task list takes
# `completed` and `limit`).
_UNKNOWN_QUERIES = [
    (method, template, query)
    for method, template in ROUTES
    for query in ("complete=true", "completed=true", "title=x", "limit=1")
    if not (
        method == "GET"
        and template.endswith("/tasks")
        and query.partition("=")[0] in ("completed", "limit")
    )
]


@pytest.mark.parametrize(("method", "template", "query"), _UNKNOWN_QUERIES)
def test_an_unknown_query_parameter_is_400_and_changes_nothing(
    api_client: TestClient,
    alice: User,
    task: dict[str, Any],
    method: str,
    template: str,
    query: str,
) -> None:
    name = query.partition("=")[0]
    before = _all_tasks(api_client, alice)
    url = f"{_url(template, alice, task)}?{query}"
    response = api_client.request(method, url, json={"title": "Renamed"})
    message = assert_400(response, f"query.{name}")
    assert "unknown query parameter" in message
    assert _all_tasks(api_client, alice) == before


def test_a_misspelt_filter_is_refused_rather_than_ignored(
    api_client: TestClient, alice: User, task: dict[str, Any]
) -> None:
    """`?complete=true` would otherwise list every task, pending ones included."""
    message = assert_400(api_client.get(f"/users/{alice.id}/tasks?complete=true"), "query.complete")
    assert "this route takes completed, filter, limit, offset, sort, tz" in message


@pytest.mark.parametrize("query", ["limit=1&limit=2", "completed=true&completed=false"])
def test_a_repeated_query_parameter_is_400(
    api_client: TestClient, alice: User, task: dict[str, Any], query: str
) -> None:
    name = query.partition("=")[0]
    message = assert_400(api_client.get(f"/users/{alice.id}/tasks?{query}"), f"query.{name}")
    assert "given more than once" in message


@pytest.mark.parametrize("value", ["1", "0", "yes", "no", "on", "off", "t", "f", "True", "FALSE"])
def test_booleans_are_true_or_false_only(
    api_client: TestClient, alice: User, task: dict[str, Any], value: str
) -> None:
    response = api_client.get(f"/users/{alice.id}/tasks?completed={value}")
    assert assert_400(response, "query.completed") == "query.completed: should be true or false"


def test_true_and_false_filter(api_client: TestClient, alice: User, task: dict[str, Any]) -> None:
    tasks = f"/users/{alice.id}/tasks"
    assert [t["id"] for t in api_client.get(f"{tasks}?completed=false").json()] == [task["id"]]
    assert api_client.get(f"{tasks}?completed=true").json() == []


# --- JSON only ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"title": "Renamed"}', "text/plain"),
        (b"title=Renamed", "application/x-www-form-urlencoded"),
        (
            b'--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nR\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
        ),
        (b'{"title": "Renamed"}', "application/xml"),
    ],
)
def test_a_body_that_is_not_sent_as_json_gets_our_sentence(
    api_client: TestClient,
    alice: User,
    task: dict[str, Any],
    method: str,
    content: bytes,
    content_type: str,
) -> None:
    url = f"/users/{alice.id}/tasks" + ("" if method == "POST" else f"/{task['id']}")
    before = _all_tasks(api_client, alice)
    response = api_client.request(
        method, url, content=content, headers={"Content-Type": content_type}
    )
    message = assert_400(response, "header.Content-Type")
    assert message == (
        "the request body must be JSON, sent as Content-Type: application/json "
        f"(not {content_type!r})."
    )
    assert _all_tasks(api_client, alice) == before


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
def test_json_content_types_are_read_as_json(
    api_client: TestClient, alice: User, task: dict[str, Any], content_type: str
) -> None:
    response = api_client.patch(
        f"/users/{alice.id}/tasks/{task['id']}",
        content=b'{"title": "Renamed"}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Renamed"


def test_validation_messages_are_in_our_words(api_client: TestClient, alice: User) -> None:
    tasks = f"/users/{alice.id}/tasks"
    unknown = assert_400(api_client.post(tasks, json={"title": "x", "bogus": 1}), "body.bogus")
    assert unknown == "body.bogus: unknown field"
    assert assert_400(api_client.post(tasks, json={}), "body.title") == "body.title: required"
    assert assert_400(api_client.post(tasks, json=[1]), "body") == "body: should be a JSON object"


# --- HEAD ---------------------------------------------------------------------------------


@pytest.mark.parametrize("template", ["/users/{user}/tasks", "/users/{user}/tasks/{task}"])
def test_head_is_get_without_the_body(
    api_client: TestClient, alice: User, task: dict[str, Any], template: str
) -> None:
    url = _url(template, alice, task)
    got, head = api_client.get(url), api_client.head(url)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    for name in ("etag", "content-type", "content-length"):
        assert head.headers.get(name) == got.headers.get(name), name


def test_head_answers_errors_as_get_does_without_a_body(
    api_client: TestClient, alice: User
) -> None:
    missing = f"/users/{alice.id}/tasks/{uuid.uuid4()}"
    head = api_client.head(missing)
    assert (head.status_code, head.content) == (404, b"")
    unauthenticated = api_client.head(missing, headers={"Authorization": "Bearer nope"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"] == "Bearer"
    assert unauthenticated.content == b""


def test_allow_names_head_where_get_is(api_client: TestClient, alice: User) -> None:
    response = api_client.delete(f"/users/{alice.id}/tasks")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, POST"


# --- documentation without internet access ------------------------------------------------


def test_docs_need_nothing_from_outside_the_server(api_client: TestClient) -> None:
    page = api_client.get("/docs")
    assert page.status_code == 200
    referenced = re.findall(r"""(?:href|src|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
    assert referenced, page.text
    for url in referenced:
        assert url.startswith("/"), f"/docs loads {url} from elsewhere"
        asset = api_client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    scripts = [url for url in referenced if url.endswith(".js")]
    assert scripts and all(len(api_client.get(url).content) > 100_000 for url in scripts)
    assert "/openapi.json" in referenced
