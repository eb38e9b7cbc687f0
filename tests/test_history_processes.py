"""Undo across real processes on PostgreSQL: a `todo serve` and `todo` CLI processes on one
database (SPEC → History and undo; issue 13: "undo after a concurrent change by the API
refuses with 409 / exit 4 and changes nothing").

Each test is one person with a terminal and a script talking to the API at once: a change
made by one is changed again by the other, then undone by the first. The undo must refuse
(naming the task) and leave the task and the change log exactly as they were; and an undo
that can go ahead restores the task at version + 1, with each change's origin in the log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import bearer
from tests.processes import HANG_TIMEOUT, TodoServer, todo_env
from tests.servers import free_port
from todo_cli import db, service
from todo_cli.config import DatabaseURL

API_SECRET = "the-history-process-tests-secret-0123456789"


class World:
    """A PostgreSQL database with user alice, a `todo serve` on it, and her CLI."""

    def __init__(self, url: DatabaseURL, tmp_path: Path) -> None:
        db.upgrade(url)
        engine = db.make_engine(url)
        try:
            with db.make_session_factory(engine)() as session:
                self.alice = service.create_user(session, name="alice").id
        finally:
            engine.dispose()
        self.cwd = tmp_path
        self.env = todo_env(
            TODO_DATABASE_URL=url.reveal(), TODO_API_SECRET=API_SECRET, TODO_USER="alice"
        )
        self.server = TodoServer(free_port(), self.env, tmp_path)
        self.api = httpx.Client(
            base_url=f"{self.server.base}/users/{self.alice}",
            headers={"Authorization": bearer(self.alice, secret=API_SECRET)},
            timeout=60,
        )

    def todo(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`todo ARGS…` as its own process, as alice."""
        return subprocess.run(
            [sys.executable, "-m", "todo_cli", *args],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=HANG_TIMEOUT,
        )

    def ok(self, *args: str) -> str:
        finished = self.todo(*args)
        assert finished.returncode == 0, finished.stderr
        return finished.stdout

    def history(self) -> list[dict[str, Any]]:
        changes: list[dict[str, Any]] = json.loads(self.ok("history", "--json", "--limit", "100"))
        return changes

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.api.get(f"/tasks/{task_id}")
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()
        assert response.headers["ETag"] == f'"{task["version"]}"'
        return task


@pytest.fixture
def world(new_database: Callable[[str], DatabaseURL], tmp_path: Path) -> Iterator[World]:
    world = World(new_database("postgresql"), tmp_path)
    try:
        world.server.wait_until_serving()
        yield world
    finally:
        world.api.close()
        world.server.stop()
    assert "Traceback" not in world.server.log


def _add(world: World, title: str) -> dict[str, Any]:
    task: dict[str, Any] = json.loads(world.ok("add", title, "--json"))
    assert task["version"] == 1
    return task


def test_cli_undo_of_a_change_the_api_changed_since_is_exit_4_and_changes_nothing(
    world: World,
) -> None:
    task = _add(world, "Pay rent")
    world.ok("done", "1")
    done = world.history()[0]
    assert (done["origin"], done["summary"], done["task_ids"]) == ("cli", "done 1", [task["id"]])

    patched = world.api.patch(f"/tasks/{task['id']}", json={"title": "Pay the rent"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 3
    assert int(patched.headers["Todo-Change"]) > done["id"]
    history = world.history()
    assert history[0]["origin"] == "api"

    refused = world.todo("undo", str(done["id"]))

    assert (refused.returncode, refused.stdout) == (4, "")
    assert refused.stderr == (
        f"Error: Task 1 has changed since change {done['id']}; nothing was undone.\n"
    )
    assert world.task(task["id"]) == patched.json()  # as the API left it: same version
    assert world.history() == history  # no new change, nothing marked undone

    as_json = world.todo("undo", str(done["id"]), "--json")
    assert (as_json.returncode, as_json.stdout) == (4, "")
    error = json.loads(as_json.stderr)["error"]
    assert error["code"] == "CONFLICT"
    assert error["details"]["change"] == done["id"]
    assert error["details"]["tasks"] == [
        {"id": task["id"], "number": 1, "expected_version": 2, "current_version": 3}
    ]
    assert world.task(task["id"]) == patched.json()
    assert world.history() == history


def test_api_undo_of_a_change_the_cli_changed_since_is_409_and_changes_nothing(
    world: World,
) -> None:
    task = _add(world, "Water the plants")
    patched = world.api.patch(f"/tasks/{task['id']}", json={"is_completed": True})
    assert patched.status_code == 200, patched.text
    change_id = int(patched.headers["Todo-Change"])
    listed = world.api.get("/changes").json()
    assert listed[0]["id"] == change_id and listed[0]["origin"] == "api"

    world.ok("edit", "1", "--title", "Water the garden")
    edited = world.task(task["id"])
    assert (edited["title"], edited["is_completed"], edited["version"]) == (
        "Water the garden",
        True,
        3,
    )
    history = world.api.get("/changes").json()
    assert history[0]["origin"] == "cli"

    refused = world.api.post(f"/changes/{change_id}/undo")

    assert refused.status_code == 409, refused.text
    assert "Todo-Change" not in refused.headers
    assert refused.json() == {
        "error": {
            "code": "CONFLICT",
            "message": f"Task 1 has changed since change {change_id}; nothing was undone.",
            "details": {
                "change": change_id,
                "tasks": [
                    {"id": task["id"], "number": 1, "expected_version": 2, "current_version": 3}
                ],
            },
        }
    }
    assert world.task(task["id"]) == edited
    assert world.api.get("/changes").json() == history
    assert world.history() == history  # the CLI reads the same log


def test_an_api_change_undone_from_the_cli_comes_back_at_version_plus_one(world: World) -> None:
    task = _add(world, "Call mum")
    patched = world.api.patch(
        f"/tasks/{task['id']}", json={"title": "Call dad", "description": "Sunday"}
    )
    assert patched.status_code == 200, patched.text
    change_id = int(patched.headers["Todo-Change"])

    undone = world.todo("undo")

    assert undone.returncode == 0, undone.stderr
    undo, change, *_ = world.history()
    assert undone.stdout == f"Undid change {change_id} (edit 1); recorded as change {undo['id']}.\n"
    restored = world.task(task["id"])
    assert restored == {
        **task,
        "version": 3,  # a restore is a write: ETags only grow
        "updated_at": restored["updated_at"],
    }
    assert restored["updated_at"] > patched.json()["updated_at"]
    assert (change["id"], change["origin"], change["undone_by"]) == (change_id, "api", undo["id"])
    assert (undo["origin"], undo["kind"], undo["undoes"], undo["undone_by"]) == (
        "cli",
        "undo",
        change_id,
        None,
    )
    assert undo["summary"] == f"undo {change_id} (edit 1)"
    assert undo["task_ids"] == [task["id"]]
    assert world.api.get("/changes").json()[:2] == [undo, change]


def test_a_task_deleted_through_the_api_comes_back_from_the_cli_with_its_id_and_number(
    world: World,
) -> None:
    first, second = _add(world, "Keep"), _add(world, "Bring back")
    deleted = world.api.delete(f"/tasks/{second['id']}")
    assert deleted.status_code == 204, deleted.text
    change_id = int(deleted.headers["Todo-Change"])
    assert world.api.get(f"/tasks/{second['id']}").status_code == 404

    world.ok("undo")

    back = world.task(second["id"])
    assert (back["id"], back["number"], back["title"], back["version"]) == (
        second["id"],
        2,
        "Bring back",
        2,
    )
    assert back["created_at"] == second["created_at"]
    assert world.task(first["id"]) == first
    assert world.history()[1]["id"] == change_id
    assert world.history()[1]["undone_by"] == world.history()[0]["id"]
    # The number stays that task's: the next task gets a new one.
    assert _add(world, "New")["number"] == 3
