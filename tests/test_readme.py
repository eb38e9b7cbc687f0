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


def test_every_test_docs_reliability_cites_exists() -> None:
    """docs/reliability.md names the test behind each guarantee: each must exist."""
    doc = (REPO / "docs" / "reliability.md").read_text()
    assert "docs/reliability.md" in README
    cited = re.findall(r"`(test_\w+\.py)(?:::(test_\w+))?`|`(test_\w+)`", doc)
    modules: dict[str, str] = {}
    last_module = ""
    missing: list[str] = []
    for module, function, bare in cited:
        if module:
            path = REPO / "tests" / module
            if not path.exists():
                missing.append(module)
                continue
            last_module = module
            modules[module] = path.read_text()
        name = function or bare
        # A bare name belongs to the module cited last; `…` elisions are not checked.
        if name and f"def {name}(" not in modules.get(last_module, ""):
            missing.append(f"{last_module}::{name}")
    assert len(cited) > 40 and missing == [], missing
