"""The README's promises that a test can hold it to."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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


# --- the README's shell blocks, run as a reader pastes them ---------------------------------
# Against the installed `todo`, in a throwaway HOME and data directory, so that what the
# README shows is what a fresh machine does. (The install line itself is run by
# tests/test_packaging.py; the Neon block needs Neon.)

TODO_BIN = Path(sys.executable).parent


def fresh_machine(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "LOGNAME": "alex",
        "USER": "alex",
        "NO_COLOR": "1",
        "PATH": f"{TODO_BIN}{os.pathsep}{os.environ['PATH']}",
    }


def sh_block(containing: str) -> str:
    """The one ```sh block of the README that contains `containing`."""
    blocks: list[str] = [
        b for b in re.findall(r"```sh\n(.+?)```", README, re.DOTALL) if containing in b
    ]
    assert len(blocks) == 1, containing
    return blocks[0]


def console_blocks() -> list[str]:
    section = README.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```console\n(.+?)```", section, re.DOTALL)


def run_sh(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`script` in bash, stopping at the first failing command (as a reader would notice)."""
    return subprocess.run(
        ["bash", "-e", "-c", script],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tour_and_the_scripting_examples_run_on_a_fresh_machine(tmp_path: Path) -> None:
    env = fresh_machine(tmp_path)
    for block in console_blocks():
        for command, expected in re.findall(r"^\$ (.+)\n((?:(?!\$ ).*\n)*)", block, re.MULTILINE):
            done = run_sh(command, env, tmp_path)
            assert (done.returncode, done.stderr) == (0, ""), command
            # `todo show` prints an id and times of its own, on this machine's clock (the
            # zone's abbreviation after them): those are the only free parts.
            pattern = re.escape(expected)
            pattern = re.sub(
                r"[0-9a-f]{8}(?:\\-[0-9a-f]{4}){3}\\-[0-9a-f]{12}", "[0-9a-f-]{36}", pattern
            )
            pattern = re.sub(
                r"2026\\-11\\-27\\ 06:46\\ UTC",
                r"\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d [A-Za-z0-9+-]+",
                pattern,
            )
            assert re.fullmatch(pattern, done.stdout), (command, done.stdout)
    assert (Path(env["XDG_DATA_HOME"]) / "todo" / "todo.db").is_file()

    scripting = sh_block("xargs -r todo done")
    done = run_sh(scripting, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2 Call mom",  # the tour left task 2 pending
        "1",  # and task 1 done
        "Completed task 3: Water the plants",
        "Completed task 2: Call mom",
        "NOT_FOUND",
    ]
    assert json.loads(run_sh("todo list --json", env, tmp_path).stdout) == []


def test_the_api_example_works_pasted_into_a_fresh_shell(tmp_path: Path) -> None:
    from tests.conftest import API_SECRET
    from tests.processes import TodoServer
    from tests.test_cli_serve import free_port

    env = {**fresh_machine(tmp_path), "TODO_API_SECRET": API_SECRET}
    port = free_port()
    server = TodoServer(port, env, tmp_path)
    try:
        server.wait_until_serving()
        example = sh_block("TASK_ID=").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        done = run_sh(example, env, tmp_path)
        assert done.returncode == 0, done.stderr + server.log
    finally:
        server.stop()
    created, bodies = done.stdout.split("\n", 1)
    assert created.startswith("Created user alice (")
    decoder = json.JSONDecoder()
    listed, end = decoder.raw_decode(bodies)  # curl adds no newline between the bodies
    task, _ = decoder.raw_decode(bodies, end)
    assert [task["title"] for task in listed] == ["Buy milk"]
    assert (task["title"], task["is_completed"], task["version"]) == ("Buy milk", True, 2)
