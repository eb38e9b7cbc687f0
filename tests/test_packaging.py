"""A non-editable install in a fresh virtualenv runs its own migrations.

This is what an admin does: `pip install .`, then `todo db upgrade` from anywhere. It
proves that the Alembic environment ships inside the wheel.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from todo_cli import db
from todo_cli.cli.serve import DISTRIBUTION, INSTALL_HINT
from todo_cli.config import DatabaseURL

REPO = Path(__file__).resolve().parents[1]


def test_install_hints_name_the_distribution_of_pyproject() -> None:
    """`todo-cli` on PyPI is someone else's project: every hint must send users to ours."""
    import tomllib

    name = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["name"]
    assert DISTRIBUTION == name != "todo-cli"
    assert INSTALL_HINT == f'pip install "{name}[api]"'
    from todo_cli import api

    assert f'pip install "{name}[api]"' in (api.__doc__ or "")
    readme = (REPO / "README.md").read_text()
    # `pip install ".[api]"` in a checkout is a path, not a name.
    hint = r'pip install "([A-Za-z0-9][\w.-]*)\[api\]"'
    documented = {*re.findall(hint, readme)}
    for doc in (REPO / "docs").glob("*.md"):
        documented |= {*re.findall(hint, doc.read_text())}
    assert documented == {name}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(REPO)],
        check=True,
        cwd=venv,
    )
    return venv / "bin" / "todo"


def test_installed_todo_upgrades_an_empty_database_twice_from_outside_the_repo(
    installed: Path, new_database: Callable[[str], DatabaseURL], backend: str, tmp_path: Path
) -> None:
    url = new_database(backend)
    env = {**os.environ, "TODO_DATABASE_URL": url.reveal()}
    said = [
        f"Upgraded none → {db.HEAD_REVISION} on {url.masked}\n",
        f"Already at {db.HEAD_REVISION} on {url.masked}\n",
    ]
    for expected in said:
        done = subprocess.run(
            [str(installed), "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, expected, "")

    where = subprocess.run(
        [
            str(installed.parent / "python"),
            "-c",
            "import todo_cli.migrations as m; print(m.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(REPO) not in where and "site-packages" in where


def test_installed_without_the_api_extra_serve_says_how_to_get_it(
    installed: Path, tmp_path: Path
) -> None:
    """The API ships in the wheel; without the extra, `todo serve` explains, no traceback."""
    found = subprocess.run(
        [
            str(installed.parent / "python"),
            "-c",
            "import importlib.util as u; print(u.find_spec('todo_cli.api').origin)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "site-packages" in found
    done = subprocess.run(
        [str(installed), "serve"], cwd=tmp_path, capture_output=True, text=True, env=os.environ
    )
    assert done.returncode == 5 and done.stdout == ""
    assert done.stderr == (
        "Error: This needs the api extra (fastapi is not installed); "
        'install it with: pip install "todo-shared-tasks[api]"\n'
    )


def test_installed_todo_works_on_a_fresh_machine(installed: Path, tmp_path: Path) -> None:
    """README's first command: `pip install . && todo add "Buy milk" && todo list`."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    # TODO_DAEMON=0 (conftest) only keeps this install from leaving a warm server behind.
    allowed = ("TODO_REQUIRE_POSTGRES", "TODO_DAEMON")
    assert not any(name.startswith("TODO_") and name not in allowed for name in env)
    added = subprocess.run(
        [str(installed), "add", "Buy milk"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert (added.returncode, added.stdout, added.stderr) == (0, "Added task 1: Buy milk\n", "")
    listed = subprocess.run(
        [str(installed), "list"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert (listed.returncode, listed.stderr) == (0, "")
    assert listed.stdout.splitlines()[1].split()[:5] == ["1", "[", "]", "Buy", "milk"]
    assert (tmp_path / "data" / "todo" / "todo.db").is_file()
