"""Every route of SPEC → HTTP API, on SQLite and PostgreSQL, through FastAPI's TestClient."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update
from sqlmodel import Session, col

from tests.conftest import TASK_FIELDS
from todo_cli import service
from todo_cli.models import Task, User, task_to_json


def tasks_url(user: User | uuid.UUID) -> str:
    user_id = user.id if isinstance(user, User) else user
    return f"/users/{user_id}/tasks"


def task_url(user: User | uuid.UUID, task_id: object) -> str:
    return f"{tasks_url(user)}/{task_id}"


def create(client: TestClient, user: User, title: str = "Buy milk", **body: Any) -> dict[str, Any]:
    response = client.post(tasks_url(user), json={"title": title, **body})
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def stored(session_factory: Callable[[], Session], user: User, task_id: str) -> dict[str, Any]:
    """The task as the database has it, in SPEC's JSON form (a fresh session each time)."""
    with session_factory() as session:
        return task_to_json(service.get_task(session, user_id=user.id, ref=task_id))


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


# --- create, read ------------------------------------------------------------------------


def test_create_answers_201_with_the_task_its_etag_and_location(
    api_client: TestClient, alice: User, session_factory: Callable[[], Session]
) -> None:
    response = api_client.post(
        tasks_url(alice), json={"title": "  Buy milk  ", "description": "2 litres"}
    )
    assert response.status_code == 201
    task = response.json()
    assert set(task) == set(TASK_FIELDS)
    assert task["title"] == "Buy milk"  # stripped, as the CLI does
    assert (task["description"], task["is_completed"], task["version"]) == ("2 litres", False, 1)
    assert (task["user_id"], task["number"]) == (str(alice.id), 1)
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == task_url(alice, task["id"])
    # The JSON is exactly the CLI's --json form of the stored row.
    assert task == stored(session_factory, alice, task["id"])
    assert api_client.get(response.headers["Location"]).json() == task


def test_task_json_is_identical_to_the_cli_json_form(
    api_client: TestClient, alice: User, session_factory: Callable[[], Session]
) -> None:
    created = create(api_client, alice)
    with session_factory() as session:
        # A timestamp with zero microseconds is where serialisers usually differ.
        session.exec(
            update(Task)
            .where(col(Task.id) == uuid.UUID(created["id"]))
            .values(created_at=datetime(2026, 11, 27, 5, 0, tzinfo=UTC))
        )
        session.commit()
    expected = stored(session_factory, alice, created["id"])
    assert expected["created_at"] == "2026-11-27T05:00:00.000000Z"
    assert api_client.get(task_url(alice, created["id"])).json() == expected
    assert api_client.get(tasks_url(alice)).json() == [expected]


def test_get_answers_the_task_with_its_etag(api_client: TestClient, alice: User) -> None:
    created = create(api_client, alice, description=None)
    response = api_client.get(task_url(alice, created["id"]))
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 256},
        {"title": "two\nlines"},
        {"title": None},
        {"title": 3},
        {"title": "ok", "description": "nul\x00"},
        {"title": "ok", "description": "x" * 100_001},
        {"title": "ok", "is_completed": True},
        {"title": "ok", "owner": "bob"},
    ],
    ids=[
        "missing-title",
        "empty",
        "blank",
        "too-long",
        "newline",
        "null",
        "number",
        "nul-description",
        "long-description",
        "unknown-is_completed",
        "unknown-field",
    ],
)
def test_create_refuses_invalid_input_with_400(
    api_client: TestClient, alice: User, body: dict[str, Any]
) -> None:
    assert_error(api_client.post(tasks_url(alice), json=body), 400, "VALIDATION_ERROR")
    assert api_client.get(tasks_url(alice)).json() == []


def test_create_accepts_the_longest_title_after_stripping(
    api_client: TestClient, alice: User
) -> None:
    task = create(api_client, alice, title=" \t" + "x" * 255 + "\n ")
    assert task["title"] == "x" * 255


def test_validation_errors_name_the_field_without_echoing_the_input(
    api_client: TestClient, alice: User
) -> None:
    secret_looking = "hunter2-" + "y" * 300
    body = assert_error(
        api_client.post(tasks_url(alice), json={"title": "ok", "extra": secret_looking}),
        400,
        "VALIDATION_ERROR",
    )
    assert body["error"]["details"]["errors"][0]["location"] == "body.extra"
    assert "hunter2" not in str(body)


def test_service_validation_messages_come_through(api_client: TestClient, alice: User) -> None:
    body = assert_error(
        api_client.post(tasks_url(alice), json={"title": "  "}), 400, "VALIDATION_ERROR"
    )
    assert body["error"]["message"] == "title must not be empty"
    assert body["error"]["details"] == {"field": "title"}


# --- list ----------------------------------------------------------------------------------


def test_list_is_newest_first_with_filters_and_paging(api_client: TestClient, alice: User) -> None:
    made = [create(api_client, alice, title=f"task {n}") for n in range(1, 6)]
    for task in made[:2]:
        response = api_client.patch(task_url(alice, task["id"]), json={"is_completed": True})
        assert response.status_code == 200

    def titles(query: str = "") -> list[str]:
        response = api_client.get(tasks_url(alice) + query)
        assert response.status_code == 200, response.text
        return [task["title"] for task in response.json()]

    assert titles() == ["task 5", "task 4", "task 3", "task 2", "task 1"]  # absent: all
    assert titles("?completed=false") == ["task 5", "task 4", "task 3"]
    assert titles("?completed=true") == ["task 2", "task 1"]
    assert titles("?limit=2") == ["task 5", "task 4"]
    assert titles("?limit=2&offset=2") == ["task 3", "task 2"]
    assert titles("?offset=4") == ["task 1"]
    assert titles("?offset=5") == []
    assert titles("?completed=false&limit=1&offset=1") == ["task 4"]
    assert titles("?limit=1000") == titles()


def test_list_breaks_timestamp_ties_by_id_so_pages_are_stable(
    api_client: TestClient, alice: User, session_factory: Callable[[], Session]
) -> None:
    made = [create(api_client, alice, title=f"task {n}") for n in range(6)]
    with session_factory() as session:
        session.exec(
            update(Task)
            .where(col(Task.user_id) == alice.id)
            .values(created_at=datetime(2026, 1, 1, tzinfo=UTC))
        )
        session.commit()
    by_id = sorted((task["id"] for task in made), reverse=True)
    pages = [
        [task["id"] for task in api_client.get(f"{tasks_url(alice)}?limit=2&offset={o}").json()]
        for o in (0, 2, 4)
    ]
    assert [task_id for page in pages for task_id in page] == by_id


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=ten",
        "offset=-1",
        "offset=2147483648",
        "completed=maybe",
    ],
)
def test_list_refuses_out_of_range_paging_with_400(
    api_client: TestClient, alice: User, query: str
) -> None:
    body = assert_error(api_client.get(f"{tasks_url(alice)}?{query}"), 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["errors"][0]["location"].startswith("query.")


def test_list_of_an_unknown_user_is_404(api_client: TestClient) -> None:
    nobody = uuid.uuid4()
    body = assert_error(api_client.get(tasks_url(nobody)), 404, "NOT_FOUND")
    assert body["error"]["details"] == {"user": str(nobody)}
    assert_error(api_client.post(tasks_url(nobody), json={"title": "x"}), 404, "NOT_FOUND")


# --- replace, update ---------------------------------------------------------------------


def test_put_replaces_the_whole_task(api_client: TestClient, alice: User) -> None:
    task = create(api_client, alice, description="notes")
    api_client.patch(task_url(alice, task["id"]), json={"is_completed": True})
    response = api_client.put(task_url(alice, task["id"]), json={"title": " New "})
    assert response.status_code == 200, response.text
    replaced = response.json()
    # Omitted fields go back to their defaults: no description, not completed.
    assert (replaced["title"], replaced["description"], replaced["is_completed"]) == (
        "New",
        None,
        False,
    )
    assert replaced["version"] == 3 and response.headers["ETag"] == '"3"'
    assert (replaced["id"], replaced["number"], replaced["created_at"]) == (
        task["id"],
        task["number"],
        task["created_at"],
    )

    full = {"title": "All", "description": "d", "is_completed": True}
    replaced = api_client.put(task_url(alice, task["id"]), json=full).json()
    assert {key: replaced[key] for key in full} == full


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"description": "no title"},
        {"title": ""},
        {"title": "x", "is_completed": 1},
        {"title": "x", "number": 9},
    ],
    ids=["empty", "no-title", "empty-title", "integer-bool", "unknown-field"],
)
def test_put_refuses_invalid_input_and_changes_nothing(
    api_client: TestClient, alice: User, body: dict[str, Any]
) -> None:
    task = create(api_client, alice)
    assert_error(api_client.put(task_url(alice, task["id"]), json=body), 400, "VALIDATION_ERROR")
    assert api_client.get(task_url(alice, task["id"])).json() == task


def test_patch_changes_only_the_given_fields(api_client: TestClient, alice: User) -> None:
    task = create(api_client, alice, description="notes")
    url = task_url(alice, task["id"])

    changed = api_client.patch(url, json={"is_completed": True}).json()
    assert (changed["title"], changed["description"], changed["is_completed"]) == (
        "Buy milk",
        "notes",
        True,
    )
    assert changed["version"] == 2 and changed["updated_at"] > task["updated_at"]

    changed = api_client.patch(url, json={"title": "  Oat milk "}).json()
    assert (changed["title"], changed["description"], changed["is_completed"]) == (
        "Oat milk",
        "notes",
        True,
    )

    changed = api_client.patch(url, json={"description": None}).json()
    assert changed["description"] is None and changed["version"] == 4

    # A change to the same values is no change: the version stays.
    same = api_client.patch(url, json={"title": "Oat milk", "is_completed": True})
    assert same.status_code == 200 and same.json()["version"] == 4
    assert same.headers["ETag"] == '"4"'


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": None},
        {"is_completed": None},
        {"title": "  "},
        {"title": "x" * 256},
        {"is_completed": "yes"},
        {"is_completed": 0},
        {"colour": "red"},
        [],
        "title",
    ],
    ids=[
        "empty",
        "null-title",
        "null-completed",
        "blank",
        "too-long",
        "string-bool",
        "integer-bool",
        "unknown-field",
        "array",
        "string",
    ],
)
def test_patch_refuses_invalid_input_and_changes_nothing(
    api_client: TestClient, alice: User, body: Any
) -> None:
    task = create(api_client, alice)
    response = api_client.patch(task_url(alice, task["id"]), json=body)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert api_client.get(task_url(alice, task["id"])).json() == task


def test_delete_answers_204_with_an_empty_body(api_client: TestClient, alice: User) -> None:
    task = create(api_client, alice)
    response = api_client.delete(task_url(alice, task["id"]))
    assert (response.status_code, response.content) == (204, b"")
    assert_error(api_client.get(task_url(alice, task["id"])), 404, "NOT_FOUND")
    assert_error(api_client.delete(task_url(alice, task["id"])), 404, "NOT_FOUND")
    # Numbers are never reused.
    assert create(api_client, alice)["number"] == 2


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_task_routes_answer_404_for_a_missing_task(
    api_client: TestClient, alice: User, method: str
) -> None:
    missing = uuid.uuid4()
    response = api_client.request(method, task_url(alice, missing), json={"title": "x"})
    body = assert_error(response, 404, "NOT_FOUND")
    assert body["error"] == {
        "code": "NOT_FOUND",
        "message": f"Task {missing} not found.",
        "details": {"ref": str(missing)},
    }


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "path", ["/users/not-a-uuid/tasks/{task}", "/users/{user}/tasks/1", "/users/{user}/tasks/abcd"]
)
def test_a_malformed_uuid_in_the_path_is_400(
    api_client: TestClient,
    alice: User,
    method: str,
    path: str,
    token_for: Callable[[uuid.UUID], str],
) -> None:
    task = create(api_client, alice)
    url = path.format(user=alice.id, task=task["id"])
    # Alice's valid token: the token is checked first (401), then the path (400).
    headers = {"Authorization": token_for(alice.id)}
    response = api_client.request(method, url, json={"title": "x"}, headers=headers)
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["errors"][0]["location"].startswith("path.")
    assert api_client.get(task_url(alice, task["id"])).json() == task


# --- ETag and If-Match ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_stale_if_match_is_412_and_changes_nothing(
    api_client: TestClient, alice: User, method: str
) -> None:
    task = create(api_client, alice)
    url = task_url(alice, task["id"])
    current = api_client.patch(url, json={"title": "v2"}).json()
    response = api_client.request(
        method, url, json={"title": "lost update"}, headers={"If-Match": '"1"'}
    )
    body = assert_error(response, 412, "PRECONDITION_FAILED")
    assert body["error"]["details"] == {"current_version": 2, "expected_version": 1}
    assert api_client.get(url).json() == current


@pytest.mark.parametrize("version", [2**31 - 1, 2**31, 10**18 - 1])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_an_if_match_beyond_any_version_is_412_or_404_never_500(
    api_client: TestClient, alice: User, method: str, version: int
) -> None:
    """The version column is 32-bit; PostgreSQL refuses a larger number in a query."""
    task = create(api_client, alice)
    url = task_url(alice, task["id"])
    headers = {"If-Match": f'"{version}"'}
    response = api_client.request(method, url, json={"title": "lost update"}, headers=headers)
    body = assert_error(response, 412, "PRECONDITION_FAILED")
    assert body["error"]["details"] == {"current_version": 1, "expected_version": version}
    assert api_client.get(url).json() == task
    # A precondition is only evaluated on a task that exists: a missing one stays 404.
    missing = task_url(alice, uuid.uuid4())
    response = api_client.request(method, missing, json={"title": "x"}, headers=headers)
    assert_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("tag", ['"2"', "*"])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_matching_if_match_lets_the_change_through(
    api_client: TestClient, alice: User, tag: str, method: str
) -> None:
    task = create(api_client, alice)
    url = task_url(alice, task["id"])
    etag = api_client.patch(url, json={"title": "v2"}).headers["ETag"]
    assert etag == '"2"'
    response = api_client.request(method, url, json={"title": "v3"}, headers={"If-Match": tag})
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "v3" and response.headers["ETag"] == '"3"'


@pytest.mark.parametrize("tag", ['"1"', "*"])
def test_delete_with_a_matching_if_match(api_client: TestClient, alice: User, tag: str) -> None:
    task = create(api_client, alice)
    response = api_client.delete(task_url(alice, task["id"]), headers={"If-Match": tag})
    assert response.status_code == 204


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_weak_if_match_never_matches(api_client: TestClient, alice: User, method: str) -> None:
    """If-Match compares strongly (RFC 9110): W/"1" is 412 even when the version is 1."""
    task = create(api_client, alice)
    url = task_url(alice, task["id"])
    response = api_client.request(method, url, json={"title": "x"}, headers={"If-Match": 'W/"1"'})
    assert_error(response, 412, "PRECONDITION_FAILED")
    assert api_client.get(url).json() == task


@pytest.mark.parametrize("tag", ["1", '"one"', '"1", "2"', 'w/"1"', '"1', ""])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_malformed_if_match_is_400_and_changes_nothing(
    api_client: TestClient, alice: User, tag: str, method: str
) -> None:
    task = create(api_client, alice)
    url = task_url(alice, task["id"])
    response = api_client.request(method, url, json={"title": "x"}, headers={"If-Match": tag})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["errors"][0]["location"] == "header.If-Match"
    assert api_client.get(url).json() == task


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_two_writers_with_the_same_if_match_one_wins(
    api_client: TestClient, alice: User, method: str
) -> None:
    """Both expect version 1 and write at once: exactly one succeeds."""
    task = create(api_client, alice)
    url = task_url(alice, task["id"])
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def write(title: str) -> None:
        barrier.wait()
        response = api_client.request(
            method, url, json={"title": title}, headers={"If-Match": '"1"'}
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=write, args=(title,)) for title in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if method == "PATCH":
        assert sorted(statuses) == [200, 412]
        final = api_client.get(url).json()
        assert final["version"] == 2 and final["title"] in ("one", "two")
    else:
        # The loser finds the task gone (404) or, if it read it first, stale (412).
        assert statuses.count(204) == 1 and set(statuses) - {204} <= {404, 412}
        assert_error(api_client.get(url), 404, "NOT_FOUND")


# --- isolation ------------------------------------------------------------------------------


def test_another_users_task_is_indistinguishable_from_a_missing_one(
    api_client: TestClient, alice: User, bob: User, session_factory: Callable[[], Session]
) -> None:
    """Bob addresses Alice's task through his own user id: 404, same body, nothing changed."""
    task = create(api_client, alice, description="private")
    before = stored(session_factory, alice, task["id"])
    attempts = [
        ("GET", None),
        ("PUT", {"title": "mine now"}),
        ("PATCH", {"is_completed": True}),
        ("DELETE", None),
    ]
    refused = {}
    for method, body in attempts:
        response = api_client.request(method, task_url(bob, task["id"]), json=body)
        refused[method] = assert_error(response, 404, "NOT_FOUND")
        assert stored(session_factory, alice, task["id"]) == before
    assert api_client.get(tasks_url(bob)).json() == []

    # The same requests once the task really does not exist get the very same bodies.
    assert api_client.delete(task_url(alice, task["id"])).status_code == 204
    for method, body in attempts:
        response = api_client.request(method, task_url(bob, task["id"]), json=body)
        assert response.status_code == 404
        assert response.json() == refused[method]
