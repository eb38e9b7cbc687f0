"""Bearer tokens for the HTTP API: standard HS256 JWTs bound to one user.

Minting and checking live here, outside `api/`, so that `todo token create` can mint a
token without loading FastAPI, and so that the server and the CLI can never disagree on
the rules. PyJWT (part of the `api` extra) is imported inside the functions.

A token is `{"sub": "<user uuid>", "iat": …, "exp": …}` signed with `TODO_API_SECRET`;
any JWT library holding the secret can mint one the server accepts. The algorithm is
pinned to HS256 on both sides, so `alg: none` or an algorithm swap is never honoured.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from todo_cli.errors import ConfigError, Unauthorized, ValidationError

if TYPE_CHECKING:
    from pydantic import SecretStr

ALGORITHM = "HS256"
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_SECRET_BYTES = 32
# Tolerance for clocks that disagree between the machine that minted a token and the
# server (an `iat` a few seconds in the future would otherwise be refused). It also means
# a token is accepted this long past its `exp`: README and `todo token create --help` say so.
CLOCK_SKEW = timedelta(seconds=30)
# A token cannot be revoked short of rotating the secret, so its life is bounded.
MAX_TTL = timedelta(days=365)
_TTL = re.compile(r"([1-9][0-9]{0,8})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def signing_key(secret: SecretStr | None) -> bytes:
    """The secret as signing key bytes; a missing or short secret is a configuration error."""
    if secret is None or not secret.get_secret_value():
        raise ConfigError(
            "TODO_API_SECRET is not set; set it to a random string of at least "
            f'{MIN_SECRET_BYTES} bytes (python -c "import secrets; '
            'print(secrets.token_urlsafe(48))").'
        )
    key = secret.get_secret_value().encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"TODO_API_SECRET is too short ({len(key)} bytes); it must be at least "
            f"{MIN_SECRET_BYTES} bytes."
        )
    return key


def parse_ttl(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `3600s` or `2w`: how long a new token stays valid."""
    match = _TTL.fullmatch(text.strip().lower())
    if match is None:
        raise ValidationError(
            f"--ttl {text!r} is not a duration; use a number and a unit s, m, h, d or w "
            "(for example 30d or 12h).",
            details={"field": "ttl"},
        )
    try:
        ttl = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:  # beyond what a timedelta holds: certainly beyond the maximum
        ttl = timedelta.max
    if ttl > MAX_TTL:
        raise ValidationError(
            f"--ttl {text!r} is longer than the maximum of {MAX_TTL.days} days.",
            details={"field": "ttl", "max_days": MAX_TTL.days},
        )
    return ttl


def mint_token(
    key: bytes, *, user_id: uuid.UUID, ttl: timedelta, now: datetime | None = None
) -> tuple[str, datetime]:
    """A signed token for `user_id` and the moment it expires (whole seconds, UTC)."""
    import jwt

    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = issued + ttl
    claims: dict[str, Any] = {"sub": str(user_id), "iat": issued, "exp": expires}
    return jwt.encode(claims, key, algorithm=ALGORITHM), expires


def verify_token(key: bytes, token: str) -> uuid.UUID:
    """The user id a valid token stands for; anything else is `Unauthorized`.

    The reason is kept vague on purpose: a caller learns that the token was refused,
    not which check refused it.
    """
    import jwt

    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
            leeway=CLOCK_SKEW,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The bearer token has expired; create a new one.") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("The bearer token is not valid.") from None
    subject = claims["sub"]
    try:
        return uuid.UUID(subject)
    except (TypeError, ValueError, AttributeError):
        raise Unauthorized("The bearer token is not valid.") from None


class VerifiedTokens:
    """`verify_token` with a memory of the tokens it accepted, for a server.

    Checking an HS256 signature and the claims costs a request more than its database
    round trip; a client sends the same token with every request. A token accepted once
    stays accepted until its `exp` plus the clock-skew leeway, exactly as `verify_token`
    would decide, so the answer is remembered until then, keyed by the whole token (a
    token differing in one character is checked afresh). Refusals are never remembered;
    at most `size` tokens are, the least recently used leaving first.
    """

    def __init__(self, key: bytes, *, size: int = 4096) -> None:
        from collections import OrderedDict

        self._key = key
        self._size = size
        # Each accepted token's user and the first moment it is refused again.
        self._accepted: OrderedDict[str, tuple[uuid.UUID, float]] = OrderedDict()

    def verify(self, token: str, *, now: float | None = None) -> uuid.UUID:
        import time

        moment = time.time() if now is None else now
        known = self._accepted.get(token)
        if known is not None and moment < known[1]:
            self._accepted.move_to_end(token)
            return known[0]
        self._accepted.pop(token, None)
        subject = verify_token(self._key, token)
        self._accepted[token] = (subject, _expiry(token) + CLOCK_SKEW.total_seconds())
        if len(self._accepted) > self._size:
            self._accepted.popitem(last=False)
        return subject


def _expiry(token: str) -> int:
    """The `exp` of a token `verify_token` has just accepted, as PyJWT compares it: whole
    seconds (a token is refused once `int(exp) <= now - leeway`)."""
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    return int(claims["exp"])
