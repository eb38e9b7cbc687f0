"""API under load: wrk closed loop, an open-loop generator, and the bare-endpoint ceiling.

The server is `todo serve` (or `--api-cmd`), on a fresh copy of the large PostgreSQL data
set. Tokens are HS256 JWTs minted here with PyJWT (`sub` = user id, `exp`), as SPEC →
Authentication requires.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from bench import datagen
from bench.common import (
    BENCH_DIR,
    PYTHON,
    ROOT,
    TODO,
    Options,
    ensure_tools,
    log,
    pg_available,
    pg_drop,
    save_result,
)

HOST = "127.0.0.1"
CONNECTIONS = 1000
# The other load of issue 17's GET budget: a pool-sized number of clients.
FEW_CONNECTIONS = 64
# The ceiling and the lean reference run under bench.serve: uvicorn with the same settings
# (h11, asyncio, no access log, N workers) plus TCP_NODELAY (see bench/serve.py).
SERVE = "{python} -m bench.serve {app} --host {{host}} --port {{port}} --workers {{workers}}"
CEILING_CMD = SERVE.format(python=PYTHON, app="bench.ceiling_app:app")
LEAN_CMD = SERVE.format(python=PYTHON, app="bench.lean_app:create_app --factory")
# Plain `uvicorn --workers N` on asyncio's own event loop, to show what a server started
# that way loses; and the same with the socket bound as `todo serve` binds it. (uvloop,
# in the api extra, sets TCP_NODELAY by itself, so the check pins the asyncio loop.)
PLAIN_CEILING_CMD = (
    f"{PYTHON} -m uvicorn bench.ceiling_app:app --host {{host}} --port {{port}}"
    " --workers {workers} --log-level warning --no-access-log --loop asyncio"
)
NODELAY_CEILING_CMD = CEILING_CMD + " --loop asyncio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """A server process of ours, in its own process group, stopped by its id."""

    def __init__(self, command: str, env: dict[str, str], cwd: Path, ready_path: str) -> None:
        self.port = free_port()
        self.command = command.format(host=HOST, port=self.port, workers="{workers}")
        self.env = env
        self.cwd = cwd
        self.ready_path = ready_path
        self.log = cwd / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                shlex.split(self.command),
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.tail()}")
            try:
                status, _ = get(self.port, self.ready_path)
                if status < 500:
                    time.sleep(1.0)  # let every worker finish starting
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after 60 s: {self.tail()}")

    def tail(self) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-5:])
        except OSError:
            return ""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def get(port: int, path: str, token: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def settle(port: int, path: str, token: str | None, limit_s: float = 60) -> float:
    """Wait until the server has drained the previous run's backlog; seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        t0 = time.monotonic()
        try:
            get(port, path, token)
        except OSError:
            pass
        if time.monotonic() - t0 < 0.05:
            break
        time.sleep(0.5)
    time.sleep(1.0)
    return round(time.monotonic() - started, 1)


def resolve_api_command(opts: Options) -> tuple[str, str]:
    """(command template, kind): --api-cmd, else `todo serve`."""
    if opts.api_cmd:
        return opts.api_cmd, "custom"
    probe = subprocess.run([TODO, "serve", "--help"], capture_output=True, check=False)
    if probe.returncode != 0:
        raise SystemExit(f"`{TODO} serve --help` failed: install the api extra first")
    command = f"{TODO} serve --host {{host}} --port {{port}} --workers {{workers}}"
    return command + (" --no-auth" if opts.no_auth else ""), "todo serve"


def _users(url: str, count: int, rng: random.Random) -> list[tuple[uuid.UUID, list[uuid.UUID]]]:
    import psycopg

    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM users ORDER BY id")]
        chosen = rng.sample(ids, min(count, len(ids)))
        rows = conn.execute(
            "SELECT user_id, (array_agg(id ORDER BY number))[1:5] FROM tasks"
            " WHERE user_id = ANY(%s) AND NOT is_completed GROUP BY user_id",
            (chosen,),
        ).fetchall()
    return [(r[0], list(r[1])) for r in rows if r[1]]


def _mint(user_id: uuid.UUID, secret: str) -> str:
    import jwt

    now = int(time.time())
    return jwt.encode(
        {"sub": str(user_id), "iat": now, "exp": now + 4 * 3600}, secret, algorithm="HS256"
    )


def _wrk(
    port: int,
    work: Path,
    data: Path,
    mode: str,
    seconds: float,
    think_ms: int = 0,
    connections: int = CONNECTIONS,
) -> dict[str, Any]:
    script = (BENCH_DIR / "wrk_mixed.lua").read_text()
    script = script.replace("@DATA@", str(data)).replace("@MODE@", mode)
    script = script.replace("@THINK_MS@", str(think_ms))
    path = work / f"wrk_{mode}_{think_ms}.lua"
    path.write_text(script)
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s"]
    argv += ["-s", str(path), f"http://{HOST}:{port}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=seconds + 120)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line[len("BENCH_JSON ") :])
            return _wrk_summary(raw, mode, think_ms, connections)
    raise RuntimeError(f"wrk printed no result: {done.stdout[-400:]} {done.stderr[-400:]}")


def _wrk_summary(
    raw: dict[str, Any], mode: str, think_ms: int, connections: int = CONNECTIONS
) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    non_2xx = sum(n for s, n in raw["statuses"].items() if not 200 <= int(s) < 300)
    socket_errors = sum(v for k, v in raw["errors"].items() if k != "status")
    latency = {k: v / 1000 for k, v in raw["latency_us"].items()}
    return {
        "mode": mode,
        "connections": connections,
        "think_ms": think_ms,
        "seconds": round(seconds, 1),
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1),
        "latency_ms": latency,
        "statuses": raw["statuses"],
        "non_2xx": non_2xx,
        "socket_errors": raw["errors"],
        "errors": non_2xx + socket_errors,
    }


def _openloop(
    port: int, data: Path, rate: int, seconds: float, env: dict[str, str], mode: str = "mixed"
) -> dict[str, Any]:
    argv = [PYTHON, "-m", "bench.openloop", "--port", str(port), "--rate", str(rate)]
    argv += ["--duration", str(seconds), "--data", str(data), "--mode", mode]
    done = subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=seconds + 120
    )
    if done.returncode != 0:
        raise RuntimeError(f"open-loop generator failed: {done.stderr[-400:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run(opts: Options) -> dict[str, Any]:
    tools = ensure_tools(["wrk"])
    if not pg_available():
        data: dict[str, Any] = {"error": "PostgreSQL not reachable"}
        save_result("api", data)
        return data
    spec = datagen.specs(opts.quick)["large"]
    log(f"api: preparing PostgreSQL {spec.name} ({spec.tasks:,} tasks)")
    url = datagen.pg_copy(spec, opts.seed, "api")
    work = Path(tempfile.mkdtemp(prefix="todo-bench-api-"))
    try:
        return _measure(opts, url, spec, work, tools["wrk"] is not None)
    finally:
        if not opts.keep_db:
            pg_drop(url.rsplit("/", 1)[1])
        shutil.rmtree(work, ignore_errors=True)


def _measure(
    opts: Options, url: str, spec: datagen.DatasetSpec, work: Path, have_wrk: bool
) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    secret = secrets.token_hex(32)
    users = _users(url, 2000, rng)
    data_file = work / "users.txt"
    tokens: dict[uuid.UUID, str] = {}
    with open(data_file, "w") as f:
        for user_id, task_ids in users:
            tokens[user_id] = "-" if opts.no_auth else _mint(user_id, secret)
            f.write(f"{user_id} {tokens[user_id]} {','.join(str(t) for t in task_ids)}\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "PYTHONPATH": str(ROOT),
        "TODO_DATABASE_URL": url,
        "TODO_API_SECRET": secret,
        "NO_COLOR": "1",
    }
    if opts.no_auth:
        env["BENCH_NO_AUTH"] = "1"
    command, kind = resolve_api_command(opts)
    workers = str(opts.api_workers)
    short = opts.pick(20, 5)
    mixed_seconds = opts.api_duration or opts.pick(60, 10)
    open_seconds = opts.pick(20, 5)
    result: dict[str, Any] = {
        "server": kind,
        "command": command.replace("{workers}", workers),
        "workers": opts.api_workers,
        "auth": not opts.no_auth,
        "dataset": vars(spec),
        "users_in_load": len(users),
        "connections": CONNECTIONS,
    }
    if not have_wrk:
        result["wrk_error"] = "wrk not available"
    if have_wrk:
        log(f"api: ceiling (bare FastAPI endpoint), {short}s with {CONNECTIONS} connections")
        with Server(CEILING_CMD.replace("{workers}", workers), env, work, "/bare") as srv:
            result["ceiling"] = _wrk(srv.port, work, data_file, "bare", short)
        log(f"  ceiling: {result['ceiling']['rps']:.0f} req/s")
        log(f"api: lean reference GET (bench/lean_app.py), {short}s with {CONNECTIONS} connections")
        with Server(LEAN_CMD.replace("{workers}", workers), env, work, "/ready") as srv:
            result["lean_get"] = _wrk(srv.port, work, data_file, "get", short)
            log(f"api: lean reference GET, {short}s with {FEW_CONNECTIONS} connections")
            result["lean_get_few"] = _wrk(
                srv.port, work, data_file, "get", short, connections=FEW_CONNECTIONS
            )
        lean = result["lean_get"]
        log(f"  lean GET: {lean['rps']:.0f} req/s, p95 {lean['latency_ms']['p95']:.0f} ms")
    log("api: TCP_NODELAY check: bare endpoint at 100 req/s, plain uvicorn vs bench.serve")
    result["nodelay_check"] = {}
    checks = (("uvicorn --workers", PLAIN_CEILING_CMD), ("bench.serve", NODELAY_CEILING_CMD))
    for label, cmd in checks:
        with Server(cmd.replace("{workers}", workers), env, work, "/bare") as srv:
            r = _openloop(srv.port, data_file, 100, opts.pick(5, 3), env, mode="bare")
        result["nodelay_check"][label] = r
        log(
            f"  {label}: p50 {r['latency_ms']['median']:.1f} ms,"
            f" p95 {r['latency_ms']['p95']:.1f} ms"
        )
    log(f"api: starting {kind}: {result['command']}")
    with Server(command.replace("{workers}", workers), env, work, "/openapi.json") as srv:
        first_user, first_tasks = users[0]
        token = None if opts.no_auth else tokens[first_user]
        status, body = get(srv.port, f"/users/{first_user}/tasks/{first_tasks[0]}", token)
        result["smoke"] = {"get_status": status}
        if status != 200:
            raise RuntimeError(f"GET of a known task answered {status}: {body[:200]!r}")
        if not opts.no_auth:
            result["smoke"]["no_token_status"] = get(srv.port, f"/users/{first_user}/tasks")[0]
        probe = f"/users/{first_user}/tasks/{first_tasks[0]}"
        if have_wrk:
            log(f"api: GET only, {short}s with {CONNECTIONS} connections")
            result["get"] = _wrk(srv.port, work, data_file, "get", short)
            log(
                f"  GET: {result['get']['rps']:.0f} req/s,"
                f" p95 {result['get']['latency_ms']['p95']:.0f} ms"
            )
            log(f"api: GET only, {short}s with {FEW_CONNECTIONS} connections")
            result["get_few"] = _wrk(
                srv.port, work, data_file, "get", short, connections=FEW_CONNECTIONS
            )
            settle(srv.port, probe, token)
            log(f"api: mixed closed loop, {mixed_seconds:.0f}s with {CONNECTIONS} connections")
            result["mixed"] = _wrk(srv.port, work, data_file, "mixed", mixed_seconds)
            m = result["mixed"]
            log(
                f"  mixed: {m['rps']:.0f} req/s, p95 {m['latency_ms']['p95']:.0f} ms,"
                f" errors {m['errors']}"
            )
            for key, think in (("mixed_think", 2000), ("mixed_think_1s", 1000)):
                settle(srv.port, probe, token)
                log(f"api: mixed, {CONNECTIONS} users with {think} ms mean think time, {short}s")
                result[key] = _wrk(srv.port, work, data_file, "mixed", short, think)
                m = result[key]
                log(
                    f"  think: {m['rps']:.0f} req/s, p95 {m['latency_ms']['p95']:.0f} ms,"
                    f" errors {m['errors']}"
                )
        result["open_loop"] = []
        for rate in (100, 300, 1000):
            waited = settle(srv.port, probe, token)
            log(f"api: open loop at {rate} req/s for {open_seconds}s (settled in {waited}s)")
            r = _openloop(srv.port, data_file, rate, open_seconds, env)
            result["open_loop"].append(r)
            log(
                f"  {rate}/s: achieved {r['achieved_rate']}/s, p50 {r['latency_ms']['median']:.1f}"
                f" ms, p95 {r['latency_ms']['p95']:.1f} ms, errors {r['errors']}"
            )
    result["python"] = sys.version.split()[0]
    save_result("api", result)
    return result
