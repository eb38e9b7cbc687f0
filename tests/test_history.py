"""History and undo (SPEC → History and undo), on SQLite and PostgreSQL: the service, the
command line and the HTTP API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.cli import invoke
from tests.conftest import bearer
from todo_cli import service
from todo_cli.config import DatabaseURL
from todo_cli.errors import ChangeNotFound, Conflict, ValidationError
from todo_cli.models import TaskCreate, TaskUpdate, User, task_to_json


def _tasks(session: Session, user: User) -> dict[int, dict[str, Any]]:
    session.expire_all()
    return {
        task.number: task_to_json(task)
        for task in service.list_tasks(session, user_id=user.id, status="all")
    }


def _add(session: Session, user: User, *titles: str) -> None:
    service.create_tasks(session, user_id=user.id, tasks=[TaskCreate(title=t) for t in titles])


# --- the service ----------------------------------------------------------------------------


def test_undo_puts_back_each_kind_of_change_and_versions_only_grow(
    session: Session, alice: User
) -> None:
    _add(session, alice, "a", "b", "c")
    created = _tasks(session, alice)
    service.complete_tasks(session, user_id=alice.id, refs=["1", "2"])
    service.update_task(
        session, user_id=alice.id, ref="3", changes=TaskUpdate(title="C", description="d")
    )
    service.delete_tasks(session, user_id=alice.id, refs=["1", "3"])
    assert set(_tasks(session, alice)) == {2}

    service.undo_change(session, user_id=alice.id)  # the rm: both come back
    back = _tasks(session, alice)
    assert set(back) == {1, 2, 3}
    assert back[1]["id"] == created[1]["id"] and back[3]["id"] == created[3]["id"]
    assert (back[1]["version"], back[3]["version"]) == (3, 3)  # done/edit 2, deleted, +1
    service.undo_change(session, user_id=alice.id)  # the edit
    back = _tasks(session, alice)
    assert (back[3]["title"], back[3]["description"], back[3]["version"]) == ("c", None, 4)
    service.undo_change(session, user_id=alice.id)  # the done, both tasks at once
    back = _tasks(session, alice)
    assert [back[n]["is_completed"] for n in (1, 2)] == [False, False]
    service.undo_change(session, user_id=alice.id)  # the add: all three go
    assert _tasks(session, alice) == {}
    with pytest.raises(ChangeNotFound, match="Nothing to undo"):
        service.undo_change(session, user_id=alice.id)
    # Numbers are never handed out again, not even those of undone creates.
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="d"))
    assert set(_tasks(session, alice)) == {4}


def test_redo_walks_forward_in_the_order_of_the_undos(session: Session, alice: User) -> None:
    _add(session, alice, "a")
    service.update_task(session, user_id=alice.id, ref="1", changes=TaskUpdate(title="b"))
    service.update_task(session, user_id=alice.id, ref="1", changes=TaskUpdate(title="c"))
    service.undo_change(session, user_id=alice.id)
    service.undo_change(session, user_id=alice.id)
    assert _tasks(session, alice)[1]["title"] == "a"
    service.redo_change(session, user_id=alice.id)
    assert _tasks(session, alice)[1]["title"] == "b"
    service.redo_change(session, user_id=alice.id)
    assert _tasks(session, alice)[1]["title"] == "c"
    with pytest.raises(ChangeNotFound, match="Nothing to redo"):
        service.redo_change(session, user_id=alice.id)
    service.undo_change(session, user_id=alice.id)  # undoing a redo goes back again
    assert _tasks(session, alice)[1]["title"] == "b"
    assert _tasks(session, alice)[1]["version"] == 8  # one per write, undos included


def test_undo_of_a_task_changed_since_refuses_and_changes_nothing(
    session: Session, alice: User
) -> None:
    _add(session, alice, "a", "b")
    service.complete_tasks(session, user_id=alice.id, refs=["1", "2"])
    service.update_task(session, user_id=alice.id, ref="2", changes=TaskUpdate(title="B"))
    before = _tasks(session, alice)
    with pytest.raises(Conflict, match=r"Task 2 has changed since change 2") as refused:
        service.undo_change(session, user_id=alice.id, change_id=2)
    assert refused.value.details["tasks"][0]["number"] == 2
    assert _tasks(session, alice) == before
    assert service.list_changes(session, user_id=alice.id)[0].change.id == 3


def test_undo_by_id_and_twice(session: Session, alice: User) -> None:
    _add(session, alice, "a")
    _add(session, alice, "b")
    service.undo_change(session, user_id=alice.id, change_id=1)
    assert set(_tasks(session, alice)) == {2}
    with pytest.raises(Conflict, match="already undone by change 3"):
        service.undo_change(session, user_id=alice.id, change_id=1)
    service.undo_change(session, user_id=alice.id, change_id=3)  # the undo's undo: a redo
    assert set(_tasks(session, alice)) == {1, 2}
    kinds = [logged.change.kind for logged in service.list_changes(session, user_id=alice.id)]
    assert kinds == ["redo", "undo", "change", "change"]
    for bad in (0, -1, 10**30, 99):
        with pytest.raises(ChangeNotFound):
            service.undo_change(session, user_id=alice.id, change_id=bad)


def test_one_users_history_is_invisible_to_another(
    session: Session, alice: User, bob: User
) -> None:
    _add(session, alice, "alice's")
    service.complete_tasks(session, user_id=alice.id, refs=["1"])
    _add(session, bob, "bob's")
    with pytest.raises(ChangeNotFound):  # Alice has a change 2; Bob does not
        service.undo_change(session, user_id=bob.id, change_id=2)
    service.undo_change(session, user_id=bob.id)  # Bob's latest is his own add
    service.undo_change(session, user_id=alice.id)  # and Alice's her own done
    assert _tasks(session, bob) == {}
    assert [task["is_completed"] for task in _tasks(session, alice).values()] == [False]
    assert [logged.change.id for logged in service.list_changes(session, user_id=alice.id)] == [
        3,
        2,
        1,
    ]


def test_history_and_a_tasks_log(session: Session, alice: User) -> None:
    _add(session, alice, "a", "b")
    service.complete_tasks(session, user_id=alice.id, refs=["2", "1"])
    service.update_task(session, user_id=alice.id, ref="1", changes=TaskUpdate(title="A"))
    logged = service.list_changes(session, user_id=alice.id)
    assert [(entry.change.id, entry.change.summary) for entry in logged] == [
        (3, "edit 1"),
        (2, "done 1 2"),
        (1, "add 1 2"),
    ]
    assert {entry.change.origin for entry in logged} == {"cli"}
    assert [entry.change.id for entry in service.task_log(session, user_id=alice.id, ref="2")] == [
        2,
        1,
    ]
    page = service.list_changes(session, user_id=alice.id, limit=1, offset=1)
    assert [entry.change.id for entry in page] == [2]
    with pytest.raises(ValidationError):
        service.list_changes(session, user_id=alice.id, limit=2**40)


def test_create_tasks_is_all_or_nothing(session: Session, alice: User) -> None:
    with pytest.raises(ValidationError, match="title must not be empty"):
        service.create_tasks(
            session, user_id=alice.id, tasks=[TaskCreate(title="ok"), TaskCreate(title=" ")]
        )
    assert _tasks(session, alice) == {}
    assert service.list_changes(session, user_id=alice.id) == []


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_alice(use_database: DatabaseURL, session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    monkeypatch.setenv("TODO_USER", "alice")
    return service.create_user(session, name="alice")


def test_cli_undo_redo_history_and_log(cli_alice: User) -> None:
    assert invoke("add", "Pay", "rent")[0] == 0
    assert invoke("done", "1")[0] == 0
    code, out, err = invoke("history")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["2 · just now · cli · done 1", "1 · just now · cli · add 1"]
    assert invoke("undo") == (0, "Undid change 2 (done 1); recorded as change 3.\n", "")
    assert invoke("redo") == (0, "Redid change 2 (done 1); recorded as change 4.\n", "")
    code, out, _ = invoke("history", "--json", "--limit", "2")
    changes = json.loads(out)
    assert [(c["id"], c["kind"], c["undoes"], c["undone_by"]) for c in changes] == [
        (4, "redo", 3, None),
        (3, "undo", 2, 4),
    ]
    code, out, _ = invoke("log", "1")
    assert code == 0 and out.splitlines()[-1] == "1 · just now · cli · add 1"


def test_cli_undo_errors(cli_alice: User) -> None:
    code, out, err = invoke("undo")
    assert (code, out, err) == (3, "", "Error: Nothing to undo.\n")
    invoke("add", "a")
    invoke("edit", "1", "--title", "b")
    invoke("edit", "1", "--title", "c")
    code, _, err = invoke("undo", "2")
    assert code == 4 and "Task 1 has changed since change 2; nothing was undone." in err
    code, _, err = invoke("undo", "nope")
    assert code == 2
    code, _, err = invoke("undo", "2", "--json")
    assert code == 4 and json.loads(err)["error"]["code"] == "CONFLICT"


def test_cli_add_from_stdin_is_one_change(cli_alice: User) -> None:
    code, out, err = invoke("add", "-", input="one\n\ntwo\n  three  \n")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["Added task 1: one", "Added task 2: two", "Added task 3: three"]
    code, out, _ = invoke("history", "--json")
    assert [c["summary"] for c in json.loads(out)] == ["add 1 2 3"]
    code, _, err = invoke("add", "-", input="fine\n" + "x" * 300 + "\n")
    assert code == 2 and "at most 255" in err
    assert len(json.loads(invoke("list", "--json")[1])) == 3
    assert invoke("add", "-", input="\n\n")[0] == 2
    assert invoke("add", "-", "-d", "x", input="a\n")[0] == 2


def test_cli_done_on_a_done_task_says_so(cli_alice: User) -> None:
    invoke("add", "a")
    invoke("add", "b")
    invoke("done", "1")
    code, out, err = invoke("done", "1", "2")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["Completed task 2: b", "Task 1 was already completed."]
    code, out, _ = invoke("reopen", "1")
    assert out == "Reopened task 1: a\n"
    assert invoke("reopen", "1")[1] == "Task 1 was already pending.\n"


# --- the HTTP API ---------------------------------------------------------------------------


def test_api_writes_name_their_change_and_undo_reverts_it(
    api_client: TestClient, alice: User, bob: User, session_factory: Callable[[], Session]
) -> None:
    base = f"/users/{alice.id}"
    created = api_client.post(f"{base}/tasks", json={"title": "a"})
    assert created.headers["Todo-Change"] == "1"
    task_url = f"{base}/tasks/{created.json()['id']}"
    patched = api_client.patch(task_url, json={"title": "b"})
    assert patched.headers["Todo-Change"] == "2"
    same = api_client.patch(task_url, json={"title": "b"})
    assert same.status_code == 200 and "Todo-Change" not in same.headers
    changes = api_client.get(f"{base}/changes").json()
    assert [(c["id"], c["origin"], c["summary"]) for c in changes] == [
        (2, "api", "edit 1"),
        (1, "api", "add 1"),
    ]
    undone = api_client.post(f"{base}/changes/2/undo")
    assert undone.status_code == 200 and undone.headers["Todo-Change"] == "3"
    assert undone.json()["undoes"] == 2 and undone.json()["kind"] == "undo"
    got = api_client.get(task_url)
    assert (got.json()["title"], got.headers["ETag"]) == ("a", '"3"')
    again = api_client.post(f"{base}/changes/2/undo")
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"
    deleted = api_client.delete(task_url)
    assert deleted.status_code == 204 and deleted.headers["Todo-Change"] == "4"
    assert api_client.post(f"{base}/changes/4/undo").status_code == 200
    assert api_client.get(task_url).json()["version"] == 4


def test_api_another_users_changes_are_not_found(
    api_client: TestClient, alice: User, bob: User
) -> None:
    api_client.post(f"/users/{alice.id}/tasks", json={"title": "a"})
    missing = api_client.post(f"/users/{alice.id}/changes/99/undo")
    assert missing.status_code == 404
    # Alice's token on Bob's history: exactly what a missing user gets.
    alices = {"Authorization": bearer(alice.id)}
    for response in (
        api_client.get(f"/users/{bob.id}/changes", headers=alices),
        api_client.post(f"/users/{bob.id}/changes/1/undo", headers=alices),
        # Bob's own token: Alice's change 1 is not in his history.
        api_client.post(f"/users/{bob.id}/changes/1/undo"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert api_client.get(f"/users/{alice.id}/tasks").json()[0]["version"] == 1
    for bad in ("0", "-1", "x", str(2**40)):
        assert api_client.post(f"/users/{alice.id}/changes/{bad}/undo").status_code == 400
    assert api_client.get(f"/users/{alice.id}/changes?limit=0").status_code == 400


def test_one_session_sees_what_its_undo_did(session: Session, alice: User) -> None:
    """No `expire_all` between the calls: the log as the database has it, not as this
    session first loaded it (the API and the warm server reuse objects within a session)."""
    _add(session, alice, "a")
    held = service.list_changes(session, user_id=alice.id)  # change 1, kept in the session
    service.undo_change(session, user_id=alice.id)
    assert service.list_changes(session, user_id=alice.id)[1].change.undone_by == 2
    assert held[0].change.undone_by == 2
    with pytest.raises(Conflict, match="already undone by change 2"):
        service.undo_change(session, user_id=alice.id, change_id=1)
