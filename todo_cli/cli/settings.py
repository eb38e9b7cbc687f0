"""`todo config`: the effective settings, and where each one came from."""

from __future__ import annotations

from typing import Any

from todo_cli.cli._common import JsonOption

_ORIGIN_LABELS = {"environment": "environment", "env_file": ".env file", "default": "default"}


def show_config(json: JsonOption = False) -> None:
    """Show the effective settings and where each came from; secrets are masked.

    Sources, strongest first: the environment, a .env file in the current directory,
    the default. Nothing connects to the database.

    Example: todo config --json
    """
    from pydantic import SecretStr

    from todo_cli import output
    from todo_cli.cli._common import default_user
    from todo_cli.config import MASK, Settings, get_settings, setting_sources

    settings = get_settings()
    sources = setting_sources()
    url = settings.db_url()
    # Settings whose default is derived: show what is actually used, not "unset".
    effective: dict[str, Any] = {
        "database_url": url.masked,
        "database_url_direct": settings.migration_url().masked,
        "database_pooler": url.pooler,
        "user": settings.user if settings.user else default_user(settings),
    }
    notes = {
        "database_url": "embedded SQLite",
        "database_url_direct": "derived from the database URL",
        "database_pooler": "auto: host name contains -pooler",
        "user": "login name" if url.backend == "sqlite" else "none: required on PostgreSQL",
    }
    report: dict[str, dict[str, Any]] = {}
    for name in Settings.model_fields:
        value = effective[name] if name in effective else getattr(settings, name)
        if isinstance(value, SecretStr):
            value = MASK
        source = sources[name]
        report[name] = {"value": value, "source": source.origin, "variable": source.variable}

    if json:
        output.print_json(report)
        return
    rows = []
    for name, entry in report.items():
        origin = _ORIGIN_LABELS[entry["source"]]
        if entry["source"] == "default" and name in notes:
            origin = f"default ({notes[name]})"
        elif entry["source"] != "default":
            origin = f"{origin} ({entry['variable']})"
        rows.append((f"TODO_{name.upper()}", _shown(entry["value"]), origin))
    output.print_rows(("setting", "value", "source"), rows)


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
