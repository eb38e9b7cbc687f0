"""`todo token create`: bearer tokens for the HTTP API (needs the `api` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from todo_cli.cli._common import JsonOption
from todo_cli.cli.serve import require_api_extra

if TYPE_CHECKING:
    import uuid

    from todo_cli.config import Settings

token_app = typer.Typer(
    help="Bearer tokens for the HTTP API. Example: todo token create --user alice",
    no_args_is_help=True,
)


@token_app.command("create")
def create(
    user: Annotated[
        str,
        typer.Option("--user", "-u", help="The user the token acts for (name or UUID)."),
    ],
    ttl: Annotated[
        str,
        typer.Option(help="How long the token stays valid: 30d, 12h, 90m, 3600s, 2w (≤ 365d)."),
    ] = "30d",
    json: JsonOption = False,
) -> None:
    """Print a bearer token for USER: only the token, so TOKEN=$(todo token create …) works.

    Signed with TODO_API_SECRET, which the server must share; anyone holding the token
    acts as USER until it expires.

    Example: curl -H "Authorization: Bearer $(todo token create --user alice)" …
    """
    require_api_extra("jwt")
    from todo_cli import output, tokens
    from todo_cli.config import get_settings
    from todo_cli.models import isoformat

    settings = get_settings()
    key = tokens.signing_key(settings.api_secret)
    lifetime = tokens.parse_ttl(ttl)
    user_id = _user_id(settings, user)
    token, expires_at = tokens.mint_token(key, user_id=user_id, ttl=lifetime)
    if json:
        output.print_json(
            {"token": token, "user_id": str(user_id), "expires_at": isoformat(expires_at)}
        )
    else:
        output.print_message(token)


def _user_id(settings: Settings, ref: str) -> uuid.UUID:
    """The id of an existing user, by name or UUID (tokens are never minted for nobody)."""
    from todo_cli import db, service

    url = settings.db_url()
    engine = db.make_engine(url, connect_timeout=settings.connect_timeout)
    try:
        db.ensure_schema(engine, url)
        with db.make_session_factory(engine)() as session:
            return service.get_user(session, ref=ref).id
    finally:
        engine.dispose()
