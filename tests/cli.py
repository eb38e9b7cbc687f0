"""The `todo` app run in-process (Typer's CliRunner), as the CLI test modules drive it."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from todo_cli.cli import app
from todo_cli.config import get_settings

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `todo ARGS`, with the settings read afresh."""
    get_settings.cache_clear()
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def as_json(*args: str) -> Any:
    """The JSON a successful `todo ARGS --json` prints."""
    code, out, err = invoke(*args, "--json")
    assert (code, err) == (0, ""), err
    return json.loads(out)
