"""The lean reference: a task GET with nothing but what any implementation must do.

The same route and answer as `todo serve`'s `GET /users/{user_id}/tasks/{task_id}`: the
HS256 bearer token checked (PyJWT, `exp` and `sub` required, `sub` = the path's user),
the path's UUIDs parsed, one SELECT of the task scoped by its owner (its tags and notes
as arrays of subqueries on their keys, so still one round trip), the task's JSON (every
field of SPEC's task, byte for byte `todo serve`'s: tests/test_lean_reference.py) and its
ETag. Everything else is taken away: no ORM, no sessions, no dependency graph beyond
the path, no worker threads (async psycopg on the event loop, a few autocommit
connections, the statement prepared once per connection).

Not a product and not a proposal: it answers one question for docs/performance.md, how
much of the bare-endpoint ceiling a GET can keep at all once it makes one PostgreSQL
round trip on the same 2 cores. Served by bench/serve.py, like the ceiling.

    python -m bench.serve bench.lean_app:create_app --factory --workers 2

Reads TODO_DATABASE_URL and TODO_API_SECRET; BENCH_NO_AUTH=1 turns the token check off
(as `todo serve --no-auth`).
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations.
import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import jwt
import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import Response

# As many connections as `todo serve` keeps per worker (todo_cli/api/deps.py THREADS).
CONNECTIONS = 4
TASK_COLUMNS = (
    "id, user_id, number, title, description, is_completed, version, created_at, updated_at,"
    " due, due_date, wait, priority, project, completed_at, extra"
)
# Tags in code-point order and notes oldest first, as `todo serve` shows them.
SQL = (
    f"SELECT {TASK_COLUMNS},"
    " ARRAY(SELECT tag FROM task_tags g WHERE g.user_id = t.user_id AND g.task_id = t.id"
    ' ORDER BY tag COLLATE "C"),'
    " ARRAY(SELECT n.id FROM task_notes n WHERE n.user_id = t.user_id AND n.task_id = t.id"
    " ORDER BY n.created_at, n.id),"
    " ARRAY(SELECT n.created_at FROM task_notes n"
    " WHERE n.user_id = t.user_id AND n.task_id = t.id ORDER BY n.created_at, n.id),"
    " ARRAY(SELECT n.text FROM task_notes n WHERE n.user_id = t.user_id AND n.task_id = t.id"
    " ORDER BY n.created_at, n.id)"
    " FROM tasks t WHERE t.user_id = %s AND t.id = %s"
)
PRIORITY_LETTERS = {3: "H", 2: "M", -1: "L"}
# The error bodies of `todo serve`, so that a refused request costs both servers the same.
UNAUTHORIZED = json.dumps(
    {"error": {"code": "UNAUTHORIZED", "message": "The bearer token is not valid.", "details": {}}},
    separators=(",", ":"),
)


def _not_found(task_id: uuid.UUID) -> Response:
    ref = str(task_id)
    body = {
        "error": {"code": "NOT_FOUND", "message": f"Task {ref} not found.", "details": {"ref": ref}}
    }
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=404, media_type="application/json"
    )


def create_app() -> FastAPI:
    url = os.environ["TODO_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    key = os.environ["TODO_API_SECRET"].encode()
    auth = os.environ.get("BENCH_NO_AUTH") != "1"
    idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for _ in range(CONNECTIONS):
            idle.put_nowait(
                await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=0)
            )
        yield
        while not idle.empty():
            await idle.get_nowait().close()

    app = FastAPI(title="lean reference", lifespan=lifespan)

    @app.get("/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/users/{user_id}/tasks/{task_id}")
    async def get_task(user_id: uuid.UUID, task_id: uuid.UUID, request: Request) -> Response:
        if auth:
            header = request.headers.get("authorization", "")
            try:
                claims = jwt.decode(
                    header.removeprefix("Bearer "),
                    key,
                    algorithms=["HS256"],
                    options={"require": ["exp", "sub"]},
                    leeway=30,
                )
            except jwt.InvalidTokenError:
                return Response(
                    UNAUTHORIZED,
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                    media_type="application/json",
                )
            if claims["sub"] != str(user_id):
                return _not_found(task_id)
        connection = await idle.get()
        try:
            cursor = await connection.execute(SQL, (user_id, task_id))
            row = await cursor.fetchone()
        finally:
            idle.put_nowait(connection)
        if row is None:
            return _not_found(task_id)
        task = _task_json(row)
        return Response(
            json.dumps(task, ensure_ascii=False, separators=(",", ":")),
            media_type="application/json",
            headers={"ETag": f'"{row[6]}"'},
        )

    return app


def _instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _task_json(row: Any) -> dict[str, Any]:
    (task_id, user_id, number, title, description, is_completed, version, created_at,
     updated_at, due, due_date, wait, priority, project, completed_at, extra, tags,
     note_ids, note_times, note_texts) = row  # fmt: skip
    if is_completed:
        status = "done"
    elif wait is not None and wait > datetime.now(UTC):
        status = "waiting"
    else:
        status = "pending"
    return {
        "id": str(task_id),
        "user_id": str(user_id),
        "number": number,
        "title": title,
        "description": description,
        "is_completed": is_completed,
        "version": version,
        "created_at": _instant(created_at),
        "updated_at": _instant(updated_at),
        "due": _instant(due),
        "due_date": due_date.isoformat() if due_date is not None else None,
        "wait": _instant(wait),
        "priority": PRIORITY_LETTERS.get(priority),
        "project": project,
        "tags": tags,
        "completed_at": _instant(completed_at),
        "status": status,
        "notes": [
            {"id": str(i), "created_at": _instant(at), "text": text}
            for i, at, text in zip(note_ids, note_times, note_texts, strict=True)
        ],
        "extra": extra,
    }
