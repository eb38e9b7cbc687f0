"""Two `todo serve` processes on one PostgreSQL, behind a round-robin proxy: the API keeps
no state of its own, so If-Match races, undo and history work whichever process answers.

The proxy is a small one in this file: each new client connection goes to the next
server in turn, and the clients below open a connection per request, so consecutive
requests of one client land on different processes (the proxy counts which).
"""

from __future__ import annotations

import itertools
import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer
from tests.processes import TodoServer, todo_env
from tests.servers import free_port
from todo_cli import db, service
from todo_cli.config import DatabaseURL

API_SECRET = "the-stateless-test-secret-0123456789abcdef"


class RoundRobin:
    """A TCP proxy on a free port that hands each connection to the next upstream."""

    def __init__(self, upstreams: list[int]) -> None:
        self._next = itertools.cycle(upstreams)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.served: list[int] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            port = next(self._next)
            self.served.append(port)
            upstream = socket.create_connection(("127.0.0.1", port))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def behind_proxy(
    postgres_url: DatabaseURL, tmp_path: Path
) -> Iterator[tuple[str, uuid.UUID, RoundRobin]]:
    engine = db.make_engine(postgres_url)
    with db.make_session_factory(engine)() as session:
        alice = service.create_user(session, name=f"alice-{uuid.uuid4().hex[:8]}").id
    engine.dispose()
    env = todo_env(TODO_DATABASE_URL=postgres_url.reveal(), TODO_API_SECRET=API_SECRET)
    servers = [TodoServer(free_port(), env, tmp_path, "--workers", "1") for _ in range(2)]
    proxy = RoundRobin([server.port for server in servers])
    try:
        for server in servers:
            server.wait_until_serving()
        yield f"http://127.0.0.1:{proxy.port}", alice, proxy
    finally:
        proxy.close()
        for server in servers:
            server.stop()
        for server in servers:
            assert "Traceback" not in server.log


def _client(alice: uuid.UUID) -> httpx.Client:
    # No keep-alive: every request is a new connection, so the proxy alternates.
    return httpx.Client(
        headers={"Authorization": bearer(alice, secret=API_SECRET)},
        timeout=60,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def test_if_match_races_undo_and_history_hold_across_two_servers(
    behind_proxy: tuple[str, uuid.UUID, RoundRobin],
) -> None:
    base, alice, proxy = behind_proxy
    tasks = f"{base}/users/{alice}/tasks"
    with _client(alice) as client, _client(alice) as other:
        created = client.post(tasks, json={"title": "v1", "due": "2026-12-04"})
        assert created.status_code == 201, created.text
        url = f"{tasks}/{created.json()['id']}"
        # Races with one ETag, over many rounds, each racer on its own connection.
        barrier = threading.Barrier(2)

        def patch(racer: httpx.Client, etag: str, title: str) -> httpx.Response:
            barrier.wait()
            return racer.patch(url, json={"title": title}, headers={"If-Match": etag})

        with ThreadPoolExecutor(max_workers=2) as pool:
            for round_ in range(8):
                etag = client.get(url).headers["ETag"]
                titles = [f"round {round_} by {n}" for n in range(2)]
                answers = list(pool.map(patch, [client, other], [etag] * 2, titles))
                assert sorted(a.status_code for a in answers) == [200, 412]
                assert client.get(url).headers["ETag"] == f'"{int(etag[1:-1]) + 1}"'
        # Undo on whichever server, of a change another one made, and history from both.
        last = client.patch(url, json={"priority": "H"})
        change = last.headers["Todo-Change"]
        undone = other.post(f"{base}/users/{alice}/changes/{change}/undo")
        assert undone.status_code == 200, undone.text
        assert client.get(url).json()["priority"] is None
        again = client.post(f"{base}/users/{alice}/changes/{change}/undo")
        assert again.status_code == 409  # already undone, whoever is asked
        histories = [c.get(f"{base}/users/{alice}/changes").json() for c in (client, other)]
        assert histories[0] == histories[1]
        assert histories[0][0]["undoes"] == int(change)
    # Both servers did answer: the proxy handed connections to each in turn.
    assert len(set(proxy.served)) == 2
