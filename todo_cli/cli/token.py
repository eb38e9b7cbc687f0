"""`todo token create`: bearer tokens for the HTTP API (needs the `api` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from todo_cli.cli._common import PLAIN_HELP, JsonOption, LeanCommand, LeanGroup, database
from todo_cli.cli.serve import require_api_extra
from todo_cli.tokens import CLOCK_SKEW

LEEWAY_SECONDS = int(CLOCK_SKEW.total_seconds())

token_app = typer.Typer(
    cls=LeanGroup,
    rich_markup_mode=PLAIN_HELP,
    help="Bearer tokens for the HTTP API. Example: todo token create --user alice",
    no_args_is_help=True,
)


@token_app.command("create", cls=LeanCommand)
def create(
    user: Annotated[
        str,
        typer.Option(
            "--user",
            "-u",
            metavar="NAME_OR_UUID",
            help="The user the token acts for (name or UUID). Example: --user alice",
        ),
    ],
    ttl: Annotated[
        str,
        typer.Option(
            metavar="DURATION",
            help="How long the token stays valid: 30d, 12h, 90m, 3600s, 2w (≤ 365d). The "
            f"server accepts it for {LEEWAY_SECONDS} seconds more, for clocks that disagree. "
            "Example: --ttl 12h",
        ),
    ] = "30d",
    json: JsonOption = False,
) -> None:
    """Print a bearer token for USER: only the token, so TOKEN=$(todo token create …) works.

    Signed with TODO_API_SECRET, which the server must share; anyone holding the token
    acts as USER until it expires.

    Example: curl -H "Authorization: Bearer $(todo token create --user alice)" …
    """
    require_api_extra("jwt")
    from todo_cli import output, service, tokens
    from todo_cli.config import get_settings
    from todo_cli.models import isoformat

    settings = get_settings()
    key = tokens.signing_key(settings.api_secret)
    lifetime = tokens.parse_ttl(ttl)
    with database() as session:  # tokens are never minted for a user that does not exist
        user_id = service.get_user(session, ref=user).id
    token, expires_at = tokens.mint_token(key, user_id=user_id, ttl=lifetime)
    if json:
        output.print_json(
            {"token": token, "user_id": str(user_id), "expires_at": isoformat(expires_at)}
        )
    else:
        output.print_message(token)
