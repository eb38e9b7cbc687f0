"""The README's tour is real output: replaying its commands gives exactly what it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from todo_cli.cli import app
from todo_cli.config import get_settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def tour() -> list[tuple[list[str], str]]:
    """The first console block of "A short tour", as (arguments, expected stdout) pairs."""
    section = README.split("## A short tour", 1)[1]
    block = re.search(r"```console\n(.+?)```", section, re.DOTALL)
    assert block is not None
    steps: list[tuple[list[str], str]] = []
    for line in block.group(1).splitlines(keepends=True):
        if line.startswith("$ todo "):
            steps.append((shlex.split(line[len("$ todo ") :]), ""))
        else:
            args, expected = steps[-1]
            steps[-1] = (args, expected + line)
    return steps


def test_the_tour_is_five_commands() -> None:
    assert len(tour()) == 5


def test_replaying_the_tour_on_a_fresh_machine_gives_its_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGNAME", "alex")
    runner = CliRunner()
    for args, expected in tour():
        get_settings.cache_clear()
        result = runner.invoke(app, args)
        assert (result.exit_code, result.stderr) == (0, ""), args
        assert result.stdout == expected, args
