"""The error side of the API: one body shape everywhere, 405/404 from the router, 503 when
the database cannot serve (and recovery when it can again), 500 without internals, and an
OpenAPI document that lists every status."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from todo_cli import db, service
from todo_cli.api import create_app
from todo_cli.config import DatabaseURL, Settings
from todo_cli.db import Database
from todo_cli.models import TaskCreate, User

SECRET = "hunter2-s3cret"


def assert_error_body(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and "detail" not in body
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["details"], dict)
    return body


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- one body shape for every error ----------------------------------------------------------


def _bad_requests(
    user: User, bearer: Callable[[uuid.UUID], str]
) -> list[tuple[str, str, dict[str, Any], int, str]]:
    tasks = f"/users/{user.id}/tasks"
    task = f"{tasks}/{uuid.uuid4()}"
    json_headers = {"Content-Type": "application/json"}
    return [
        ("GET", "/nowhere", {}, 404, "NOT_FOUND"),
        ("GET", "/users", {}, 404, "NOT_FOUND"),
        ("DELETE", tasks, {}, 405, "METHOD_NOT_ALLOWED"),
        ("POST", task, {}, 405, "METHOD_NOT_ALLOWED"),
        (
            "POST",
            tasks,
            {"content": b"{not json", "headers": json_headers},
            400,
            "VALIDATION_ERROR",
        ),
        ("POST", tasks, {"content": b"", "headers": json_headers}, 400, "VALIDATION_ERROR"),
        ("POST", tasks, {"content": b"title=x"}, 400, "VALIDATION_ERROR"),
        ("POST", tasks, {"json": {"title": ""}}, 400, "VALIDATION_ERROR"),
        ("POST", tasks, {"json": {"title": "x", "bogus": 1}}, 400, "VALIDATION_ERROR"),
        ("GET", "/users/xyz/tasks", {}, 401, "UNAUTHORIZED"),
        ("GET", tasks, {"headers": {"Authorization": "Bearer nope"}}, 401, "UNAUTHORIZED"),
        (
            "GET",
            "/users/xyz/tasks",
            {"headers": {"Authorization": bearer(user.id)}},
            400,
            "VALIDATION_ERROR",
        ),
        (
            "GET",
            f"/users/{uuid.uuid4()}/tasks",
            {"headers": {"Authorization": bearer(user.id)}},
            404,
            "NOT_FOUND",
        ),
        ("GET", f"{tasks}?limit=5000", {}, 400, "VALIDATION_ERROR"),
        ("PATCH", task, {"json": {}, "headers": {"If-Match": "v1"}}, 400, "VALIDATION_ERROR"),
        ("GET", task, {}, 404, "NOT_FOUND"),
        ("GET", f"/users/{uuid.uuid4()}/tasks", {}, 404, "NOT_FOUND"),
    ]


def test_no_error_has_fastapis_default_shape(
    api_client: TestClient, alice: User, token_for: Callable[[uuid.UUID], str]
) -> None:
    for method, url, kwargs, status, code in _bad_requests(alice, token_for):
        response = api_client.request(method, url, **kwargs)
        assert_error_body(response, status, code)
        assert '"detail"' not in response.text, (method, url)


def test_malformed_json_says_so(api_client: TestClient, alice: User) -> None:
    response = api_client.post(
        f"/users/{alice.id}/tasks",
        content=b'{"title": "x",}',
        headers={"Content-Type": "application/json"},
    )
    body = assert_error_body(response, 400, "VALIDATION_ERROR")
    assert body["error"]["message"] == "body: the request body is not valid JSON"


def test_405_lists_every_method_of_the_path_in_allow(api_client: TestClient, alice: User) -> None:
    tasks = f"/users/{alice.id}/tasks"
    for method, url, allowed in [
        ("DELETE", tasks, "GET, HEAD, POST"),
        ("PUT", tasks, "GET, HEAD, POST"),
        ("OPTIONS", tasks, "GET, HEAD, POST"),
        ("POST", f"{tasks}/{uuid.uuid4()}", "DELETE, GET, HEAD, PATCH, PUT"),
        ("OPTIONS", f"{tasks}/{uuid.uuid4()}", "DELETE, GET, HEAD, PATCH, PUT"),
    ]:
        response = api_client.request(method, url)
        body = assert_error_body(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["Allow"] == allowed
        assert allowed in body["error"]["message"]


# --- the database cannot serve -----------------------------------------------------------------


def test_unreachable_database_is_503_with_retry_after_and_no_internals(
    api_secret: str, token_for: Callable[[uuid.UUID], str]
) -> None:
    port = closed_port()
    settings = Settings(
        _env_file=None,
        database_url=f"postgresql://todo:{SECRET}@127.0.0.1:{port}/todo",
        connect_timeout=0.5,
        api_secret=api_secret,
    )
    user_id = uuid.uuid4()
    token = {"Authorization": token_for(user_id)}
    # Creating (and starting) the app does not need the database.
    with TestClient(create_app(settings)) as client:
        # Nor does refusing a request without a valid token.
        assert_error_body(client.get(f"/users/{user_id}/tasks"), 401, "UNAUTHORIZED")
        for method, url, body in [
            ("GET", f"/users/{user_id}/tasks", None),
            ("POST", f"/users/{user_id}/tasks", {"title": "x"}),
            ("PATCH", f"/users/{user_id}/tasks/{uuid.uuid4()}", {"title": "x"}),
        ]:
            response = client.request(method, url, json=body, headers=token)
            error = assert_error_body(response, 503, "SERVICE_UNAVAILABLE")
            assert response.headers["Retry-After"] == "5"
            assert error["error"]["message"] == "The database is unavailable; try again shortly."
            assert SECRET not in response.text and str(port) not in response.text
        # The documentation does not need the database either.
        assert client.get("/openapi.json").status_code == 200


class TcpProxy:
    """A TCP forwarder to the database that the test can cut and restore: a real outage."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = closed_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and break every open one."""
        if self._listener is not None:
            # shutdown() first: on Linux, close() alone leaves a blocked accept() running.
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()
            self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def proxy(postgres_url: DatabaseURL) -> Iterator[TcpProxy]:
    parts = urlsplit(postgres_url.reveal())
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    yield proxy
    proxy.stop()


def test_the_api_answers_503_while_postgres_is_down_and_recovers_by_itself(
    postgres_url: DatabaseURL,
    proxy: TcpProxy,
    api_secret: str,
    token_for: Callable[[uuid.UUID], str],
) -> None:
    parts = urlsplit(postgres_url.reveal())
    user = parts.netloc.rpartition("@")[0]
    through_proxy = urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{proxy.port}"))
    settings = Settings(
        _env_file=None, database_url=through_proxy, connect_timeout=0.5, api_secret=api_secret
    )
    user_id = uuid.uuid4()
    url = f"/users/{user_id}/tasks"
    with TestClient(create_app(settings), headers={"Authorization": token_for(user_id)}) as client:
        # Down at startup: the server still starts, and says 503.
        assert_error_body(client.get(url), 503, "SERVICE_UNAVAILABLE")
        proxy.start()
        assert_error_body(client.get(url), 404, "NOT_FOUND")  # served: an unknown user
        proxy.stop()  # pooled connections die with it
        response = client.get(url)
        assert_error_body(response, 503, "SERVICE_UNAVAILABLE")
        assert response.headers["Retry-After"] == "5"
        proxy.start()
        assert_error_body(client.get(url), 404, "NOT_FOUND")


def test_a_database_without_the_schema_is_503_naming_the_upgrade_command(
    new_database: Callable[[str], DatabaseURL],
    api_secret: str,
    token_for: Callable[[uuid.UUID], str],
) -> None:
    url = new_database("postgresql")
    settings = Settings(_env_file=None, database_url=url.reveal(), api_secret=api_secret)
    user_id = uuid.uuid4()
    with TestClient(create_app(settings), headers={"Authorization": token_for(user_id)}) as client:
        response = client.get(f"/users/{user_id}/tasks")
        body = assert_error_body(response, 503, "SERVICE_UNAVAILABLE")
        assert "todo db upgrade" in body["error"]["message"]
        assert response.headers["Retry-After"] == "5"
        db.upgrade(url)  # the check is retried, not cached as a failure
        assert_error_body(client.get(f"/users/{user_id}/tasks"), 404, "NOT_FOUND")


def test_a_new_embedded_sqlite_database_is_created_as_the_cli_does(tmp_path: Any) -> None:
    path = tmp_path / "fresh" / "todo.db"
    settings = Settings(_env_file=None, database_url=f"sqlite:///{path}")
    with TestClient(create_app(settings, auth=False)) as client:
        assert_error_body(client.get(f"/users/{uuid.uuid4()}/tasks"), 404, "NOT_FOUND")
    assert path.exists()


# --- bugs: 500 without internals -------------------------------------------------------------


def test_an_unexpected_error_is_500_with_a_generic_message(api_settings: Settings) -> None:
    app: FastAPI = create_app(api_settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError(f"connection string postgresql://me:{SECRET}@db/internal")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    body = assert_error_body(response, 500, "INTERNAL_ERROR")
    assert body["error"]["message"] == "The server hit an unexpected error; it has been logged."
    assert SECRET not in response.text and "RuntimeError" not in response.text


# --- the OpenAPI document ----------------------------------------------------------------------


def test_openapi_documents_every_status_with_the_error_body(api_client: TestClient) -> None:
    document = api_client.get("/openapi.json").json()
    expected = {
        ("post", "/users/{user_id}/tasks"): {"201", "400", "404", "500", "503"},
        ("get", "/users/{user_id}/tasks"): {"200", "400", "404", "500", "503"},
        ("get", "/users/{user_id}/tasks/{task_id}"): {"200", "400", "404", "500", "503"},
        ("put", "/users/{user_id}/tasks/{task_id}"): {"200", "400", "404", "412", "500", "503"},
        ("patch", "/users/{user_id}/tasks/{task_id}"): {"200", "400", "404", "412", "500", "503"},
        ("delete", "/users/{user_id}/tasks/{task_id}"): {"204", "400", "404", "412", "500", "503"},
        ("get", "/users/{user_id}/changes"): {"200", "400", "404", "500", "503"},
        ("post", "/users/{user_id}/changes/{change_id}/undo"): {
            *("200", "400", "404", "409", "500", "503"),
        },
        ("post", "/users/{user_id}/tasks:import"): {"200", "400", "404", "500", "503"},
    }
    expected = {key: statuses | {"401"} for key, statuses in expected.items()}
    operations = {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) == set(expected)
    for key, statuses in expected.items():
        responses = operations[key]["responses"]
        assert set(responses) == statuses, key
        for status in statuses - {"200", "201", "204"}:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (key, status)
        assert "Retry-After" in responses["503"]["headers"]
        assert "WWW-Authenticate" in responses["401"]["headers"]
        assert operations[key]["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "422" not in api_client.get("/openapi.json").text.replace('"4220', "")


def test_docs_are_served(api_client: TestClient) -> None:
    response = api_client.get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()


def test_a_failed_write_gives_its_connection_back_at_once(
    api_client: TestClient, alice: User, session: Session
) -> None:
    """No failed request keeps a transaction (on SQLite: the write lock) until a GC pass.

    The garbage collector is off, so a session left for it to close would still hold its
    connection when the request's answer has arrived.
    """
    import gc

    task = service.create_task(session, user_id=alice.id, task=TaskCreate(title="x"))
    base = f"/users/{alice.id}/tasks"
    failing: dict[str, Callable[[], Response]] = {
        "POST to an unknown user": lambda: api_client.post(
            f"/users/{uuid.uuid4()}/tasks", json={"title": "x"}
        ),
        "PATCH, stale If-Match": lambda: api_client.patch(
            f"{base}/{task.id}", json={"title": "y"}, headers={"If-Match": '"9"'}
        ),
        "PUT, stale If-Match": lambda: api_client.put(
            f"{base}/{task.id}", json={"title": "y"}, headers={"If-Match": '"9"'}
        ),
        "DELETE, stale If-Match": lambda: api_client.delete(
            f"{base}/{task.id}", headers={"If-Match": '"9"'}
        ),
        "PATCH of an unknown task": lambda: api_client.patch(
            f"{base}/{uuid.uuid4()}", json={"title": "y"}
        ),
    }
    database: Database = api_client.app.state.database  # type: ignore[attr-defined]
    api_client.get(base)  # the engine exists from here on
    enabled = gc.isenabled()
    gc.disable()
    try:
        for name, call in failing.items():
            response = call()
            assert response.status_code in (404, 412), (name, response.text)
            assert database._engine is not None
            pool = database._engine.pool
            assert isinstance(pool, QueuePool)
            assert pool.checkedout() == 0, name
    finally:
        if enabled:
            gc.enable()
