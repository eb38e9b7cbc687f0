"""`GET /users/{id}/tasks?filter=&sort=&tz=`: the filter language over HTTP, with the CLI's
meaning and errors (400 `VALIDATION_ERROR` with `details.position`), on both backends."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.test_api_routes import assert_error, tasks_url
from todo_cli import service
from todo_cli.models import TaskCreate, User


@pytest.fixture
def tasks(session: Session, alice: User, bob: User) -> None:
    rows = [
        TaskCreate(title="Buy milk", tags=["errand"], project="house", due="2026-12-04"),
        TaskCreate(title="Fix the gate", tags=["home"], project="house.garden", priority="H"),
        TaskCreate(title="Plan housework", project="housework", priority="L"),
        TaskCreate(title="Call the bank", tags=["errand"], priority="M"),
    ]
    for user in (alice, bob):
        service.create_tasks(session, user_id=user.id, tasks=rows)
    service.complete_tasks(session, user_id=alice.id, refs=["4"])


def numbers(client: TestClient, user: User, **params: str) -> list[int]:
    response = client.get(tasks_url(user), params=params)
    assert response.status_code == 200, response.text
    return [task["number"] for task in response.json()]


def test_filter_sort_and_the_filters_default(
    api_client: TestClient, alice: User, tasks: None
) -> None:
    assert numbers(api_client, alice, filter="project:house") == [2, 1]
    assert numbers(api_client, alice, filter="+errand") == [1]  # 4 is done: the default
    assert numbers(api_client, alice, filter="+errand status:all") == [4, 1]
    assert numbers(api_client, alice, filter="-errand", sort="-priority") == [2, 3]
    assert numbers(api_client, alice, filter="status:all", sort="due,-priority") == [1, 2, 4, 3]
    assert numbers(api_client, alice, filter="pri:H,M status:all", limit="1", offset="1") == [2]


def test_completed_still_works_alone_and_with_a_filter(
    api_client: TestClient, alice: User, tasks: None
) -> None:
    assert numbers(api_client, alice) == [4, 3, 2, 1]  # no filter: every task, as before
    assert numbers(api_client, alice, completed="true") == [4]
    assert numbers(api_client, alice, completed="false") == [3, 2, 1]
    assert numbers(api_client, alice, completed="true", filter="+errand") == [4]
    assert numbers(api_client, alice, completed="false", filter="+errand") == [1]
    assert numbers(api_client, alice, sort="id") == [1, 2, 3, 4]


def test_days_are_read_in_tz(api_client: TestClient, alice: User, tasks: None) -> None:
    # Task 1 is due at the end of 4 December UTC: in Auckland that is already the 5th.
    assert numbers(api_client, alice, filter="due.on:2026-12-04") == [1]
    assert numbers(api_client, alice, filter="due.on:2026-12-04", tz="Pacific/Auckland") == []
    assert numbers(api_client, alice, filter="due.on:2026-12-05", tz="Pacific/Auckland") == [1]


def test_a_bad_filter_is_a_400_with_the_position(
    api_client: TestClient, alice: User, tasks: None
) -> None:
    response = api_client.get(tasks_url(alice), params={"filter": "+home projct:house"})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["error"]["details"]["position"] == 6
    assert "did you mean project?" in body["error"]["message"]
    response = api_client.get(tasks_url(alice), params={"sort": "due,-prio"})
    assert assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]["position"] == 4
    response = api_client.get(tasks_url(alice), params={"filter": "x", "tz": "Mars/Olympus"})
    assert_error(response, 400, "VALIDATION_ERROR")


def test_unknown_parameters_are_still_refused(
    api_client: TestClient, alice: User, tasks: None
) -> None:
    response = api_client.get(tasks_url(alice), params={"filters": "+home"})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "filter" in body["error"]["message"]  # the names it takes are listed


def test_another_users_tasks_never_match(
    api_client: TestClient, alice: User, bob: User, tasks: None
) -> None:
    ids = {
        t["id"] for t in api_client.get(tasks_url(alice), params={"filter": "status:all"}).json()
    }
    theirs = {
        t["id"] for t in api_client.get(tasks_url(bob), params={"filter": "status:all"}).json()
    }
    assert len(ids) == len(theirs) == 4 and not ids & theirs


def test_an_unknown_user_is_a_404_even_with_a_bad_filter(api_client: TestClient) -> None:
    response = api_client.get(tasks_url(uuid.uuid4()), params={"filter": "projct:x"})
    assert_error(response, 404, "NOT_FOUND")


def test_openapi_documents_filter_sort_and_tz(api_client: TestClient) -> None:
    spec = api_client.get("/openapi.json").json()
    parameters = {
        p["name"]: p for p in spec["paths"]["/users/{user_id}/tasks"]["get"]["parameters"]
    }
    assert {"filter", "sort", "tz", "completed", "limit", "offset"} <= set(parameters)
    assert "project:house" in parameters["filter"]["description"]
    assert "details.position" in parameters["filter"]["description"]
