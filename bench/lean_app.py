"""The lean reference: a task GET with nothing but what any implementation must do.

The same route and answer as `todo serve`'s `GET /users/{user_id}/tasks/{task_id}`: the
HS256 bearer token checked (PyJWT, `exp` and `sub` required, `sub` = the path's user),
the path's UUIDs parsed, one SELECT of the task scoped by its owner, the task's JSON and
its ETag. Everything else is taken away: no ORM, no sessions, no dependency graph beyond
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
from typing import Any

import jwt
import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import Response

# As many connections as `todo serve` keeps per worker (todo_cli/api/deps.py THREADS).
CONNECTIONS = 4
SQL = (
    "SELECT id, user_id, number, title, description, is_completed, version, created_at,"
    " updated_at FROM tasks WHERE user_id = %s AND id = %s"
)
# The error bodies of `todo serve`, so that a refused request costs both servers the same.
NOT_FOUND = json.dumps(
    {"error": {"code": "NOT_FOUND", "message": "Task not found.", "details": {}}}
)
UNAUTHORIZED = json.dumps(
    {"error": {"code": "UNAUTHORIZED", "message": "The bearer token is not valid.", "details": {}}}
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
                return Response(NOT_FOUND, status_code=404, media_type="application/json")
        connection = await idle.get()
        try:
            cursor = await connection.execute(SQL, (user_id, task_id))
            row = await cursor.fetchone()
        finally:
            idle.put_nowait(connection)
        if row is None:
            return Response(NOT_FOUND, status_code=404, media_type="application/json")
        task = {
            "id": str(row[0]),
            "user_id": str(row[1]),
            "number": row[2],
            "title": row[3],
            "description": row[4],
            "is_completed": row[5],
            "version": row[6],
            "created_at": row[7].isoformat().replace("+00:00", "Z"),
            "updated_at": row[8].isoformat().replace("+00:00", "Z"),
        }
        return Response(
            json.dumps(task), media_type="application/json", headers={"ETag": f'"{row[6]}"'}
        )

    return app
