"""The errors a user can cause, each carrying its own code, exit code and HTTP status.

Entry points translate a `TodoError` exactly once (one Typer-side handler, one FastAPI
exception handler), so adding a condition here is all it takes to give it the right exit
code and status everywhere. Anything that is not a `TodoError` is a bug and is not caught.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar


class ExitCode(IntEnum):
    """Process exit codes (SPEC → CLI), documented in the README."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    UNAVAILABLE = 5
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


class TodoError(Exception):
    """Base of every error a user can cause; never raised itself."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    exit_code: ClassVar[ExitCode] = ExitCode.UNEXPECTED
    http_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}
        # HTTP headers the answer to this error carries (`Allow` with a 405).
        self.headers: dict[str, str] = headers or {}

    def to_body(self) -> dict[str, Any]:
        """The uniform error body shared by `--json` output and the HTTP API."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationError(TodoError):
    """Input that breaks a rule: empty title, bad reference, unknown field…"""

    code = "VALIDATION_ERROR"
    exit_code = ExitCode.USAGE
    http_status = 400


class NotFound(TodoError):
    code = "NOT_FOUND"
    exit_code = ExitCode.NOT_FOUND
    http_status = 404


class TaskNotFound(NotFound):
    """Missing task, or another user's task: deliberately indistinguishable."""


class UserNotFound(NotFound):
    pass


class ChangeNotFound(NotFound):
    """No such change in the user's history (or nothing left to undo or redo)."""


class MethodNotAllowed(TodoError):
    """HTTP only: the path exists, the method does not."""

    code = "METHOD_NOT_ALLOWED"
    exit_code = ExitCode.USAGE
    http_status = 405


class Conflict(TodoError):
    code = "CONFLICT"
    exit_code = ExitCode.CONFLICT
    http_status = 409


class AmbiguousReference(Conflict):
    """A UUID prefix that matches more than one of the user's tasks."""


class UserExists(Conflict):
    pass


class PreconditionFailed(TodoError):
    """The caller's expected version (HTTP `If-Match`) is not the task's current one."""

    code = "PRECONDITION_FAILED"
    exit_code = ExitCode.CONFLICT
    http_status = 412


class InternalError(TodoError):
    """A bug, reported to an HTTP client without any of its internals."""


class Unauthorized(TodoError):
    code = "UNAUTHORIZED"
    exit_code = ExitCode.USAGE
    http_status = 401


class Unavailable(TodoError):
    """The database cannot serve: unreachable, misconfigured, or at the wrong schema."""

    code = "SERVICE_UNAVAILABLE"
    exit_code = ExitCode.UNAVAILABLE
    http_status = 503


class DatabaseUnavailable(Unavailable):
    pass


class SchemaOutOfDate(Unavailable):
    pass


class ConfigError(Unavailable):
    pass
