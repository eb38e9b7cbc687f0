"""`POST /users/{user_id}/tasks:import` on SQLite and PostgreSQL: the CLI's import over
HTTP, with the same formats, report, all-or-nothing rule and one change per request."""

from __future__ import annotations

import json
import uuid

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import bearer
from todo_cli import service
from todo_cli.models import TaskCreate, User

TW = json.dumps(
    [
        {
            "uuid": str(uuid.UUID(int=1)),
            "description": "Buy milk",
            "status": "pending",
            "entry": "20261201T100000Z",
            "modified": "20261201T100000Z",
            "due": "20261204T000000Z",
            "priority": "H",
            "tags": ["errand"],
            "estimate": 3,
        },
        {
            "uuid": str(uuid.UUID(int=2)),
            "description": "Gone",
            "status": "deleted",
            "entry": "20261201T100000Z",
        },
    ]
)


def url(user: User, query: str = "") -> str:
    return f"/users/{user.id}/tasks:import{query}"


def test_import_reports_and_is_one_change_that_undo_reverts(
    api_client: TestClient, alice: User
) -> None:
    dry = api_client.post(url(alice, "?dry_run=true"), content=TW)
    assert dry.status_code == 200 and "Todo-Change" not in dry.headers
    assert dry.json()["added"] == 1 and dry.json()["dry_run"] is True
    assert api_client.get(f"/users/{alice.id}/tasks").json() == []

    done = api_client.post(url(alice), content=TW, headers={"Content-Type": "application/json"})
    assert done.status_code == 200, done.text
    assert done.json() == {
        "format": "taskwarrior",
        "dry_run": False,
        "added": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 1,
        "skipped_records": [{"line": 1, "reason": "deleted in Taskwarrior"}],
        "change": 1,
    }
    assert done.headers["Todo-Change"] == "1"
    (task,) = api_client.get(f"/users/{alice.id}/tasks").json()
    assert (task["id"], task["due_date"], task["priority"]) == (
        str(uuid.UUID(int=1)),
        "2026-12-04",  # the user has no zone: read in UTC
        "H",
    )
    assert task["extra"] == {"taskwarrior": {"estimate": 3}}
    again = api_client.post(url(alice), content=TW)
    assert again.json()["unchanged"] == 1 and "Todo-Change" not in again.headers
    assert api_client.post(f"/users/{alice.id}/changes/1/undo").status_code == 200
    assert api_client.get(f"/users/{alice.id}/tasks").json() == []


def test_todo_txt_with_a_format_and_a_zone(api_client: TestClient, alice: User) -> None:
    body = "(B) 2026-11-20 Renew passport +admin due:2026-12-15\n"
    done = api_client.post(url(alice, "?format=todotxt&tz=Europe/Paris"), content=body)
    assert done.status_code == 200, done.text
    (task,) = api_client.get(f"/users/{alice.id}/tasks").json()
    assert task["due"] == "2026-12-15T22:59:59.999999Z"
    assert task["created_at"] == "2026-11-19T23:00:00.000000Z"


def test_a_bad_file_is_a_400_that_names_the_line_and_imports_nothing(
    api_client: TestClient, alice: User
) -> None:
    bad = api_client.post(url(alice, "?format=todotxt"), content="fine\nx due:soon\n")
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith("line 2: 'soon' is not a due date")
    assert error["details"]["records"] == [
        {"line": 2, "reason": "'soon' is not a due date (YYYY-MM-DD)"}
    ]
    for query in ("?format=csv", "?dry_run=1", "?tz=Mars/Olympus", "?unknown=1"):
        assert api_client.post(url(alice, query), content="a\n").status_code == 400, query
    assert api_client.post(url(alice), content=b"\xff").status_code == 400
    assert api_client.post(url(alice), content="[").status_code == 400
    as_json = {"Content-Type": "application/json"}
    for body in ("0", '"a task"', "[1]", "{}"):
        refused = api_client.post(url(alice, "?skip_invalid=true"), content=body, headers=as_json)
        assert refused.status_code == 400, body
    broken = api_client.post(url(alice), content='[\n{"uuid": ,}\n]', headers=as_json)
    assert broken.json()["error"]["message"].startswith("line 2: ")
    assert api_client.get(f"/users/{alice.id}/tasks").json() == []
    skipped = api_client.post(url(alice, "?skip_invalid=true"), content="fine\nx due:soon\n")
    assert skipped.json()["added"] == 1 and skipped.json()["skipped"] == 1


def test_another_users_token_gets_the_same_404_and_changes_nothing(
    api_client: TestClient, alice: User, bob: User, session: Session
) -> None:
    service.create_task(session, user_id=bob.id, task=TaskCreate(title="bob's"))
    theirs = api_client.post(
        url(bob), content="mine\n", headers={"Authorization": bearer(alice.id)}
    )
    missing = uuid.uuid4()
    nobody = api_client.post(
        f"/users/{missing}/tasks:import",
        content="mine\n",
        headers={"Authorization": bearer(missing)},
    )
    assert theirs.status_code == nobody.status_code == 404
    garbage = api_client.post(url(bob), content="mine\n", headers={"Authorization": "Bearer x.y.z"})
    assert garbage.status_code == 401 and garbage.headers["WWW-Authenticate"] == "Bearer"
    assert [t["title"] for t in api_client.get(f"/users/{bob.id}/tasks").json()] == ["bob's"]


def test_the_route_is_in_the_openapi_document(api_client: TestClient) -> None:
    operation = api_client.get("/openapi.json").json()["paths"]["/users/{user_id}/tasks:import"]
    post = operation["post"]
    assert post["operationId"] == "importTasks"
    assert set(post["requestBody"]["content"]) == {
        "application/json",
        "application/x-ndjson",
        "text/plain",
    }
    assert "Todo-Change" in post["responses"]["200"]["headers"]
