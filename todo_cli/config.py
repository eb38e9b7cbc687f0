"""Settings from the environment (and `.env`), and the database URL rules of SPEC → Storage.

Nothing here runs at import time; `get_settings()` reads the environment once and caches
the result (tests call `get_settings.cache_clear()`). The database URL is held in a
`DatabaseURL`, whose `str()` and `repr()` mask the password, so that the secret can only
reach the driver, never a message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from todo_cli.errors import ConfigError

APP_NAME = "todo"
_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}
MASK = "***"
FALLBACK_URL_VARIABLE = "DATABASE_URL"
# libpq also takes the password as a URL option: ?password=… (or &password=…).
_QUERY_PASSWORD = re.compile(r"((?:^|[?&])password=)([^&#]*)", re.IGNORECASE)
_MASKED_OPTION = rf"\g<1>{MASK}"


class Settings(BaseSettings):
    """Every `TODO_*` variable; `.env.example` and the README document each one."""

    model_config = SettingsConfigDict(
        env_prefix="TODO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,  # TODO_X= (empty) means unset, not an invalid value
    )

    database_url: SecretStr | None = Field(
        default=None,
        description="Database URL; unset means DATABASE_URL, then the embedded SQLite file.",
    )
    database_url_direct: SecretStr | None = Field(
        default=None,
        description="Direct (unpooled) URL for migrations; derived from the pooled one if unset.",
    )
    database_pooler: bool | None = Field(
        default=None,
        description="Whether a transaction-mode pooler sits in front of PostgreSQL; "
        "unset means: yes when the host name contains '-pooler' (Neon).",
    )
    connect_timeout: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Seconds allowed for connecting, retries with backoff included.",
    )
    user: str | None = Field(default=None, description="Acting user (name or UUID).")
    tz: str | None = Field(
        default=None,
        description="IANA time zone the CLI reads and shows dates in (default: the OS's).",
    )
    debug: bool = Field(default=False, description="Show tracebacks for unexpected errors.")
    api_secret: SecretStr | None = Field(
        default=None, description="HS256 signing secret for API tokens (at least 32 bytes)."
    )

    @model_validator(mode="after")
    def _fall_back_to_database_url(self) -> Settings:
        """DATABASE_URL counts from the real environment only, never from `.env`.

        It is the platforms' convention (Heroku, Render, Neon's integrations), but a
        `.env` in whatever project you stand in may hold that app's database; reading it
        would point `todo db upgrade` at someone else's schema.
        """
        if self.database_url is None and os.environ.get(FALLBACK_URL_VARIABLE, "").strip():
            self.database_url = SecretStr(os.environ[FALLBACK_URL_VARIABLE].strip())
        return self

    def db_url(self) -> DatabaseURL:
        """The URL the application connects with (pooled, on Neon)."""
        if self.database_url is None:
            return DatabaseURL.parse(default_sqlite_url(), pooler=False)
        return DatabaseURL.parse(self.database_url.get_secret_value(), pooler=self.database_pooler)

    def migration_url(self) -> DatabaseURL:
        """The URL migrations run on: the direct endpoint, never a transaction pooler."""
        if self.database_url_direct is not None:
            return DatabaseURL.parse(self.database_url_direct.get_secret_value(), pooler=False)
        return self.db_url().direct()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        wording = _SETTING_ERRORS.get(first["type"])
        reason = wording.format(**first.get("ctx", {})) if wording else first["msg"]
        raise ConfigError(f"TODO_{field.upper()} is invalid: {reason}.") from None


# Pydantic's wording of a bad setting, in a user's words (the setting's value is the
# user's own text, so the sentence says what to write instead).
_SETTING_ERRORS = {
    "float_parsing": "give a number of seconds, such as 5 or 0.5",
    "float_type": "give a number of seconds, such as 5 or 0.5",
    "finite_number": "give a number of seconds, such as 5 or 0.5",
    "bool_parsing": "give true or false (or 1 / 0, yes / no, on / off)",
    "bool_type": "give true or false (or 1 / 0, yes / no, on / off)",
    "greater_than": "give a number above {gt:g}",
    "greater_than_equal": "give a number of {ge:g} or more",
    "less_than_equal": "give a number of at most {le:g}",
    "less_than": "give a number below {lt:g}",
}


def known_secrets() -> tuple[str, ...]:
    """Every secret this process was given: the database passwords and the API secret.

    For scrubbing text that may quote them (a debug traceback, a server log line). Read
    from the raw environment too, since the settings themselves may be what failed.
    """
    found: list[str] = []
    try:
        settings = get_settings()
        found += settings.db_url().secrets + settings.migration_url().secrets
        if settings.api_secret is not None:
            found.append(settings.api_secret.get_secret_value())
    except Exception:  # a broken setting must not stop the scrubbing of the others
        pass
    for variable in ("TODO_DATABASE_URL", "TODO_DATABASE_URL_DIRECT", FALLBACK_URL_VARIABLE):
        raw = os.environ.get(variable, "")
        found += [match.group(2) for match in _QUERY_PASSWORD.finditer(raw)]
        try:
            found.append(urlsplit(raw).password or "")
        except ValueError:  # too malformed to parse: take everything between :// and @
            found.append(raw.partition("://")[2].rpartition("@")[0].partition(":")[2])
    found.append(os.environ.get("TODO_API_SECRET", ""))
    return tuple(dict.fromkeys(unquote(secret) for secret in found if secret))


SettingOrigin = Literal["environment", "env_file", "default"]


@dataclass(frozen=True)
class SettingSource:
    """Where one setting's value came from (`todo config`)."""

    origin: SettingOrigin
    variable: str  # the variable that set it, or for a default the one that would


def setting_sources() -> dict[str, SettingSource]:
    """Each setting's origin, with the precedence `Settings` itself applies.

    The environment wins over `.env`, which wins over the default; of alternative names
    (`TODO_DATABASE_URL`, then `DATABASE_URL`) the first one present wins. Names match
    regardless of case, as in `Settings`. The sources are pydantic-settings' own, so this
    cannot drift from how the values were actually read.
    """
    from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource

    layers: tuple[tuple[SettingOrigin, Mapping[str, str | None]], ...] = (
        ("environment", EnvSettingsSource(Settings).env_vars),
        ("env_file", DotEnvSettingsSource(Settings).env_vars),
    )
    sources: dict[str, SettingSource] = {}
    for name in Settings.model_fields:
        variable = f"TODO_{name.upper()}"
        sources[name] = SettingSource("default", variable)
        for origin, values in layers:
            if values.get(variable.lower()):
                sources[name] = SettingSource(origin, variable)
                break
    if (
        sources["database_url"].origin == "default"
        and os.environ.get(FALLBACK_URL_VARIABLE, "").strip()
    ):
        sources["database_url"] = SettingSource("environment", FALLBACK_URL_VARIABLE)
    return sources


def default_sqlite_url() -> str:
    """The embedded database: a file in the platform's user data directory."""
    from platformdirs import user_data_path

    return f"sqlite:///{user_data_path(APP_NAME, appauthor=False) / 'todo.db'}"


@dataclass(frozen=True, repr=False)
class DatabaseURL:
    """A normalised database URL whose password never leaves through `str`/`repr`."""

    _url: str
    backend: Literal["sqlite", "postgresql"]
    pooler: bool

    @classmethod
    def parse(cls, raw: str, *, pooler: bool | None = None) -> DatabaseURL:
        """Normalise a pasted URL: plain `postgres(ql)://` gets the psycopg 3 driver.

        Query options (`sslmode`, `channel_binding`, …) are kept verbatim; they reach
        libpq through the driver.
        """
        raw = raw.strip()
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ConfigError(
                f"The database URL {_mask_unparsed(raw)!r} is not a valid URL."
            ) from None
        scheme = parts.scheme.lower()
        if scheme in _SQLITE_SCHEMES:
            return cls._sqlite(raw, parts.netloc)
        if scheme in _POSTGRES_SCHEMES:
            if not parts.hostname and "host=" not in parts.query:
                raise ConfigError(
                    f"The database URL {_mask(raw)!r} names no host; "
                    "expected postgresql://USER:PASSWORD@HOST/DBNAME."
                )
            url = urlunsplit(parts._replace(scheme="postgresql+psycopg"))
            if pooler is None:
                pooler = "-pooler" in (parts.hostname or "")
            return cls(url, "postgresql", pooler)
        raise ConfigError(
            f"The database URL {_mask(raw)!r} is not supported; "
            "use postgresql://… or sqlite:///PATH."
        )

    @classmethod
    def _sqlite(cls, raw: str, netloc: str) -> DatabaseURL:
        """A SQLite URL names a file: `sqlite:///relative.db` or `sqlite:////abs.db`.

        A leading `~` is the home directory, as in a shell: people paste paths from one,
        and a literal `~` directory in the working directory is never what they meant.
        An in-memory database is refused: every command is a process of its own, so its
        tasks would vanish the moment the command that added them ends.
        """
        _, separator, rest = raw.partition("://")
        if not separator:
            path = raw.partition(":")[2]
            raise ConfigError(
                f"The SQLite URL {_mask(raw)!r} lacks the '//' after 'sqlite:'; "
                f"write sqlite:///{path or 'PATH'} (three slashes, then the file's path)."
            )
        if netloc:
            raise ConfigError(
                f"The SQLite URL {_mask(raw)!r} has a host part; "
                "use sqlite:///relative/path.db or sqlite:////absolute/path.db."
            )
        location, question, query = rest.partition("?")
        # sqlite:///relative.db → "/relative.db"; sqlite:////abs.db → "//abs.db"
        path = location[1:] if location.startswith("/") else location
        if not path or path == ":memory:":
            raise ConfigError(
                f"The SQLite URL {_mask(raw)!r} is an in-memory database, which would vanish "
                "when the command ends; name a file: sqlite:///todo.db or "
                "sqlite:////absolute/path/todo.db."
            )
        if path.startswith("~"):
            try:
                path = str(Path(path).expanduser())
            except RuntimeError:  # ~ with no home directory, or ~name of no such user
                raise ConfigError(
                    f"The SQLite URL {_mask(raw)!r} starts its path with '~', but that home "
                    "directory cannot be found; give the full path."
                ) from None
        # Not through urlunsplit: it would fold the '//' of an absolute path.
        return cls(f"sqlite:///{path}{question}{query}", "sqlite", False)

    def reveal(self) -> str:
        """The real URL, for the driver only."""
        return self._url

    @cached_property
    def masked(self) -> str:
        return _mask(self._url)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every password the URL carries, for `redact`."""
        parts = urlsplit(self._url)
        found = [parts.password or ""]
        found += [match.group(2) for match in _QUERY_PASSWORD.finditer(parts.query)]
        return tuple(unquote(secret) for secret in found if secret)

    @property
    def sqlite_path(self) -> Path | None:
        """The database file (None for PostgreSQL; `parse` refuses in-memory SQLite)."""
        if self.backend != "sqlite":
            return None
        path = urlsplit(self._url).path
        # sqlite:///relative.db → "/relative.db"; sqlite:////abs.db → "//abs.db"
        return Path(path[1:])

    def direct(self) -> DatabaseURL:
        """The same database without Neon's pooler (`-pooler` removed from the host).

        A pooler whose host name says nothing (TODO_DATABASE_POOLER=1 on PgBouncer)
        has no direct endpoint to derive: the URL stays a pooled one, so that nothing
        run on it, migrations included, prepares statements.
        """
        if self.backend != "postgresql":
            return self
        parts = urlsplit(self._url)
        user, at, host = parts.netloc.rpartition("@")
        direct_host = re.sub("-pooler", "", host, count=1, flags=re.IGNORECASE)
        if direct_host == host:
            return self
        netloc = user + at + direct_host
        return DatabaseURL(urlunsplit(parts._replace(netloc=netloc)), "postgresql", False)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"DatabaseURL({self.masked!r})"


def _mask(raw: str) -> str:
    parts = urlsplit(raw)
    query = _QUERY_PASSWORD.sub(_MASKED_OPTION, parts.query)
    if parts.password is None and query == parts.query:
        return raw
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hostinfo}"
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _mask_unparsed(raw: str) -> str:
    """Best-effort masking for a URL too malformed to parse: drop all user info."""
    scheme, sep, rest = raw.partition("://")
    if "@" in rest:
        rest = f"{MASK}@{rest.rpartition('@')[2]}"
    return f"{scheme}{sep}{_QUERY_PASSWORD.sub(_MASKED_OPTION, rest)}"


def redact(text: str, *secrets: str | None) -> str:
    """Remove every given secret (raw and percent-encoded forms) from a message."""
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                text = text.replace(form, MASK)
    return text
