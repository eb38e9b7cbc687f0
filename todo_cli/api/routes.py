"""The routes of SPEC → HTTP API: each parses, calls one service function, renders.

Tasks go out through `models.task_to_json`, the same function behind the CLI's `--json`,
so the two can never drift apart; `TaskPublic` only documents the shape.
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations at
# runtime, and they name types local to `build_router`.
import uuid
from enum import Enum
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator
from sqlmodel import Session

from todo_cli import service
from todo_cli.api.deps import (
    ExpectedVersion,
    ReadSessionDep,
    SessionDep,
    ZoneQuery,
    query_parameters,
    read,
    strict_bool,
)
from todo_cli.api.schemas import (
    ChangePublic,
    ErrorBody,
    TaskCreateBody,
    TaskReplaceBody,
    TaskUpdateBody,
)
from todo_cli.errors import ValidationError
from todo_cli.models import (
    AnyTask,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
    change_to_json,
    task_to_json,
)
from todo_cli.service import Logged
from todo_cli.service.query import SHORT_GRAMMAR

DEFAULT_LIMIT = 100
MAX_FILTER_LENGTH = 2000
MAX_LIMIT = 1000
# A user has at most 2**31 - 1 tasks (the number column is 32-bit); a larger offset
# would overflow the database's integer, not find anything more.
MAX_OFFSET = 2**31 - 1

# Paging, the same on every listing.
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"At most this many (1–{MAX_LIMIT}).")
]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many first.")]
# The filter language of `todo list` (SPEC → Finding: filters, sort, search).
FilterQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_FILTER_LENGTH,
        description="Which tasks, in the filter language of `todo list`: "
        f"{SHORT_GRAMMAR} A bad filter is a 400 whose details.position is the offset of "
        "the problem. Example: `project:house +errand due.by:fri`",
    ),
]
SortQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_FILTER_LENGTH,
        description="Sort keys, comma-separated, `-` for descending: due, wait, priority, "
        "project, created, modified, done, id; missing values last either way, the task "
        "number last so pages are stable (default: newest first). Example: `due,-priority`",
    ),
]
_ERROR_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, a bad, missing or unknown field, a malformed UUID, "
    "query parameter or If-Match header.",
    401: "Missing, malformed, expired or wrongly signed bearer token.",
    404: "No such user or task. Another user's task is indistinguishable from a missing one.",
    409: "The change cannot be reverted: a task of it has changed since (listed in "
    "details.tasks), or it was already undone; nothing was changed.",
    412: "If-Match does not match the task's current ETag; nothing was changed.",
    500: "An unexpected error (a bug); the message reveals no internals.",
    503: "The database is unreachable, busy or at the wrong schema version; retry later.",
}
_HEADER_DOCS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "Always `Bearer`: the scheme this API expects.",
            "schema": {"type": "string"},
            "required": True,
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
            "required": True,
        }
    },
}
# The ETag header, defined once (`components.headers`, added by `app._document`) and
# referenced by every response that carries it.
ETAG_HEADER: dict[str, Any] = {
    "description": 'The task\'s version as an entity tag, e.g. `"3"`; send it back in '
    "If-Match to change the task only if nobody else has.",
    "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    "required": True,
}
_ETAG = {"ETag": {"$ref": "#/components/headers/ETag"}}


def _responses(
    *statuses: int,
    success: tuple[int, str, dict[str, Any]] | None = None,
    links: dict[str, Any] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: every error status a route can return, with the error body."""
    responses: dict[int | str, dict[str, Any]] = {}
    if success is not None:
        status, description, headers = success
        responses[status] = {"description": description, "headers": headers}
        if links:
            responses[status]["links"] = links
    for status in statuses:
        responses[status] = {
            "model": ErrorBody,
            "description": _ERROR_DESCRIPTIONS[status],
            **({"headers": _HEADER_DOCS[status]} if status in _HEADER_DOCS else {}),
        }
    return responses


# OpenAPI links: how a created task's id feeds the routes that act on it (clients and
# schemathesis's stateful tests follow them).
_TASK_LINKS = {
    name: {
        "operationId": operation,
        "parameters": {"user_id": "$request.path.user_id", "task_id": "$response.body#/id"},
    }
    for name, operation in (
        ("GetTask", "getTask"),
        ("ReplaceTask", "replaceTask"),
        ("UpdateTask", "updateTask"),
        ("DeleteTask", "deleteTask"),
    )
}
# Every write names the change it made: the change can then be undone.
_UNDO_LINK = {
    "UndoChange": {
        "operationId": "undoChange",
        "parameters": {
            "user_id": "$request.path.user_id",
            "change_id": "$response.header.Todo-Change",
        },
    }
}


_TODO_CHANGE = {
    "Todo-Change": {
        "description": "The id of the change this request made in the user's history "
        "(undo it with `POST /users/{user_id}/changes/{id}/undo`); absent when the request "
        "changed nothing.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "required": False,
    }
}


def _change_header(session: Session) -> dict[str, str]:
    committed = service.last_committed(session)
    return {"Todo-Change": str(committed.change_id)} if committed is not None else {}


def _task_response(
    task: AnyTask,
    *,
    session: Session | None = None,
    status_code: int = 200,
    location: str | None = None,
) -> Response:
    """A task with its ETag; after a write, with the change it made."""
    headers = {"ETag": f'"{task.version}"'}
    if location is not None:
        headers["Location"] = location
    if session is not None:
        headers.update(_change_header(session))
    return JSONResponse(task_to_json(task), status_code=status_code, headers=headers)


def _change_json(logged: Logged) -> dict[str, Any]:
    return change_to_json(logged.change, logged.task_ids)


def add_routes(
    app: FastAPI, collection_owner: Any, task_owner: Any, *, error_statuses: tuple[int, ...]
) -> None:
    """Add the task routes, acting for the user that the owner dependencies name.

    `collection_owner` resolves to the user id of `/users/{user_id}/tasks`, `task_owner`
    to `(user_id, task_id)` of `/users/{user_id}/tasks/{task_id}`; the app chooses
    versions with or without authentication. `error_statuses` are the statuses that
    every route can return on top of its own.

    The routes go straight onto the app (not through an included router) so that each
    one is visible in `app.router.routes`, where the 405 handler collects `Allow`.
    """
    router = app.router
    collection, item = "/users/{user_id}/tasks", "/users/{user_id}/tasks/{task_id}"
    tags: list[str | Enum] = ["tasks"]
    Owner = Annotated[uuid.UUID, Depends(collection_owner)]
    OwnedTask = Annotated[tuple[uuid.UUID, uuid.UUID], Depends(task_owner)]
    common = (400, 404, *error_statuses)
    # After the owner in each signature, so that a missing token is still 401 first.
    NoQuery = Annotated[None, Depends(query_parameters())]
    WriteQuery = Annotated[None, Depends(query_parameters("tz"))]
    ListQuery = Annotated[
        None,
        Depends(query_parameters("completed", "limit", "offset", "filter", "sort", "tz")),
    ]

    @router.post(
        collection,
        tags=tags,
        status_code=201,
        response_model=TaskPublic,
        operation_id="createTask",
        summary="Create a task",
        responses=_responses(
            *common,
            success=(
                201,
                "The new task.",
                {
                    **_ETAG,
                    **_TODO_CHANGE,
                    "Location": {
                        "description": "The new task's URL.",
                        "schema": {"type": "string"},
                        "required": True,
                    },
                },
            ),
            links={**_TASK_LINKS, **_UNDO_LINK},
        ),
    )
    def create_task(
        owner: Owner,
        _: WriteQuery,
        body: TaskCreateBody,
        session: SessionDep,
        request: Request,
        zone: ZoneQuery,
    ) -> Response:
        new = TaskCreate(**body.model_dump())
        task = service.create_task(session, user_id=owner, task=new, zone=zone)
        location = request.url_for("get_task", user_id=str(owner), task_id=str(task.id))
        return _task_response(task, session=session, status_code=201, location=location.path)

    @router.get(
        collection,
        tags=tags,
        response_model=list[TaskPublic],
        operation_id="listTasks",
        summary="List tasks, newest first",
        responses=_responses(*common),
    )
    def list_tasks(
        owner: Owner,
        _: ListQuery,
        session: ReadSessionDep,
        completed: Annotated[
            bool | None,
            BeforeValidator(strict_bool),
            Query(description="true: completed tasks only; false: pending only; absent: all."),
        ] = None,
        limit: LimitQuery = DEFAULT_LIMIT,
        offset: OffsetQuery = 0,
        filter: FilterQuery = None,
        sort: SortQuery = None,
        tz: ZoneQuery = None,
    ) -> Response:
        if filter is None:
            status: service.Status | None = (
                "all" if completed is None else "done" if completed else "pending"
            )
        else:
            # The filter's own default (pending, not waiting) unless `completed` says.
            status = None if completed is None else "done" if completed else "pending"
        zone = tz or (service.user_zone(session, owner) if filter is not None else None)
        tasks = service.list_tasks(
            session,
            user_id=owner,
            status=status,
            limit=limit,
            offset=offset,
            filter=filter,
            sort=sort,
            **({"zone": zone} if zone is not None else {}),
        )
        return JSONResponse([task_to_json(task) for task in tasks])

    @router.get(
        item,
        tags=tags,
        response_model=TaskPublic,
        operation_id="getTask",
        summary="Get one task",
        responses=_responses(*common, success=(200, "The task.", _ETAG)),
    )
    async def get_task(owned: OwnedTask, _: NoQuery, request: Request) -> Response:
        user_id, task_id = owned
        return _task_response(
            await read(request, partial(service.task_reading, user_id, str(task_id)))
        )

    @router.put(
        item,
        tags=tags,
        response_model=TaskPublic,
        operation_id="replaceTask",
        summary="Replace a task (title required; omitted fields reset)",
        responses=_responses(
            *common, 412, success=(200, "The replaced task.", {**_ETAG, **_TODO_CHANGE})
        ),
    )
    def replace_task(
        owned: OwnedTask,
        _: WriteQuery,
        body: TaskReplaceBody,
        session: SessionDep,
        version: ExpectedVersion,
        zone: ZoneQuery,
    ) -> Response:
        user_id, task_id = owned
        # Every field is set explicitly, so every field is written: a full replacement.
        changes = TaskUpdate(**body.model_dump())
        task = service.update_task(
            session,
            user_id=user_id,
            ref=str(task_id),
            changes=changes,
            expected_version=version,
            zone=zone,
        )
        return _task_response(task, session=session)

    @router.patch(
        item,
        tags=tags,
        response_model=TaskPublic,
        operation_id="updateTask",
        summary="Change only the given fields of a task",
        responses=_responses(
            *common, 412, success=(200, "The changed task.", {**_ETAG, **_TODO_CHANGE})
        ),
    )
    def update_task(
        owned: OwnedTask,
        _: WriteQuery,
        body: TaskUpdateBody,
        session: SessionDep,
        version: ExpectedVersion,
        zone: ZoneQuery,
    ) -> Response:
        user_id, task_id = owned
        task = service.update_task(
            session,
            user_id=user_id,
            ref=str(task_id),
            changes=TaskUpdate(**body.model_dump(exclude_unset=True)),
            expected_version=version,
            zone=zone,
        )
        return _task_response(task, session=session)

    @router.delete(
        item,
        tags=tags,
        status_code=204,
        response_class=Response,
        operation_id="deleteTask",
        summary="Delete a task",
        responses=_responses(*common, 412),
    )
    def delete_task(
        owned: OwnedTask, _: NoQuery, session: SessionDep, version: ExpectedVersion
    ) -> Response:
        user_id, task_id = owned
        service.delete_tasks(
            session, user_id=user_id, refs=[str(task_id)], expected_version=version
        )
        return Response(status_code=204, headers=_change_header(session))

    changes, undo = "/users/{user_id}/changes", "/users/{user_id}/changes/{change_id}/undo"
    history_tags: list[str | Enum] = ["history"]

    @router.get(
        changes,
        tags=history_tags,
        response_model=list[ChangePublic],
        operation_id="listChanges",
        summary="List the user's changes, newest first",
        responses=_responses(*common),
    )
    def list_changes(
        owner: Owner,
        _: Annotated[None, Depends(query_parameters("limit", "offset"))],
        session: ReadSessionDep,
        limit: LimitQuery = DEFAULT_LIMIT,
        offset: OffsetQuery = 0,
    ) -> Response:
        logged = service.list_changes(session, user_id=owner, limit=limit, offset=offset)
        return JSONResponse([_change_json(entry) for entry in logged])

    @router.post(
        undo,
        tags=history_tags,
        response_model=ChangePublic,
        operation_id="undoChange",
        summary="Revert a change (an undo's undo is a redo)",
        responses=_responses(
            *common, 409, success=(200, "The change that reverted it.", _TODO_CHANGE)
        ),
    )
    def undo_change(
        owner: Owner,
        _: NoQuery,
        session: SessionDep,
        change_id: Annotated[
            int, Path(ge=1, le=MAX_OFFSET, description="The id of the change to revert.")
        ],
    ) -> Response:
        logged = service.undo_change(session, user_id=owner, change_id=change_id)
        return JSONResponse(_change_json(logged), headers=_change_header(session))

    # --- import (SPEC → Moving in and out): the CLI's `todo import`, over HTTP ----------

    import_path = "/users/{user_id}/tasks:import"
    ImportQuery = Annotated[
        None, Depends(query_parameters("format", "dry_run", "skip_invalid", "tz"))
    ]

    class ImportReportPublic(BaseModel):
        """What an import did (with dry_run, what it would do)."""

        format: Literal["json", "taskwarrior", "todotxt"]
        dry_run: bool
        added: int
        updated: int
        unchanged: int
        skipped: int
        skipped_records: list[SkippedRecord]
        change: int | None

    @router.post(
        import_path,
        tags=tags,
        response_model=ImportReportPublic,
        operation_id="importTasks",
        summary="Import a Taskwarrior export, a todo.txt file or NDJSON of tasks (one change)",
        description="The body is the file. A task whose UUID the user has is updated only if "
        "the file's copy is newer, so sending the same file again changes nothing; a file "
        "with an invalid record imports nothing (400 naming the line) unless "
        "skip_invalid=true. The whole import is one change: undo it with the change in "
        "Todo-Change.",
        openapi_extra={"requestBody": {"required": True, "content": _IMPORT_BODY}},
        responses=_responses(
            *common, success=(200, "What was imported (or, dry, would be).", _TODO_CHANGE)
        ),
    )
    def import_tasks(
        owner: Owner,
        _: ImportQuery,
        session: SessionDep,
        body: Annotated[bytes, Depends(_import_body)],
        request: Request,
        format: Annotated[
            Literal["json", "taskwarrior", "todotxt"] | None,
            Query(description="The file's format; default: told from its content."),
        ] = None,
        dry_run: Annotated[
            bool,
            BeforeValidator(strict_bool),
            Query(description="true: report what would change, change nothing."),
        ] = False,
        skip_invalid: Annotated[
            bool,
            BeforeValidator(strict_bool),
            Query(description="true: import the valid records and list the others."),
        ] = False,
        tz: Annotated[
            str | None,
            Query(description="The IANA zone the file's days are read in; default: the user's."),
        ] = None,
    ) -> Response:
        from todo_cli.service.dates import resolve_zone

        text = _decoded(body)
        if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
            _require_json_array(text)
        report = service.import_tasks(
            session,
            user_id=owner,
            text=text,
            format=format,
            zone=resolve_zone(tz) if tz is not None else None,
            dry_run=dry_run,
            skip_invalid=skip_invalid,
        )
        return JSONResponse(report.to_json(), headers=_change_header(session))


# The body of an import: the file as it is, under the media type of its format.
MAX_IMPORT_BYTES = 64 * 1024 * 1024
_IMPORT_BODY: dict[str, Any] = {
    "application/json": {
        "schema": {"type": "array", "items": {"type": "object"}},
        "description": "A Taskwarrior export (`task export`): a JSON array of tasks.",
    },
    "application/x-ndjson": {
        "schema": {"type": "string"},
        "description": "One JSON object a line: todo's own task JSON, or Taskwarrior's.",
    },
    "text/plain": {
        "schema": {"type": "string"},
        "description": "A todo.txt file, or any of the JSON forms.",
    },
}


class SkippedRecord(BaseModel):
    line: int
    reason: str


async def _import_body(request: Request) -> bytes:
    """The request's body, refused beyond `MAX_IMPORT_BYTES` before it is all read."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise ValidationError(
                f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB; split it",
                details={"max_bytes": MAX_IMPORT_BYTES},
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _decoded(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(
            f"the body is not UTF-8 text (byte {error.start}); nothing was imported",
            details={"position": error.start},
        ) from None


def _require_json_array(text: str) -> None:
    """A body sent as application/json is what that media type documents: a JSON array
    of objects (a Taskwarrior export); JSON lines and todo.txt go as text."""
    import json

    try:
        value = json.loads(text)
    except ValueError:
        if text.lstrip().startswith("["):
            return  # a broken array: the import names the line where it breaks
        value = None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValidationError(
            "an application/json body is a JSON array of tasks (send JSON lines or todo.txt "
            "as text/plain); nothing was imported",
            details={"field": "body"},
        )
