"""Settings and the database URL rules of SPEC → Storage."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from todo_cli.config import DatabaseURL, get_settings, redact
from todo_cli.errors import ConfigError

NEON = (
    "postgresql://alex:AbC123dEf@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech"
    "/dbname?sslmode=require&channel_binding=require"
)


def test_pasted_neon_url_reaches_psycopg_with_its_options() -> None:
    url = DatabaseURL.parse(NEON)
    parsed = make_url(url.reveal())
    assert parsed.drivername == "postgresql+psycopg"
    assert parsed.query == {"sslmode": "require", "channel_binding": "require"}
    assert parsed.host == "ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech"
    assert parsed.password == "AbC123dEf"
    assert url.backend == "postgresql"


def test_psycopg_dialect_passes_the_tls_options_to_libpq() -> None:
    from sqlalchemy import create_engine

    engine = create_engine(DatabaseURL.parse(NEON).reveal())
    _, params = engine.dialect.create_connect_args(engine.url)
    assert params["sslmode"] == "require"
    assert params["channel_binding"] == "require"
    assert engine.dialect.driver == "psycopg"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg", "POSTGRES"])
def test_every_postgres_scheme_gets_the_psycopg3_driver(scheme: str) -> None:
    url = DatabaseURL.parse(f"{scheme}://u:p@db.example.com:6543/app")
    assert url.reveal() == "postgresql+psycopg://u:p@db.example.com:6543/app"


def test_pooler_host_means_no_prepared_statements_and_a_direct_url_for_migrations() -> None:
    url = DatabaseURL.parse(NEON)
    assert url.pooler is True
    direct = url.direct()
    assert direct.pooler is False
    assert make_url(direct.reveal()).host == "ep-cool-darkness-123456.us-east-2.aws.neon.tech"
    assert make_url(direct.reveal()).query == {"sslmode": "require", "channel_binding": "require"}


def test_plain_host_is_not_a_pooler_unless_told() -> None:
    assert DatabaseURL.parse("postgresql://u@localhost/db").pooler is False
    assert DatabaseURL.parse("postgresql://u@localhost:6432/db", pooler=True).pooler is True


def test_a_pooler_without_a_direct_endpoint_stays_pooled_for_migrations() -> None:
    """TODO_DATABASE_POOLER=1 on a host with nothing to strip: no direct URL to derive."""
    url = DatabaseURL.parse("postgresql://u@bouncer.internal:6432/db", pooler=True)
    assert url.direct().pooler is True
    assert url.direct().reveal() == url.reveal()
    assert DatabaseURL.parse("postgresql://u@localhost/db").direct().pooler is False


def test_explicit_direct_url_wins_for_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_DATABASE_URL", NEON)
    monkeypatch.setenv("TODO_DATABASE_URL_DIRECT", "postgres://admin:x@direct.example.com/db")
    settings = get_settings()
    assert settings.db_url().pooler is True
    assert make_url(settings.migration_url().reveal()).host == "direct.example.com"


def test_password_never_in_str_repr_or_masked_form() -> None:
    url = DatabaseURL.parse(NEON)
    for shown in (str(url), repr(url), url.masked, f"{url}", f"{url!r}"):
        assert "AbC123dEf" not in shown
        assert "***" in shown
    assert url.secrets == ("AbC123dEf",)


def test_percent_encoded_password_is_decoded_for_the_driver_and_masked() -> None:
    url = DatabaseURL.parse("postgresql://u:p%25ss%40w@h/db")
    assert url.secrets == ("p%ss@w",)
    assert make_url(url.reveal()).password == "p%ss@w"
    assert "p%25ss" not in url.masked
    assert redact("failed for p%ss@w and p%25ss%40w", *url.secrets) == "failed for *** and ***"


def test_todo_database_url_wins_over_database_url_over_embedded_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert get_settings().db_url().backend == "sqlite"

    monkeypatch.setenv("DATABASE_URL", "postgres://fallback@h/db")
    get_settings.cache_clear()
    assert make_url(get_settings().db_url().reveal()).username == "fallback"

    monkeypatch.setenv("TODO_DATABASE_URL", "postgres://preferred@h/db")
    get_settings.cache_clear()
    assert make_url(get_settings().db_url().reveal()).username == "preferred"


def test_embedded_default_lives_in_the_user_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert get_settings().db_url().sqlite_path == tmp_path / "todo" / "todo.db"


def test_dotenv_file_in_working_directory_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TODO_DATABASE_URL=postgres://fromdotenv@h/db\nTODO_USER=zoe\n")
    settings = get_settings()
    assert make_url(settings.db_url().reveal()).username == "fromdotenv"
    assert settings.user == "zoe"


@pytest.mark.parametrize(
    "raw",
    [
        "mysql://root:hunter2@localhost/db",
        "postgresql://u:hunter2@h:notaport/db",
        "sqlite://host:hunter2@/x.db",
        "postgresql://u:hunter2@/db",
    ],
)
def test_unusable_urls_are_config_errors_without_the_password(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DatabaseURL.parse(raw)
    assert "hunter2" not in caught.value.message
    assert caught.value.exit_code == 5


def test_invalid_setting_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_CONNECT_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="TODO_CONNECT_TIMEOUT"):
        get_settings()


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("sqlite:////abs/dir/todo.db", Path("/abs/dir/todo.db")),
        ("sqlite:///relative.db", Path("relative.db")),
    ],
)
def test_sqlite_paths(raw: str, path: Path | None) -> None:
    url = DatabaseURL.parse(raw)
    assert url.sqlite_path == path
    assert url.reveal() == raw


def test_a_leading_tilde_is_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ann")
    url = DatabaseURL.parse("sqlite:///~/todo/todo.db?timeout=3")
    assert url.sqlite_path == Path("/home/ann/todo/todo.db")
    assert url.reveal() == "sqlite:////home/ann/todo/todo.db?timeout=3"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("sqlite:todo.db", "write sqlite:///todo.db"),
        ("sqlite:", "write sqlite:///PATH"),
        ("sqlite://", "in-memory"),
        ("sqlite:///", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite+pysqlite:///:memory:?cache=shared", "in-memory"),
        ("sqlite:///~nosuchuser-4f1c/todo.db", "home directory cannot be found"),
    ],
)
def test_sqlite_urls_that_name_no_usable_file_are_one_sentence(raw: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DatabaseURL.parse(raw)
    assert words in caught.value.message
    assert caught.value.exit_code == 5 and "\n" not in caught.value.message


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://bob@h/db?password=Sup3rSecret&sslmode=require",
        "postgresql://bob@h/db?sslmode=require&PASSWORD=Sup3rSecret",
        "postgresql://bob:Sup3rSecret@h/db?password=Sup3rSecret",
    ],
)
def test_a_password_given_as_a_url_option_is_masked_too(raw: str) -> None:
    """libpq accepts ?password=…; it must be hidden like the one in the user info."""
    url = DatabaseURL.parse(raw)
    for shown in (str(url), repr(url), url.masked):
        assert "Sup3rSecret" not in shown
    assert set(url.secrets) == {"Sup3rSecret"}
    assert redact("failed: Sup3rSecret", *url.secrets) == "failed: ***"
    assert "sslmode=require" in url.masked or "sslmode" not in raw


def test_uppercase_pooler_host_still_gets_a_direct_url() -> None:
    url = DatabaseURL.parse("postgresql://u:p@EP-COOL-123-POOLER.eu.aws.neon.tech/db")
    assert url.pooler is True
    assert make_url(url.direct().reveal()).host == "EP-COOL-123.eu.aws.neon.tech"


def test_database_url_in_a_dotenv_file_is_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A project's `.env` may name that app's database; todo must not adopt it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DATABASE_URL=postgres://someone_elses_app@h/db\n")
    assert get_settings().db_url().backend == "sqlite"


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_DATABASE_URL", "")
    monkeypatch.setenv("DATABASE_URL", "postgres://fallback@h/db")
    monkeypatch.setenv("TODO_CONNECT_TIMEOUT", "")
    settings = get_settings()
    assert make_url(settings.db_url().reveal()).username == "fallback"
    assert settings.connect_timeout == 5.0


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("TODO_CONNECT_TIMEOUT", "soon", "give a number of seconds, such as 5 or 0.5"),
        ("TODO_CONNECT_TIMEOUT", "0", "give a number above 0"),
        ("TODO_CONNECT_TIMEOUT", "nan", "give a number of at most 300"),
        ("TODO_CONNECT_TIMEOUT", "1e9", "give a number of at most 300"),
        ("TODO_DATABASE_POOLER", "maybe", "give true or false (or 1 / 0, yes / no, on / off)"),
        ("TODO_DEBUG", "sometimes", "give true or false (or 1 / 0, yes / no, on / off)"),
    ],
)
def test_a_bad_setting_is_named_in_a_users_words(
    name: str, value: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pydantic wording ("Input should be a valid number…") reaches a user."""
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with pytest.raises(ConfigError) as refused:
        get_settings()
    assert refused.value.message == f"{name} is invalid: {reason}."
