"""Everything the CLI prints: Rich for people, JSON for machines.

Rich is imported only by the functions that draw with it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from todo_cli.errors import TodoError


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False))
    sys.stdout.write("\n")


def print_error(error: TodoError, *, as_json: bool = False) -> None:
    """One sentence on stderr; under `--json`, the API's error body instead."""
    if as_json:
        sys.stderr.write(json.dumps(error.to_body(), ensure_ascii=False) + "\n")
    else:
        sys.stderr.write(f"Error: {error.message}\n")


def print_message(text: str) -> None:
    sys.stdout.write(text + "\n")


def print_unexpected(exc: BaseException) -> None:
    """A bug: one sentence, and how to see more."""
    sys.stderr.write(
        f"Error: unexpected {type(exc).__name__}; run again with TODO_DEBUG=1 for details.\n"
    )
