"""Open-loop load at a fixed arrival rate, latency counted from the intended send time.

Request i is due at start + i / rate, whether or not earlier ones have answered (a new
connection is opened when none is idle), and its latency runs from that due time to the
last byte of the answer: a stalled server cannot hide its queue by slowing the sender
(coordinated omission). How late the generator itself sent is reported separately.

    python -m bench.openloop --port P --rate 300 --duration 20 --data users.txt [--mode mixed]

Prints one JSON object. A minimal HTTP/1.1 client on asyncio streams keeps the
generator's own cost far below the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.common import summarize

_ID = re.compile(rb'"id"\s*:\s*"([0-9a-f-]{36})"')
_USER = re.compile(rb'"user_id"\s*:\s*"([0-9a-f-]{36})"')


@dataclass
class User:
    id: str
    token: str
    tasks: list[str]


@dataclass
class State:
    users: list[User]
    tokens: dict[str, str]
    mode: str
    rng: random.Random
    created: list[tuple[str, str]] = field(default_factory=list)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = field(
        default_factory=list
    )
    open_connections: int = 0
    max_connections: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


def load_users(path: str) -> list[User]:
    users = []
    with open(path) as f:
        for line in f:
            user_id, token, ids = line.split()
            users.append(User(user_id, token, ids.split(",")))
    return users


def _request(state: State) -> bytes:
    rng = state.rng
    if state.mode == "bare":
        return _http("GET", "/bare", "-")
    u = rng.choice(state.users)
    task = rng.choice(u.tasks)
    base = f"/users/{u.id}/tasks"
    if state.mode == "get":
        return _http("GET", f"{base}/{task}", u.token)
    r = rng.randrange(100)
    if r < 35:
        return _http("GET", f"{base}?completed=false&limit=50", u.token)
    if r < 70:
        return _http("GET", f"{base}/{task}", u.token)
    if r < 80 or (r >= 90 and not state.created):
        return _http("POST", base, u.token, b'{"title": "Open-loop task"}')
    if r < 90:
        return _http("PATCH", f"{base}/{task}", u.token, b'{"title": "Edited open-loop"}')
    user_id, task_id = state.created.pop()
    return _http("DELETE", f"/users/{user_id}/tasks/{task_id}", state.tokens[user_id])


def _http(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token != "-":
        lines.append(f"Authorization: Bearer {token}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    keep = True
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    else:
        body = await reader.readexactly(length) if length else b""
    return status, body, keep


# Servers close idle keep-alive connections (uvicorn after 5 s); a browser or HTTP library
# would not reuse one that old, and neither do we.
MAX_IDLE_S = 4.0


def _take_idle(state: State) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    now = time.perf_counter()
    while state.idle:
        reader, writer, since = state.idle.pop()
        if now - since < MAX_IDLE_S and not reader.at_eof():
            return reader, writer
        _close(state, (reader, writer))
    return None


async def _one(state: State, port: int, due: float, timeout: float) -> None:
    request = _request(state)
    state.send_lag_ms.append((time.perf_counter() - due) * 1000)
    conn = _take_idle(state)
    try:
        async with asyncio.timeout(timeout):
            status = 0
            if conn is not None:
                try:
                    status, body, keep = await _exchange(conn[0], conn[1], request)
                except (OSError, asyncio.IncompleteReadError):
                    # The server closed it while idle (a keep-alive race): one new
                    # connection, as HTTP clients do.
                    _close(state, conn)
                    conn = None
            if conn is None:
                state.open_connections += 1
                state.max_connections = max(state.max_connections, state.open_connections)
                conn = await asyncio.open_connection("127.0.0.1", port)
                status, body, keep = await _exchange(conn[0], conn[1], request)
    except TimeoutError:
        state.errors["timeout"] += 1
        _close(state, conn)
        return
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        state.errors[type(exc).__name__] += 1
        _close(state, conn)
        return
    state.latencies_ms.append((time.perf_counter() - due) * 1000)
    state.statuses[status] += 1
    if status == 201:
        found_id, found_user = _ID.search(body), _USER.search(body)
        if found_id and found_user and found_user.group(1).decode() in state.tokens:
            state.created.append((found_user.group(1).decode(), found_id.group(1).decode()))
    if keep:
        state.idle.append((conn[0], conn[1], time.perf_counter()))
    else:
        _close(state, conn)


def _close(state: State, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if conn is not None:
        state.open_connections -= 1
        conn[1].close()


async def run(
    port: int, rate: float, duration: float, users: list[User], mode: str, timeout: float, seed: int
) -> dict[str, object]:
    state = State(users, {u.id: u.token for u in users}, mode, random.Random(seed))
    total = int(rate * duration)
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_one(state, port, due, timeout))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    unfinished = 0
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=timeout + 1)
        unfinished = len(pending)
        for task in pending:
            task.cancel()
    elapsed = time.perf_counter() - start
    for _reader, writer, _since in state.idle:
        writer.close()
    errors = sum(state.errors.values()) + sum(n for s, n in state.statuses.items() if s >= 400)
    errors += unfinished
    return {
        "rate": rate,
        "duration_s": duration,
        "sent": total,
        "completed": len(state.latencies_ms),
        "achieved_rate": round(len(state.latencies_ms) / elapsed, 1),
        "latency_ms": summarize(state.latencies_ms),
        "send_lag_ms": summarize(state.send_lag_ms),
        "statuses": {str(k): v for k, v in sorted(state.statuses.items())},
        "socket_errors": dict(state.errors),
        "errors": errors,
        "unfinished": unfinished,
        "max_connections": state.max_connections,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--mode", default="mixed", choices=("mixed", "get", "bare"))
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    users = load_users(args.data)
    result = asyncio.run(
        run(args.port, args.rate, args.duration, users, args.mode, args.timeout, args.seed)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
