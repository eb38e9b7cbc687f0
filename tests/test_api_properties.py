"""Bad input, everywhere in the HTTP API: every request is either served exactly or
refused with SPEC's error body, never a 500.

Hypothesis sends arbitrary strings (control characters, NUL, lone surrogates, SQL-looking
and right-to-left text, emoji, whitespace, very long text; see tests/strategies.py) and
arbitrary JSON values of every type in POST, PUT and PATCH bodies; arbitrary path segments
for user_id and task_id; arbitrary `completed`, `limit` and `offset` query values;
arbitrary If-Match headers; and raw bodies that are not JSON or not even UTF-8. Fixed
cases add a 10 MB description, a 10 MB body, and JSON nested 100,000 levels deep.

The guarantee: a request either succeeds, and then the stored task reads back (GET)
exactly as sent (the title loses only its surrounding whitespace), or it gets a 4xx whose
body is `{"error": {"code", "message", "details"}}` with the code of its status
(VALIDATION_ERROR for 400), and the database is unchanged, row for row. No request ends
in a 500, FastAPI's own 422 shape, or a partial change. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.strategies import SAMPLES, TEN_MEGABYTES, TOO_LONG_DESCRIPTION, nasty_text
from todo_cli import service
from todo_cli.errors import ValidationError
from todo_cli.models import User
from todo_cli.service import DESCRIPTION_MAX_LENGTH

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    412: "PRECONDITION_FAILED",
}
# httpx refuses to send a longer URL (servers have such limits too).
MAX_URL_LENGTH = 65_536
# Stand-ins for values that only exist once the fixtures have run.
ALICE, TASK = "<alice's id>", "<task's id>"

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    max_leaves=8,
)
# Mostly text where text belongs, so that many requests succeed and are read back.
texts = nasty_text | json_values
extra_fields = st.dictionaries(
    nasty_text | st.sampled_from(["id", "number", "version", "user_id", "TITLE", "done"]),
    json_values,
    max_size=2,
)


def bodies(*fields: str, title_required: bool = True) -> st.SearchStrategy[Any]:
    """Plausible bodies (text where text belongs, so that many succeed and are read
    back), objects with any subset of `fields` holding any values plus unknown fields,
    and any JSON value at all."""
    plausible_fields = {
        "title": nasty_text,
        "description": st.none() | nasty_text,
        "is_completed": st.booleans(),
    }
    required = {"title": nasty_text} if title_required else {}
    plausible = st.fixed_dictionaries(
        required,
        optional={name: plausible_fields[name] for name in fields if name not in required},
    )
    anything = st.builds(
        lambda given, extra: {**extra, **given},
        st.fixed_dictionaries({}, optional={name: field_value(name) for name in fields}),
        st.just({}) | extra_fields,
    )
    return plausible | anything | json_values


def field_value(name: str) -> st.SearchStrategy[Any]:
    return st.booleans() | json_values if name == "is_completed" else texts


def encoded(value: Any) -> bytes:
    """JSON as a client may send it: lone surrogates as `\\udXXX` escapes, NaN as NaN."""
    return json.dumps(value).encode()


def segment(value: str) -> str:
    """A path segment or query value, percent-encoded; a lone surrogate becomes the bytes
    a careless client would send (invalid UTF-8)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def assert_clean(response: Response, allowed: set[int]) -> None:
    """Success, or SPEC's error body with the code of its status; never a 500."""
    status = response.status_code
    assert status in allowed, (status, response.text[:1000])
    if status < 400:
        return
    body = response.json()
    assert list(body) == ["error"], body
    assert list(body["error"]) == ["code", "message", "details"], body
    assert body["error"]["code"] == CODES[status], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


def snapshot(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every row of every table, to prove that a refused request changed nothing."""
    with engine.connect() as connection:
        users = connection.execute(text("SELECT * FROM users ORDER BY id")).all()
        tasks = connection.execute(text("SELECT * FROM tasks ORDER BY user_id, id")).all()
    return [tuple(row) for row in users], [tuple(row) for row in tasks]


def send(
    client: TestClient,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str | bytes] | None = None,
) -> Response:
    all_headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    response: Response = client.request(method, url, content=body, headers=all_headers)
    if currently_in_test_context():  # Hypothesis reports how often each status came
        event(f"{method} {response.status_code}")
    return response


@pytest.fixture
def tasks_url(alice: User) -> str:
    return f"/users/{alice.id}/tasks"


@pytest.fixture
def new_task(api_client: TestClient, tasks_url: str) -> Callable[[], dict[str, Any]]:
    """`new_task()`: a fresh task of alice's, as the API answers it."""

    def make() -> dict[str, Any]:
        response = api_client.post(tasks_url, json={"title": "Buy milk", "description": "2 l"})
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()
        return task

    return make


def read_back(client: TestClient, tasks_url: str, task_id: str) -> dict[str, Any]:
    response = client.get(f"{tasks_url}/{task_id}")
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


# --- bodies ------------------------------------------------------------------------------


@PROPERTY
@given(body=bodies("title", "description"))
def test_create_keeps_any_text_exactly_or_refuses_it(
    api_client: TestClient, tasks_url: str, engine: Engine, body: Any
) -> None:
    before = snapshot(engine)
    response = send(api_client, "POST", tasks_url, encoded(body))
    assert_clean(response, {201, 400})
    if response.status_code == 201:
        task = read_back(api_client, tasks_url, response.json()["id"])
        assert task == response.json()
        assert task["title"] == body["title"].strip()
        assert task["description"] == body.get("description")
        assert task["is_completed"] is False
    else:
        assert snapshot(engine) == before


@PROPERTY
@given(body=bodies("title", "description", "is_completed"))
def test_put_keeps_any_text_exactly_or_refuses_it(
    api_client: TestClient,
    tasks_url: str,
    new_task: Callable[[], dict[str, Any]],
    engine: Engine,
    body: Any,
) -> None:
    task_id = new_task()["id"]
    before = snapshot(engine)
    response = send(api_client, "PUT", f"{tasks_url}/{task_id}", encoded(body))
    assert_clean(response, {200, 400})
    if response.status_code == 200:
        task = read_back(api_client, tasks_url, task_id)
        assert task == response.json()
        assert task["title"] == body["title"].strip()
        assert task["description"] == body.get("description")
        assert task["is_completed"] is body.get("is_completed", False)
    else:
        assert snapshot(engine) == before


@PROPERTY
@given(body=bodies("title", "description", "is_completed", title_required=False))
def test_patch_keeps_any_text_exactly_or_refuses_it(
    api_client: TestClient,
    tasks_url: str,
    new_task: Callable[[], dict[str, Any]],
    engine: Engine,
    body: Any,
) -> None:
    original = new_task()
    before = snapshot(engine)
    response = send(api_client, "PATCH", f"{tasks_url}/{original['id']}", encoded(body))
    assert_clean(response, {200, 400})
    if response.status_code == 200:
        task = read_back(api_client, tasks_url, original["id"])
        assert task == response.json()
        expected = {**original, **body}
        assert task["title"] == expected["title"].strip()
        assert task["description"] == expected["description"]
        assert task["is_completed"] is expected["is_completed"]
    else:
        assert snapshot(engine) == before


@PROPERTY
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH"]),
    content=st.binary(max_size=200)
    | st.sampled_from(
        [
            b"",
            b"\xff\xfe",
            b'{"title": "\xc3\x28"}',  # invalid UTF-8 inside a string
            b'{"title": "\xed\xa0\x80"}',  # a UTF-8-encoded surrogate
            b'{"title": "x",}',
            b'{"title": "x"} trailing',
            b'{"title": NaN}',
            b'{"title": "x", "title": "y"}',
            b"\xef\xbb\xbf" + b'{"title": "BOM"}',
            '{"title": "latin-1 é"}'.encode("latin-1"),
            '{"title": "utf-16"}'.encode("utf-16"),
            b"title=x",
            b"null",
            b"[]",
            b'"x"',
        ]
    )
    | nasty_text.map(lambda value: value.encode("utf-8", "surrogatepass")),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=latin-1",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ]
    ),
)
def test_raw_bodies_that_are_not_json_are_refused(
    api_client: TestClient,
    tasks_url: str,
    new_task: Callable[[], dict[str, Any]],
    engine: Engine,
    method: str,
    content: bytes,
    content_type: str,
) -> None:
    url = tasks_url if method == "POST" else f"{tasks_url}/{new_task()['id']}"
    before = snapshot(engine)
    response = send(api_client, method, url, content, {"Content-Type": content_type})
    assert_clean(response, {200, 201, 400})
    if response.status_code == 400:
        assert snapshot(engine) == before


# --- paths, queries, headers -------------------------------------------------------------


@PROPERTY
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    user=nasty_text | st.just(ALICE) | st.uuids().map(str),
    task=st.none() | nasty_text | st.just(TASK) | st.uuids().map(str),
)
def test_any_path_segment_is_served_or_refused(
    api_client: TestClient,
    alice: User,
    new_task: Callable[[], dict[str, Any]],
    engine: Engine,
    method: str,
    user: str,
    task: str | None,
) -> None:
    task_id = new_task()["id"]
    user = user.replace(ALICE, str(alice.id))
    url = f"/users/{segment(user)}/tasks"
    if task is not None:
        url += f"/{segment(task.replace(TASK, task_id))}"
    assume(len(url) <= MAX_URL_LENGTH)
    before = snapshot(engine)
    response = send(api_client, method, url, encoded({"title": "Renamed"}))
    assert_clean(response, {200, 201, 204, 400, 401, 404, 405})
    if response.status_code >= 400 or method == "GET":
        assert snapshot(engine) == before


@PROPERTY
@given(
    query=st.dictionaries(
        st.sampled_from(["completed", "limit", "offset"]),
        nasty_text | st.sampled_from(["true", "false", "1", "0", "1000", "1001", "-1"]),
    )
)
def test_any_query_value_is_used_or_refused(
    api_client: TestClient,
    tasks_url: str,
    new_task: Callable[[], dict[str, Any]],
    engine: Engine,
    query: dict[str, str],
) -> None:
    new_task()
    before = snapshot(engine)
    url = f"{tasks_url}?" + "&".join(f"{name}={segment(value)}" for name, value in query.items())
    assume(len(url) <= MAX_URL_LENGTH)
    response = send(api_client, "GET", url)
    assert_clean(response, {200, 400})
    if response.status_code == 200:
        assert isinstance(response.json(), list)
    assert snapshot(engine) == before


@PROPERTY
@given(
    method=st.sampled_from(["PUT", "PATCH", "DELETE"]),
    tag=nasty_text
    | st.sampled_from(
        ['"1"', '"2"', "*", 'W/"1"', '"1", "2"', '"' + "9" * 18 + '"', '"' + "9" * 19 + '"']
    ),
)
def test_any_if_match_is_honoured_or_refused(
    api_client: TestClient,
    tasks_url: str,
    new_task: Callable[[], dict[str, Any]],
    engine: Engine,
    method: str,
    tag: str,
) -> None:
    url = f"{tasks_url}/{new_task()['id']}"
    before = snapshot(engine)
    # Header values are bytes on the wire; a careless client may send any of them.
    raw = tag.encode("utf-8", "surrogatepass")
    response = send(api_client, method, url, encoded({"title": "Renamed"}), {"If-Match": raw})
    assert_clean(response, {200, 204, 400, 412})
    if response.status_code < 400:
        assert tag.strip() in ('"1"', "*")
    else:
        assert snapshot(engine) == before


# --- size and depth ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "field"),
    [
        ("POST", "description"),
        ("PUT", "description"),
        ("PATCH", "description"),
        ("POST", "title"),
        ("PATCH", "title"),
    ],
)
def test_a_10_mb_field_is_400_and_changes_nothing(
    api_client: TestClient,
    tasks_url: str,
    new_task: Callable[[], dict[str, Any]],
    engine: Engine,
    method: str,
    field: str,
) -> None:
    url = tasks_url if method == "POST" else f"{tasks_url}/{new_task()['id']}"
    before = snapshot(engine)
    body = {"title": "Buy milk", field: TEN_MEGABYTES}
    response = send(api_client, method, url, encoded(body))
    assert_clean(response, {400})
    assert len(response.content) < 2000  # the input is not echoed back
    assert response.json()["error"]["details"]["field"] == field
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "content",
    [
        TEN_MEGABYTES.encode(),
        b'{"title": "' + TEN_MEGABYTES.encode() + b'"',  # unterminated
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"title": ' + b"[" * 500 + b"]" * 500 + b"}",  # deep, yet within the parser's reach
        b'{"title": ' + b"1" * 5000 + b"}",  # beyond the 4,300 digits int() reads
        b'{"title": 1e999999}',
        b'{"title": "x", "description": "' + b"\\u0000" * 10 + b'"}',
    ],
    ids=[
        "10MB-not-json",
        "10MB-unterminated",
        "nested-lists",
        "nested-objects",
        "nested-title",
        "nested-500",
        "huge-integer",
        "huge-float",
        "escaped-nul",
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_huge_or_deeply_nested_bodies_are_400_and_change_nothing(
    api_client: TestClient,
    tasks_url: str,
    new_task: Callable[[], dict[str, Any]],
    engine: Engine,
    content: bytes,
    method: str,
) -> None:
    url = tasks_url if method == "POST" else f"{tasks_url}/{new_task()['id']}"
    before = snapshot(engine)
    response = send(api_client, method, url, content)
    assert_clean(response, {400})
    assert len(response.content) < 2000
    assert snapshot(engine) == before


def test_the_description_limit_is_exactly_100_000_characters(
    api_client: TestClient,
    tasks_url: str,
    new_task: Callable[[], dict[str, Any]],
    engine: Engine,
) -> None:
    longest = "é🙂\n" * (DESCRIPTION_MAX_LENGTH // 3) + "x"
    assert len(longest) == DESCRIPTION_MAX_LENGTH
    created = send(api_client, "POST", tasks_url, encoded({"title": "t", "description": longest}))
    assert_clean(created, {201})
    assert read_back(api_client, tasks_url, created.json()["id"])["description"] == longest
    url = f"{tasks_url}/{new_task()['id']}"
    before = snapshot(engine)
    for method in ("PUT", "PATCH"):
        body = {"title": "t", "description": TOO_LONG_DESCRIPTION}
        response = send(api_client, method, url, encoded(body))
        assert_clean(response, {400})
        assert f"at most {DESCRIPTION_MAX_LENGTH}" in response.json()["error"]["message"]
    assert snapshot(engine) == before


def test_every_sample_title_is_kept_or_refused_the_same_way_as_by_the_service(
    api_client: TestClient, tasks_url: str
) -> None:
    """The API adds no rule of its own: it accepts exactly the titles the service does."""
    for title in SAMPLES:
        try:
            service.clean_title(title)
            expected = 201
        except ValidationError:
            expected = 400
        response = send(api_client, "POST", tasks_url, encoded({"title": title}))
        assert response.status_code == expected, (title, response.text[:300])


def test_a_task_id_of_another_shape_never_reaches_the_database(
    api_client: TestClient, tasks_url: str
) -> None:
    for task_id in ("1", "ffff", "0" * 33, str(uuid.uuid4()) + "0", "\x00"):
        assert_clean(api_client.get(f"{tasks_url}/{segment(task_id)}"), {400})
