"""The README's promises that a test can hold it to."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    command = re.search(r"^TEST_COMMAND='(.+)'$", ci, re.MULTILINE)
    assert command is not None
    first_blocks = re.findall(r"```sh\n(.+?)\n```", README, re.DOTALL)[:2]
    assert first_blocks[1] == command.group(1)


def test_every_setting_is_documented_in_readme_and_env_example() -> None:
    from todo_cli.config import Settings

    example = (REPO / ".env.example").read_text()
    for field in Settings.model_fields:
        name = f"TODO_{field.upper()}"
        assert f"`{name}`" in README, name
        assert name in example, name
