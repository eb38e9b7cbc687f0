"""`todo_cli.tokens`: the one place that mints and checks bearer tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import SecretStr

from todo_cli import tokens
from todo_cli.errors import ConfigError, Unauthorized, ValidationError

KEY = b"k" * 32


def test_signing_key_needs_at_least_32_bytes() -> None:
    with pytest.raises(ConfigError, match=r"TODO_API_SECRET is not set"):
        tokens.signing_key(None)
    with pytest.raises(ConfigError, match=r"TODO_API_SECRET is not set"):
        tokens.signing_key(SecretStr(""))
    with pytest.raises(ConfigError, match=r"too short \(31 bytes\)"):
        tokens.signing_key(SecretStr("x" * 31))
    assert tokens.signing_key(SecretStr("é" * 16)) == ("é" * 16).encode()  # bytes, not chars


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("3600s", timedelta(seconds=3600)),
        ("2w", timedelta(weeks=2)),
        (" 7D ", timedelta(days=7)),
        ("365d", timedelta(days=365)),
    ],
)
def test_parse_ttl(text: str, expected: timedelta) -> None:
    assert tokens.parse_ttl(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "0d", "-1d", "1.5h", "1y", "366d", "53w"])
def test_parse_ttl_refuses_what_is_not_a_bounded_duration(text: str) -> None:
    with pytest.raises(ValidationError):
        tokens.parse_ttl(text)


def test_mint_then_verify() -> None:
    user_id = uuid.uuid4()
    now = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    token, expires_at = tokens.mint_token(KEY, user_id=user_id, ttl=timedelta(days=30), now=now)
    assert expires_at == datetime(2030, 1, 31, 12, 0, 0, tzinfo=UTC)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    claims = jwt.decode(
        token, KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims == {
        "sub": str(user_id),
        "iat": int(now.replace(microsecond=0).timestamp()),
        "exp": int(expires_at.timestamp()),
    }

    fresh, _ = tokens.mint_token(KEY, user_id=user_id, ttl=timedelta(minutes=5))
    assert tokens.verify_token(KEY, fresh) == user_id


def test_verify_refuses_expired_and_foreign_tokens() -> None:
    user_id = uuid.uuid4()
    past = datetime.now(UTC) - timedelta(days=2)
    expired, _ = tokens.mint_token(KEY, user_id=user_id, ttl=timedelta(days=1), now=past)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify_token(KEY, expired)
    other, _ = tokens.mint_token(b"o" * 32, user_id=user_id, ttl=timedelta(days=1))
    with pytest.raises(Unauthorized, match="not valid"):
        tokens.verify_token(KEY, other)
    with pytest.raises(Unauthorized):
        tokens.verify_token(KEY, "")


def test_importing_tokens_loads_neither_fastapi_nor_jwt() -> None:
    import subprocess
    import sys

    code = "import sys, todo_cli.tokens; print('fastapi' in sys.modules, 'jwt' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_clocks_may_disagree_by_a_few_seconds_but_not_more() -> None:
    """A token minted on a machine whose clock runs ahead is still accepted; an expiry
    further back than the tolerance is not."""
    user_id = uuid.uuid4()
    ahead = datetime.now(UTC) + timedelta(seconds=10)
    early, _ = tokens.mint_token(KEY, user_id=user_id, ttl=timedelta(minutes=5), now=ahead)
    assert tokens.verify_token(KEY, early) == user_id
    just_expired, _ = tokens.mint_token(
        KEY, user_id=user_id, ttl=timedelta(minutes=1), now=datetime.now(UTC) - timedelta(minutes=2)
    )
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify_token(KEY, just_expired)


def test_a_1s_token_is_refused_once_its_leeway_is_over() -> None:
    """`--ttl 1s` is one second plus the clock-skew leeway, and not a moment longer.

    Tokens are minted in the past instead of slept on: one whose leeway ran out two
    seconds ago, and one with five seconds of leeway left.
    """
    user_id = uuid.uuid4()
    ttl = tokens.parse_ttl("1s")
    now = datetime.now(UTC)
    over, _ = tokens.mint_token(
        KEY, user_id=user_id, ttl=ttl, now=now - ttl - tokens.CLOCK_SKEW - timedelta(seconds=2)
    )
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify_token(KEY, over)
    within, _ = tokens.mint_token(
        KEY, user_id=user_id, ttl=ttl, now=now - ttl - tokens.CLOCK_SKEW + timedelta(seconds=5)
    )
    assert tokens.verify_token(KEY, within) == user_id


def test_the_leeway_is_documented_where_tokens_are_made() -> None:
    from pathlib import Path

    from tests.cli import invoke

    seconds = int(tokens.CLOCK_SKEW.total_seconds())
    code, out, _ = invoke("token", "create", "--help")
    assert code == 0
    assert f"The server accepts it for {seconds} seconds more" in " ".join(out.split())
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    authentication = readme.split("## Authentication", 1)[1].split("\n## ", 1)[0]
    assert f"{seconds} seconds past its expiry" in " ".join(authentication.split())


# --- the server's memory of accepted tokens ---------------------------------------------------


def test_a_remembered_token_is_accepted_exactly_as_long_as_verify_token_would() -> None:
    import time

    from todo_cli.tokens import CLOCK_SKEW, VerifiedTokens, mint_token

    key = b"k" * 32
    user = uuid.uuid4()
    # Expired 25 s ago: still inside the 30 s leeway for five more seconds.
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    token, expires = mint_token(key, user_id=user, ttl=timedelta(hours=1, seconds=-25), now=issued)
    verified = VerifiedTokens(key)
    assert verified.verify(token) == user
    deadline = (expires + CLOCK_SKEW).timestamp()  # PyJWT refuses from this moment on
    assert verified.verify(token, now=deadline - 0.001) == user  # remembered until then
    with pytest.raises(Unauthorized):
        verified.verify(token[:-2] + "xx")  # another token is never taken for a known one
    time.sleep(max(0.0, deadline - time.time()) + 1.1)
    with pytest.raises(Unauthorized, match="expired"):
        verified.verify(token)  # past exp + leeway: checked again, and refused


def test_refusals_are_not_remembered_and_the_memory_is_bounded() -> None:
    from todo_cli.tokens import VerifiedTokens, mint_token

    key = b"k" * 32
    verified = VerifiedTokens(key, size=2)
    with pytest.raises(Unauthorized):
        verified.verify("not-a-token")
    tokens = [mint_token(key, user_id=uuid.uuid4(), ttl=timedelta(hours=1))[0] for _ in range(3)]
    for token in tokens:
        verified.verify(token)
    assert list(verified._accepted) == tokens[1:]
