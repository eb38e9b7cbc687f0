"""Every error response, whatever raised it, as SPEC's body with a matching status.

`TodoError` is translated by exactly one function (`error_response`). The other handlers
only turn what the framework and the database raise into a `TodoError` first: FastAPI's
validation errors (422 by default) become 400, Starlette's 404/405 keep their status
(405 keeps an `Allow` header), a database that cannot serve becomes 503 with
`Retry-After`, and anything else is a 500 that says nothing about the internals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from todo_cli import db
from todo_cli.errors import (
    ConfigError,
    Conflict,
    DatabaseUnavailable,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    TodoError,
    Unauthorized,
    Unavailable,
    ValidationError,
)
from todo_cli.service.validation import shortened

logger = logging.getLogger("todo.api")

# Seconds a client should wait before retrying when the database cannot serve: long
# enough for a Neon compute to wake, short enough not to matter when it is already up.
RETRY_AFTER_SECONDS = 5

# The error class of each status. The framework decides some statuses itself (unknown
# route, wrong method…); they become the error of their status, and any other status
# the closest one (a client's mistake, or ours), so the list of codes stays closed.
ERRORS_BY_STATUS: dict[int, type[TodoError]] = {
    error.http_status: error
    for error in (
        ValidationError,
        Unauthorized,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        InternalError,
        Unavailable,
    )
}
CODES_BY_STATUS = {status: error.code for status, error in ERRORS_BY_STATUS.items()}


def error_response(error: TodoError) -> JSONResponse:
    """The one translation of an error into an HTTP response."""
    headers = dict(error.headers)
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, Unavailable):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return JSONResponse(error.to_body(), status_code=error.http_status, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(TodoError, _todo_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_exception)  # type: ignore[arg-type]
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)  # type: ignore[arg-type]
    # Starlette runs the handler for `Exception` last, sends its response, then re-raises
    # so that the server logs the traceback: a bug stays visible to the operator.
    app.add_exception_handler(Exception, _unexpected)
    for name in _SERVER_LOGGERS:
        logging.getLogger(name).addFilter(_SCRUB_SECRETS)


async def _todo_error(_request: Request, exc: TodoError) -> JSONResponse:
    return error_response(exc)


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    if content_type and not _is_json(content_type) and _body_errors(exc):
        # The body was never read as JSON, so pydantic's complaint about it ("Input
        # should be a valid dictionary…") would describe the wrong problem.
        problem = (
            f"the request body must be JSON, sent as Content-Type: application/json "
            f"(not {shortened(content_type)!r})"
        )
        error = {"location": "header.Content-Type", "message": problem, "type": "content_type"}
        return error_response(ValidationError(f"{problem}.", details={"errors": [error]}))
    errors = [_describe(error) for error in exc.errors()]
    first = errors[0] if errors else {"location": "request", "message": "invalid request"}
    message = f"{first['location']}: {first['message']}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return error_response(ValidationError(message, details={"errors": errors}))


def _is_json(content_type: str) -> bool:
    """FastAPI's own rule for reading a body as JSON: application/json or …+json."""
    media = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _body_errors(exc: RequestValidationError) -> bool:
    return any(tuple(error.get("loc", ()))[:1] == ("body",) for error in exc.errors())


# pydantic's wording for what a client most often gets wrong, in the API's own words.
_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required",
    "model_attributes_type": "should be a JSON object",
    "dict_type": "should be a JSON object",
}


def _describe(error: Any) -> dict[str, str]:
    """A validation error without its input (which may be huge, or a secret)."""
    location = ".".join(str(part) for part in error.get("loc", ()))
    kind = str(error.get("type", "invalid"))
    if kind == "json_invalid":
        return {
            "location": "body",
            "message": "the request body is not valid JSON",
            "type": "json_invalid",
        }
    return {
        "location": location or "request",
        "message": _MESSAGES.get(kind, str(error.get("msg", "invalid"))),
        "type": kind,
    }


async def _http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 404:
        message = f"There is no route {request.url.path!r}."
    elif status == 405:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        message = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}."
    elif status < 500:
        message = str(exc.detail) if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    else:
        message = HTTPStatus(status).phrase
    error = ERRORS_BY_STATUS.get(status, ValidationError if status < 500 else InternalError)
    return error_response(error(message, headers=headers))


def _allowed_methods(request: Request) -> Sequence[str]:
    """Every method some route serves at this path.

    Starlette answers 405 from the first route whose path matches, so its own `Allow`
    lists only that route's methods, while each method here is a route of its own.
    """
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods.update(route_methods)
    if "GET" in methods:
        methods.add("HEAD")  # served wherever GET is (app.HeadAsGet)
    return sorted(methods)


async def _database_error(request: Request, exc: sa_exc.SQLAlchemyError) -> JSONResponse:
    """A database that cannot serve is 503; its reason goes to the log, not the client.

    The reason names the database host, which a client has no business knowing; the
    password never reaches either (`db.database_error` removes it).
    """
    error: TodoError | None
    if isinstance(exc, sa_exc.TimeoutError):  # every pooled connection busy
        error = DatabaseUnavailable("The database is busy; try again shortly.")
    else:
        database: db.Database = request.app.state.database
        error = database.error(exc)
    if error is None:
        logger.error("unexpected database error", exc_info=exc)
        return _internal_error()
    logger.warning("%s %s: %s", request.method, request.url.path, error.message)
    if isinstance(error, DatabaseUnavailable):
        error = DatabaseUnavailable("The database is unavailable; try again shortly.")
    elif isinstance(error, ConfigError):  # its message may name a file path
        error = ConfigError("The server's database is misconfigured; see the server log.")
    return error_response(error)


async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
    return _internal_error()


def _internal_error() -> JSONResponse:
    return error_response(InternalError("The server hit an unexpected error; it has been logged."))


class _ScrubSecrets(logging.Filter):
    """Masks every known secret in a log record, its traceback included.

    The traceback of a bug goes to the server log (see `install`), and an exception
    message may quote a connection URL; the operator's log must not hold the password.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from todo_cli.config import known_secrets, redact

        secrets = known_secrets()
        record.msg, record.args = redact(record.getMessage(), *secrets), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, *secrets)
        return True


# uvicorn logs a bug's traceback on "uvicorn.error"; ours log on "todo.api". A filter on
# a logger sees only the records logged on that very logger, hence each is named.
_SERVER_LOGGERS = ("uvicorn.error", logger.name)
_SCRUB_SECRETS = _ScrubSecrets()
