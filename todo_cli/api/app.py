"""`create_app()`: the FastAPI application over the service layer.

Creating the app reads the settings and nothing else: no connection, no engine. The
database is first touched by the first request that needs it (see `deps.Database`), so
the server starts while the database is down and serves as soon as it is back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from todo_cli import __version__
from todo_cli.api import errors
from todo_cli.api.deps import Database, collection_owner, task_owner
from todo_cli.api.routes import add_routes
from todo_cli.config import Settings, get_settings

DESCRIPTION = """\
The tasks of each user, over HTTP: the same rules and errors as the `todo` command line.

Every error has the body `{"error": {"code", "message", "details"}}` and a matching status.
Task responses carry `ETag: "<version>"`; send it back in `If-Match` on PUT, PATCH and DELETE
to change a task only if nobody else has since (412 otherwise).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for `settings` (default: the environment, as `get_settings()` reads it)."""
    settings = settings or get_settings()
    database = Database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = FastAPI(
        title="todo",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.database = database
    errors.install(app)
    add_routes(app, collection_owner, task_owner, error_statuses=(500, 503))
    _document(app)
    return app


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
            components = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
