"""`create_app()`: the FastAPI application over the service layer.

Creating the app reads the settings and nothing else: no connection, no engine. The
database is first touched by the first request that needs it (see `db.Database`), so
the server starts while the database is down and serves as soon as it is back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio.to_thread import current_default_thread_limiter
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_cli import __version__, models, tokens
from todo_cli.api import deps, errors, routes, schemas
from todo_cli.api.routes import add_routes
from todo_cli.config import Settings, get_settings

DESCRIPTION = """\
The tasks of each user, over HTTP: the same rules and errors as the `todo` command line.

Every error has the body `{"error": {"code", "message", "details"}}` and a matching status.
Task responses carry `ETag: "<version>"`; send it back in `If-Match` on PUT, PATCH and DELETE
to change a task only if nobody else has since (412 otherwise).

Every task route needs `Authorization: Bearer <token>`, a token of the path's user: mint one
with `todo token create --user NAME`. `/openapi.json` and `/docs` are public.

Unknown or repeated query parameters are refused (400), as unknown body fields are; booleans
are `true` or `false`. `HEAD` is answered wherever `GET` is, with the same headers.
"""


def create_app(settings: Settings | None = None, *, auth: bool = True) -> FastAPI:
    """The API for `settings` (default: the environment, as `get_settings()` reads it).

    With `auth` (the default) every task route needs a bearer token of the path's user,
    and a missing or short `TODO_API_SECRET` is refused here, before anything is served.
    `auth=False` is for `todo serve --no-auth` on loopback, and for tests.
    """
    settings = settings or get_settings()
    models.build_validators()
    signing_key = tokens.signing_key(settings.api_secret) if auth else None
    database = deps.database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Per event loop, so here: the thread pool that runs the sync routes.
        current_default_thread_limiter().total_tokens = deps.THREADS
        yield
        await database.aclose()

    # /docs is Swagger UI served from the installed fastapi-offline package rather than
    # from a CDN: the documentation works on a machine without internet access.
    app = FastAPIOffline(
        title="todo",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
    )
    app.add_middleware(HeadAsGet)
    app.state.database = database
    app.state.verified_tokens = tokens.VerifiedTokens(signing_key) if signing_key else None
    errors.install(app)
    if auth:
        add_routes(
            app,
            deps.authorized_collection_owner,
            deps.authorized_task_owner,
            error_statuses=(401, 500, 503),
        )
    else:
        add_routes(app, deps.collection_owner, deps.task_owner, error_statuses=(500, 503))
    _document(app)
    return app


class HeadAsGet:
    """HEAD wherever GET is served: the same status and headers, no body (RFC 9110 §9.3.2).

    FastAPI routes a HEAD to a GET route as a 405; Starlette's own routes would answer
    it. Serving it as the GET keeps every header (ETag, Content-Length) exactly the
    GET's, which is what a client checking a task's ETag with HEAD relies on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def create_app_without_auth() -> FastAPI:
    """The factory `todo serve --no-auth` hands to uvicorn (which checked the host)."""
    return create_app(auth=False)


def _document(app: FastAPI) -> None:
    """The OpenAPI document as the server behaves: no 422 (validation failures are 400
    with the error body, which every route documents), and no null parameters.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
                    for parameter in operation.get("parameters", []):
                        _drop_null(parameter["schema"])
            components = schema.setdefault("components", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components["schemas"].pop(name, None)
            components["schemas"].update(schemas.components())
            components["headers"] = {"ETag": routes.ETAG_HEADER}
            components["schemas"]["ErrorInfo"]["properties"]["code"]["enum"] = _codes(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _codes(schema: dict[str, Any]) -> list[str]:
    """The error codes this app returns: those of the statuses its document lists, and
    405's (for a method a path does not serve, which no operation can document)."""
    statuses = {
        int(status)
        for path in schema["paths"].values()
        for operation in path.values()
        for status in operation.get("responses", {})
        if int(status) >= 400
    }
    return sorted({errors.CODES_BY_STATUS[status] for status in statuses | {405}})


def _drop_null(schema: dict[str, Any]) -> None:
    """An optional query or header parameter is absent, never null: say so.

    FastAPI documents `bool | None = None` as "boolean or null", but a query string or
    a header cannot carry a null; a client that sent the text "null" would get a 400.
    """
    options = schema.get("anyOf")
    if options and {"type": "null"} in options and len(options) == 2:
        (kept,) = [option for option in options if option != {"type": "null"}]
        del schema["anyOf"]
        schema.update(kept)
