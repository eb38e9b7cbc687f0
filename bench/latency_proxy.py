"""A TCP proxy that delays traffic and counts round trips: a remote database, locally.

Every byte is forwarded unchanged, `delay` seconds late in each direction, so a round
trip through the proxy costs `2 × delay` more than a direct one (20 ms RTT: `delay`
0.010). Connecting costs one more round trip: the first bytes a client sends on a new
connection wait an extra `2 × delay`, as the TCP handshake would have kept it.

A *round trip* is a burst the client sent followed by the server's reply: the client
waits for the server once per round trip, which is what a round trip costs on a slow
network. Counted per connection, and summed: `round_trips` counts the request/reply
exchanges, `connections` the TCP connects (each one round trip more on a real network).
Bytes sent without a reply between (a `Terminate`, pipelined messages) add nothing.

While the stream is plain PostgreSQL protocol (no TLS), each round trip also records what
the client asked (`StartupMessage`, `Query: SELECT …`, `Parse: …`), to tell where the
round trips of a command go.

Reusable in-process (`Proxy`, a context manager running its own event loop in a thread)
or as a process: `python -m bench.latency_proxy --target 127.0.0.1:5432 --delay-ms 10`
prints `listening PORT`, and the counts as JSON on SIGINT/SIGTERM. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_CHUNK = 65536
# Frontend message types worth naming (PostgreSQL protocol 3).
_NAMES = {
    b"Q": "Query",
    b"P": "Parse",
    b"B": "Bind",
    b"E": "Execute",
    b"D": "Describe",
    b"S": "Sync",
    b"H": "Flush",
    b"C": "Close",
    b"X": "Terminate",
    b"p": "Password",
    b"d": "CopyData",
    b"c": "CopyDone",
    b"f": "CopyFail",
}
_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104
_CANCEL_REQUEST = 80877102


@dataclass
class RoundTrip:
    """One request/reply exchange: on which connection, and what the client asked."""

    connection: int
    asked: list[str]


@dataclass
class _Frontend:
    """Reads the client's side of the PostgreSQL protocol, as far as it is plain."""

    started: bool = False
    plain: bool = True
    buffer: bytearray = field(default_factory=bytearray)

    def messages(self, data: bytes) -> list[str]:
        if not self.plain:
            return []
        self.buffer += data
        found: list[str] = []
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return found
                length, code = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return found
                del self.buffer[:length]
                if code == _SSL_REQUEST:
                    found.append("SSLRequest")
                elif code == _GSS_REQUEST:
                    found.append("GSSENCRequest")
                elif code == _CANCEL_REQUEST:
                    found.append("CancelRequest")
                else:
                    found.append("StartupMessage")
                    self.started = True
                continue
            if len(self.buffer) < 5:
                return found
            kind = bytes(self.buffer[:1])
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return found
            body = bytes(self.buffer[5 : 1 + length])
            del self.buffer[: 1 + length]
            found.append(_describe(kind, body))

    def replied(self, data: bytes) -> None:
        """The server's first answer: after an accepted SSLRequest the rest is TLS."""
        if not self.started and data[:1] == b"S":
            self.plain = False


def _describe(kind: bytes, body: bytes) -> str:
    name = _NAMES.get(kind, kind.decode("latin-1"))
    if kind == b"Q":
        return f"{name}: {_text(body)}"
    if kind == b"P":  # name NUL query NUL …
        parts = body.split(b"\0", 2)
        return f"{name}: {_text(parts[1] if len(parts) > 1 else b'')}"
    return name


def _text(raw: bytes) -> str:
    words = raw.split(b"\0", 1)[0].decode("utf-8", "replace").split()
    shown = " ".join(words)
    return shown if len(shown) <= 120 else shown[:117] + "…"


def kind_of(asked: list[str]) -> str:
    """`ping`, `prepare` (Parse and Sync only: psycopg preparing a statement) or `other`."""
    if asked == ["Query: ;"]:
        return "ping"
    names = {message.split(":", 1)[0] for message in asked}
    if "Parse" in names and names <= {"Parse", "Sync"}:
        return "prepare"
    return "other"


class Counts:
    """What went through the proxy since the last `reset`; safe to read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.round_trips = 0
        self.connections = 0
        self.log: list[RoundTrip] = []

    def reset(self) -> None:
        with self._lock:
            self.round_trips = 0
            self.connections = 0
            self.log = []

    def connected(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def exchanged(self, connection: int, asked: list[str]) -> None:
        with self._lock:
            self.round_trips += 1
            self.log.append(RoundTrip(connection, asked))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "round_trips": self.round_trips,
                "connections": self.connections,
                "log": [{"connection": t.connection, "asked": t.asked} for t in self.log],
            }

    def kinds(self) -> dict[str, int]:
        """The round trips by kind: `ping` (SQLAlchemy's `;`), `prepare` (psycopg preparing
        a statement it has run often: a Parse alone, once per statement and connection),
        and `other`."""
        with self._lock:
            found = {"ping": 0, "prepare": 0, "other": 0}
            for trip in self.log:
                found[kind_of(trip.asked)] += 1
            return found

    def describe(self) -> str:
        """The round trips as lines, for an assertion's message."""
        with self._lock:
            return "\n".join(
                f"  #{t.connection}: {'; '.join(t.asked) or '(not plain protocol)'}"
                for t in self.log
            )


class _Link:
    """One proxied connection: two delayed pumps and the round-trip state between them."""

    def __init__(self, counts: Counts, delay: float) -> None:
        self.counts = counts
        self.delay = delay
        self.number = counts.connected()
        self.frontend = _Frontend()
        self.asked: list[str] = []
        self.waiting = False  # the client sent something the server has not answered yet

    async def run(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        target: tuple[str, int],
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        to_server: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        to_client: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        tasks = [
            asyncio.create_task(self._read(client_reader, to_server, from_client=True)),
            asyncio.create_task(self._read(server_reader, to_client, from_client=False)),
            asyncio.create_task(self._write(to_server, server_writer)),
            asyncio.create_task(self._write(to_client, client_writer)),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_writer, server_writer):
                writer.close()

    async def _read(
        self,
        reader: asyncio.StreamReader,
        queue: asyncio.Queue[tuple[float, bytes]],
        *,
        from_client: bool,
    ) -> None:
        first = True
        while True:
            data = await reader.read(_CHUNK)
            due = time.monotonic() + self.delay
            if from_client:
                if first:  # the handshake's round trip, which the client already waited for
                    due += 2 * self.delay
                    first = False
                self.asked += self.frontend.messages(data)
                if data:
                    self.waiting = True
            elif data:
                self.frontend.replied(data)
                if self.waiting:
                    self.waiting = False
                    self.counts.exchanged(self.number, self.asked)
                    self.asked = []
            await queue.put((due, data))
            if not data:
                return

    async def _write(
        self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()


async def serve(
    target: tuple[str, int],
    *,
    delay: Callable[[], float],
    counts: Counts,
    host: str = "127.0.0.1",
    port: int = 0,
) -> asyncio.Server:
    """A listening proxy to `target`; each new connection is delayed by `delay()` seconds."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _Link(counts, delay()).run(reader, writer, target)
        except (ConnectionError, OSError):
            writer.close()
        except asyncio.CancelledError:  # the proxy is shutting down with the link open
            writer.close()

    return await asyncio.start_server(accept, host, port)


class Proxy:
    """The proxy on a free port, in a thread of this process: `with Proxy(...) as proxy:`.

    `proxy.port` is where to connect; `proxy.counts` what went through it (call
    `proxy.counts.reset()` between measurements). `delay` may be changed between
    connections (`proxy.delay = 0.010`): each new connection takes the value then.
    """

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432), *, delay: float = 0.0):
        self.target = target
        self.delay = delay
        self.counts = Counts()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    def __enter__(self) -> Proxy:
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                self._server = loop.run_until_complete(self._listen())
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=main, name="latency-proxy", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise failure[0]
        return self

    async def _listen(self) -> asyncio.Server:
        return await serve(self.target, delay=lambda: self.delay, counts=self.counts)

    def __exit__(self, *_exc: object) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def url(self, database: str, user: str = "postgres") -> str:
        """A PostgreSQL URL of `database` through this proxy."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.latency_proxy",
        description="Forward TCP to a server with a delay per direction; count round trips.",
    )
    parser.add_argument("--target", default="127.0.0.1:5432", help="HOST:PORT to forward to")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    parser.add_argument(
        "--delay-ms", type=float, default=0.0, help="delay per direction (RTT is twice this)"
    )
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    counts = Counts()

    async def run() -> None:
        server = await serve(
            (host, int(port)), delay=lambda: args.delay_ms / 1000, counts=counts, port=args.port
        )
        print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        server.close()

    asyncio.run(run())
    print(json.dumps(counts.snapshot()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
