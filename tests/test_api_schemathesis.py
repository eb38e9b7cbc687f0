"""schemathesis against the ASGI app: the server does what its OpenAPI document says.

All of schemathesis's default checks run (server errors, status codes, content types,
headers, response schemas, positive data accepted, negative data rejected, unsupported
methods, missing headers…), over the examples, coverage and fuzzing phases for every
operation, then a stateful run that follows the document's links (create → read, replace,
update, delete). SQLite gets the thorough run; PostgreSQL a shorter one. Requests carry a
valid bearer token; the `ignored_auth` check resends them without it, and with a wrong
one, and expects 401.

The schema is loaded from the document at import time (building the document needs no
database): `schemathesis.pytest.from_fixture` does not work with pytest 9.2 (it reads a
node attribute pytest removed). The app under test, on a real database, comes from a
fixture; `send` hands it to schemathesis for the request and for the probes its checks
send on their own (`ignored_auth` resends the request without the token).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from sqlmodel import Session, delete

from todo_cli import db, service, tokens
from todo_cli.api import create_app
from todo_cli.config import DatabaseURL, Settings
from todo_cli.models import Task, TaskCreate, User

# The user and task that path parameters are pinned to: random ids would only ever meet
# 404 and never exercise a success. They are created by the fixtures below.
USER_ID = uuid.uuid4()
TASK_ID = uuid.uuid4()
SECRET = "the-schemathesis-secret-0123456789abcdef"
DOCUMENT = create_app(
    Settings(_env_file=None, database_url="sqlite:///unused.db", api_secret=SECRET)
).openapi()


# A valid token of that user, given to schemathesis as the credentials of the document's
# bearer scheme: it sends it with valid requests, and leaves it out where it tests auth.
TOKEN, _ = tokens.mint_token(SECRET.encode(), user_id=USER_ID, ttl=timedelta(days=1))


# Any string is schema-valid for ?filter= and ?sort=, but only the filter language and
# sort keys are accepted (a 400 with details.position otherwise, which
# tests/test_query_api.py covers): pinned to valid ones. (?tz= is an enum of the zones.)
PINNED_QUERY = {
    "filter": "(+home or project:house) -errand due.by:fri",
    "sort": "due,-priority",
}


def _schema(max_examples: int, *, pin_task: bool) -> Any:
    parameters = {
        "path.user_id": str(USER_ID),
        # schemathesis 4.32's coverage phase sends a type-mutated optional header (If-Match:
        # 0) in cases it labels positive, then reports the 400 as "valid data rejected".
        # If-Match is pinned to "*"; tests/test_api_routes.py covers malformed and stale
        # tags (400, 412).
        "header.If-Match": "*",
        **{f"query.{name}": value for name, value in PINNED_QUERY.items()},
    }
    if pin_task:
        parameters["path.task_id"] = str(TASK_ID)
    config = schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": max_examples},
            "parameters": parameters,
            "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
            # An import's body is a file: a schema can say it is text (or a JSON array),
            # not that each of its records is a valid task, so a well-formed body may
            # still be a 400 naming a record (tests/test_transfer_api.py covers both).
            "operations": [
                {
                    "include-path": "/users/{user_id}/tasks:import",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404"]
                        }
                    },
                }
            ],
        }
    )
    return schemathesis.openapi.from_dict(DOCUMENT, config=config)


# An undo succeeds once per change and is 409 after that, so whether a fuzzed request
# succeeds depends on the ones before it: the undo route is exercised by the stateful
# run below (each write's Todo-Change header links to it) and tests/test_api_history.py.
_STATEFUL_ONLY = "/users/{user_id}/changes/{change_id}/undo"
SQLITE_SCHEMA = _schema(50, pin_task=True).exclude(path=_STATEFUL_ONLY, method="POST")
POSTGRES_SCHEMA = _schema(15, pin_task=True).exclude(path=_STATEFUL_ONLY, method="POST")
STATEFUL_SCHEMA = _schema(50, pin_task=False)


def _seeded_app(url: DatabaseURL, *, auth: bool = True) -> FastAPI:
    db.upgrade(url)
    app = create_app(
        Settings(_env_file=None, database_url=url.reveal(), api_secret=SECRET), auth=auth
    )
    _seed(app)
    return app


def _seed(app: FastAPI) -> None:
    """The rows every run starts from (the state machine restores them per scenario)."""
    with app.state.database.session() as session:
        session.exec(delete(Task))
        session.exec(delete(User))
        session.commit()
        session.add(User(id=USER_ID, name="alice", last_task_number=1))
        session.commit()
        session.add(Task(id=TASK_ID, user_id=USER_ID, number=1, title="first"))
        session.commit()
        service.create_task(session, user_id=USER_ID, task=TaskCreate(title="second"))
        _seed_other_user(session)


def _seed_other_user(session: Session) -> None:
    """Someone else's task, which no generated request may reach."""
    other = User(name="mallory", last_task_number=1)
    session.add(other)
    session.commit()
    session.add(Task(user_id=other.id, number=1, title="not yours"))
    session.commit()


class Statuses(list[int]):
    """The statuses one operation's run saw; at least one must be a success."""


@pytest.fixture
def statuses() -> Iterator[Statuses]:
    seen = Statuses()
    yield seen
    assert any(200 <= status < 300 for status in seen), f"no success among {sorted(set(seen))}"


def send(case: Any, app: FastAPI) -> Any:
    """Call and validate `case` against `app`.

    The checks' probes go through the schema's transport, which only knows the app if
    the (per-test copy of the) schema holds it.
    """
    case.operation.schema.app = app
    return case.call_and_validate(app=app)


@pytest.fixture
def sqlite_app(new_database: Callable[[str], DatabaseURL]) -> FastAPI:
    return _seeded_app(new_database("sqlite"))


@pytest.fixture
def postgres_app(new_database: Callable[[str], DatabaseURL]) -> FastAPI:
    return _seeded_app(new_database("postgresql"))


# The app fixture lives across the examples of one operation on purpose: state builds up
# as it would on a real server. Generating a task's body (its many optional, constrained
# fields) takes longer than Hypothesis's wall-clock health check allows on a slow, shared
# machine; what is tested is the answers, not how fast examples are made.
_SHARED_APP = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@SQLITE_SCHEMA.parametrize()
@_SHARED_APP
def test_sqlite_api_conforms_to_its_openapi(
    case: Any, sqlite_app: FastAPI, statuses: Statuses
) -> None:
    response = send(case, sqlite_app)
    statuses.append(response.status_code)


@POSTGRES_SCHEMA.parametrize()
@_SHARED_APP
def test_postgres_api_conforms_to_its_openapi(
    case: Any, postgres_app: FastAPI, statuses: Statuses
) -> None:
    response = send(case, postgres_app)
    statuses.append(response.status_code)


def test_stateful_sequences_follow_the_links(new_database: Callable[[str], DatabaseURL]) -> None:
    labels = _run_stateful(_seeded_app(new_database("sqlite")))
    # Links were followed: tasks created in the run were then read, changed and deleted.
    assert "POST /users/{user_id}/tasks" in labels
    assert {
        "GET /users/{user_id}/tasks/{task_id}",
        "PUT /users/{user_id}/tasks/{task_id}",
        "PATCH /users/{user_id}/tasks/{task_id}",
        "DELETE /users/{user_id}/tasks/{task_id}",
        "POST /users/{user_id}/changes/{change_id}/undo",
    } <= labels


def _run_stateful(app: FastAPI) -> set[str]:
    """Run the state machine; the operations that succeeded at least once."""
    seen: list[tuple[str, int]] = []

    class Workflow(STATEFUL_SCHEMA.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every scenario starts from the same rows: Hypothesis replays scenarios and
            # calls the test flaky if one behaves differently the second time.
            _seed(app)

        def before_call(self, case: Any) -> None:
            case.operation.schema.app = app
            # The state machine does not apply the config's pinned parameters.
            case.path_parameters["user_id"] = str(USER_ID)
            for name, value in PINNED_QUERY.items():
                if case.query and name in case.query:
                    case.query[name] = value
            if case.headers and "If-Match" in case.headers:
                case.headers["If-Match"] = "*"

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"app": app}

        def after_call(self, response: Any, case: Any) -> None:
            seen.append((case.operation.label, response.status_code))

    # Derandomized: which operations a short run reaches must not depend on the seed.
    Workflow.run(
        settings=settings(max_examples=40, stateful_step_count=6, deadline=None, derandomize=True)
    )
    return {label for label, status in seen if 200 <= status < 300}


def test_schemathesis_would_notice_an_api_that_ignored_the_token(
    new_database: Callable[[str], DatabaseURL],
) -> None:
    """The check above is not vacuous: serve the same document without auth and it fails."""
    from schemathesis.core.failures import FailureGroup

    operation = SQLITE_SCHEMA["/users/{user_id}/tasks"]["GET"]
    case = operation.Case(path_parameters={"user_id": str(USER_ID)})
    app = _seeded_app(new_database("sqlite"), auth=False)
    with pytest.raises(FailureGroup) as failures:
        send(case, app)
    assert "API accepts requests without authentication" in str(failures.value)
