"""Task attributes over HTTP (SPEC → Task attributes, Dates and time zones): the same
fields as the CLI's `--json`, the same rules, ISO dates read in `?tz=` or the user's zone,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from tests.test_api_routes import assert_error, create, stored, task_url, tasks_url
from todo_cli import service
from todo_cli.models import User


def test_create_takes_every_attribute_and_answers_it_as_the_cli_json(
    api_client: TestClient, alice: User, session_factory: Callable[[], Session]
) -> None:
    task = create(
        api_client,
        alice,
        "Pay rent",
        due="2026-12-04",
        wait="2026-12-01T08:00:00+01:00",
        priority="H",
        project="house.garden",
        tags=["home", "bills", "home"],
    )
    assert task["due_date"] == "2026-12-04"
    # A day ends where the user is; alice has no zone, so UTC.
    assert task["due"] == "2026-12-04T23:59:59.999999Z"
    assert task["wait"] == "2026-12-01T07:00:00.000000Z"
    assert (task["priority"], task["project"], task["tags"]) == (
        "H",
        "house.garden",
        ["bills", "home"],
    )
    assert task == stored(session_factory, alice, task["id"])


def test_a_day_is_read_in_tz_else_the_users_zone(
    api_client: TestClient, alice: User, session_factory: Callable[[], Session]
) -> None:
    paris = api_client.post(
        tasks_url(alice) + "?tz=Europe/Paris", json={"title": "x", "due": "2026-12-04"}
    ).json()
    assert paris["due"] == "2026-12-04T22:59:59.999999Z"
    with session_factory() as session:
        service.set_time_zone(session, user_id=alice.id, name="America/New_York")
    stored_zone = create(api_client, alice, "y", due="2026-12-04")
    assert stored_zone["due"] == "2026-12-05T04:59:59.999999Z"
    # An instant is an instant, whatever the zone.
    instant = create(api_client, alice, "z", due="2026-12-04T09:00:00Z")
    assert (instant["due"], instant["due_date"]) == ("2026-12-04T09:00:00.000000Z", None)


def test_an_unknown_zone_is_a_400(api_client: TestClient, alice: User) -> None:
    response = api_client.post(tasks_url(alice) + "?tz=Mars/Base", json={"title": "x"})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "Mars/Base" in body["error"]["message"]


def test_patch_changes_and_clears_attributes_and_put_resets_them(
    api_client: TestClient, alice: User
) -> None:
    task = create(api_client, alice, "Pay rent", due="2026-12-04", priority="H", tags=["home"])
    url = task_url(alice, task["id"])
    patched = api_client.patch(url, json={"priority": None, "tags": ["x"], "project": "p"})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["priority"], body["tags"], body["project"], body["due_date"]) == (
        None,
        ["x"],
        "p",
        "2026-12-04",
    )
    assert patched.headers["Todo-Change"]
    replaced = api_client.put(url, json={"title": "Pay rent"}).json()
    assert (replaced["due"], replaced["tags"], replaced["project"]) == (None, [], None)


def test_bad_attributes_are_400_with_the_services_words(
    api_client: TestClient, alice: User
) -> None:
    for body, words in [
        ({"due": "fri"}, "date-time with its offset"),
        ({"due": "2026-12-04T09:00"}, "offset"),
        ({"due": "2026-02-30"}, "has 28 days"),
        ({"priority": "h"}, "priority"),
        ({"tags": ["+44"]}, "is not a tag"),
        ({"project": "a..b"}, "is not a project"),
        ({"tags": None}, "list of tags"),
    ]:
        task = create(api_client, alice)
        response = api_client.patch(task_url(alice, task["id"]), json=body)
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert words in error["error"]["message"], (body, error)
    response = api_client.post(tasks_url(alice), json={"title": "x", "due": "2026-13-01"})
    assert_error(response, 400, "VALIDATION_ERROR")


_ISO = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(9999, 12, 29),
    timezones=st.just(UTC),
).map(lambda moment: moment.isoformat().replace("+00:00", "Z"))
_OFFSET = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timedelta(minutes=m))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moment=_ISO, offset=_OFFSET, day=st.dates(min_value=datetime(1900, 1, 2).date()))
def test_due_round_trips_through_the_api_and_json(
    api_client: TestClient, alice: User, moment: str, offset: timedelta, day: date
) -> None:
    """A due written in any offset comes back as the same instant, in UTC, on both backends."""
    instant = datetime.fromisoformat(moment).astimezone(UTC)
    local = instant.astimezone(timezone(offset))
    sent = local.isoformat()
    task = create(api_client, alice, "t", due=sent)
    assert datetime.fromisoformat(task["due"]) == instant
    got = api_client.get(task_url(alice, task["id"])).json()
    assert got["due"] == task["due"] and got["due_date"] is None
    by_day = create(api_client, alice, "d", due=str(day))
    assert by_day["due_date"] == str(day)
    assert datetime.fromisoformat(by_day["due"]).astimezone(ZoneInfo("UTC")).date() == day
