"""A stand-in for `todo serve`: the SPEC's task routes over the service layer, nothing more.

Not the product (that is `todo_cli.api`, being built elsewhere). It calls the service the
way an API would, one session per request, behind the SPEC's bearer-token check, so the
load harness (wrk, the open-loop generator) can be built and tested before the real
server lands, and so its figures can be read against a known, minimal implementation.

    uvicorn bench.standin_api:create_app --factory --workers 2

Reads TODO_DATABASE_URL, TODO_API_SECRET; BENCH_NO_AUTH=1 turns the token check off.
"""

# No `from __future__ import annotations`: FastAPI must see the local Annotated aliases.
import os
import uuid
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from todo_cli import db, service
from todo_cli.config import DatabaseURL
from todo_cli.errors import TaskNotFound, TodoError, ValidationError
from todo_cli.models import Task, TaskCreate, TaskUpdate, task_to_json

# One pooled connection per threadpool thread (AnyIO's default is 40), kept open: overflow
# connections would be closed on return and reopened under load (a new PostgreSQL backend
# each time). Two workers hold 80 of the server's default 100 connections.
POOL_SIZE = 40
MAX_OVERFLOW = 0


class Unauthorized(TodoError):
    code = "UNAUTHORIZED"
    http_status = 401


def create_app() -> FastAPI:
    url = DatabaseURL.parse(os.environ["TODO_DATABASE_URL"])
    engine = db.make_engine(url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW)
    db.check_schema(engine)
    factory = db.make_session_factory(engine)
    secret = os.environ.get("TODO_API_SECRET", "")
    no_auth = os.environ.get("BENCH_NO_AUTH", "") == "1"
    app = FastAPI(title="todo (bench stand-in)")

    async def acting_user(
        user_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> uuid.UUID:
        try:
            parsed = uuid.UUID(user_id)
        except ValueError:
            raise ValidationError("user_id is not a UUID", details={"field": "user_id"}) from None
        if no_auth:
            return parsed
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("A bearer token is required.")
        try:
            claims = jwt.decode(
                token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
            )
        except jwt.PyJWTError:
            raise Unauthorized("The bearer token is invalid or expired.") from None
        if claims["sub"] != str(parsed):
            raise TaskNotFound("Not found.")
        return parsed

    # The token check is pure CPU and runs on the event loop; each route is one plain
    # function that opens its session itself, so a request makes a single threadpool hop
    # (a sync `yield` dependency would add two more, ~0.3 ms each on this machine).
    User = Annotated[uuid.UUID, Depends(acting_user)]

    def task_response(task: Task, status: int = 200) -> JSONResponse:
        return JSONResponse(
            task_to_json(task), status_code=status, headers={"ETag": f'"{task.version}"'}
        )

    @app.exception_handler(TodoError)
    async def todo_error(_request: Request, exc: TodoError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(exc.to_body(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        error = ValidationError("invalid request", details={"errors": str(exc.errors())[:500]})
        return JSONResponse(error.to_body(), status_code=400)

    @app.post("/users/{user_id}/tasks", status_code=201)
    def create(body: TaskCreate, user: User) -> JSONResponse:
        with factory() as s:
            task = service.create_task(
                s, user_id=user, task=TaskCreate(title=body.title, description=body.description)
            )
            return task_response(task, 201)

    @app.get("/users/{user_id}/tasks")
    def list_(
        user: User, completed: bool | None = None, limit: int = 50, offset: int = 0
    ) -> JSONResponse:
        status: Any = "all" if completed is None else ("done" if completed else "pending")
        with factory() as s:
            tasks = service.list_tasks(s, user_id=user, status=status, limit=limit, offset=offset)
            return JSONResponse([task_to_json(t) for t in tasks])

    @app.get("/users/{user_id}/tasks/{task_id}")
    def get(task_id: uuid.UUID, user: User) -> JSONResponse:
        with factory() as s:
            return task_response(service.get_task(s, user_id=user, ref=str(task_id)))

    @app.patch("/users/{user_id}/tasks/{task_id}")
    def patch(task_id: uuid.UUID, body: TaskUpdate, user: User) -> JSONResponse:
        with factory() as s:
            task = service.update_task(s, user_id=user, ref=str(task_id), changes=body)
            return task_response(task)

    @app.delete("/users/{user_id}/tasks/{task_id}", status_code=204)
    def delete(task_id: uuid.UUID, user: User) -> Response:
        with factory() as s:
            service.delete_tasks(s, user_id=user, refs=[str(task_id)])
            return Response(status_code=204)

    return app
