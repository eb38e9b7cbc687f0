"""Bearer authentication: who the caller is, from `Authorization: Bearer <token>`.

This is the door, not the isolation: the token only says which user is calling. The
routes still pass that user's id to the service, which scopes every query by it.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from todo_cli import tokens
from todo_cli.errors import Unauthorized

# auto_error=False: a missing or non-Bearer header comes back as None, so that the
# refusal is our 401 body rather than FastAPI's own.
bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    scheme_name="bearerAuth",
    description="An HS256 JWT whose `sub` is the path's user id; mint one with "
    "`todo token create --user NAME`.",
)


async def authenticated_subject(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> uuid.UUID:
    """The user id of a valid token; `Unauthorized` for anything else."""
    if credentials is None:
        raise Unauthorized(
            "This route needs an `Authorization: Bearer <token>` header; "
            "create a token with `todo token create --user NAME`."
        )
    verified: tokens.VerifiedTokens = request.app.state.verified_tokens
    return verified.verify(credentials.credentials)


Subject = Annotated[uuid.UUID, Depends(authenticated_subject)]
