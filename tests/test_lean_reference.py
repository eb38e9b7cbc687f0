"""The benchmark's lean reference (`bench/lean_app.py`) answers a task GET byte for byte as
`todo serve` does, so that the API budget compares two servers doing the same work."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import API_SECRET, bearer
from todo_cli import db, service
from todo_cli.config import DatabaseURL, Settings, get_settings
from todo_cli.models import TaskCreate

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def servers(
    postgres_url: DatabaseURL, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, TestClient]]:
    from bench import lean_app
    from todo_cli.api import create_app

    monkeypatch.setenv("TODO_DATABASE_URL", postgres_url.reveal())
    monkeypatch.setenv("TODO_API_SECRET", API_SECRET)
    get_settings.cache_clear()
    settings = Settings(_env_file=None, database_url=postgres_url.reveal(), api_secret=API_SECRET)
    with TestClient(create_app(settings)) as todo, TestClient(lean_app.create_app()) as lean:
        yield todo, lean


def test_the_lean_reference_answers_every_task_as_todo_serve(
    postgres_url: DatabaseURL, servers: tuple[TestClient, TestClient]
) -> None:
    engine = db.make_engine(postgres_url)
    try:
        with db.make_session_factory(engine)() as session:
            user = service.create_user(session, name=f"lean-{uuid.uuid4().hex[:8]}")
            other = service.create_user(session, name=f"other-{uuid.uuid4().hex[:8]}")
            made = service.create_tasks(
                session,
                user_id=user.id,
                tasks=[
                    TaskCreate(title="plain"),
                    TaskCreate(
                        title="Pay rent ÉTÉ",
                        description="by transfer\nnot cash",
                        due="2026-12-04",
                        wait="2099-01-01T08:00:00Z",
                        priority="H",
                        project="house.garden",
                        tags=["zeta", "Éclair", "bills", "a-b"],
                    ),
                    TaskCreate(title="done one", priority="L", due="2026-12-04T09:30:00Z"),
                    TaskCreate(title="waited", wait="2000-01-01", priority="M"),
                ],
            )
            tasks = [task.id for task in made]
            for note in ("first", "second ✓", "third"):
                service.add_note(session, user_id=user.id, ref="2", text=note)
            service.complete_tasks(session, user_id=user.id, refs=["3"])
            session.execute(
                text("UPDATE tasks SET extra = :extra WHERE user_id = :user AND id = :id"),
                {"extra": '{"uda": 1, "list": ["x", null]}', "user": user.id, "id": tasks[0]},
            )
            session.commit()
    finally:
        engine.dispose()
    todo, lean = servers
    token = {"Authorization": bearer(user.id)}
    paths = [f"/users/{user.id}/tasks/{task_id}" for task_id in tasks]
    # Refusals too: an unknown task, another user's token, a bad token.
    paths.append(f"/users/{user.id}/tasks/{uuid.uuid4()}")
    for path in paths:
        mine, reference = todo.get(path, headers=token), lean.get(path, headers=token)
        assert (reference.status_code, reference.content) == (mine.status_code, mine.content)
        assert reference.headers.get("etag") == mine.headers.get("etag")
    assert todo.get(paths[1], headers=token).json()["notes"][1]["text"] == "second ✓"
    others = {"Authorization": bearer(other.id)}
    bad = {"Authorization": "Bearer not-a-token"}
    for headers in (others, bad):
        mine, reference = todo.get(paths[0], headers=headers), lean.get(paths[0], headers=headers)
        assert (reference.status_code, reference.content) == (mine.status_code, mine.content)
