"""Same-run before/after: the CLI at another git revision beside this one, interleaved.

`bench/run --against REV` installs the committed code of REV and of `--new` (default
HEAD) each into its own venv: `git archive` of the commit, `python -m venv` from this
interpreter, a non-editable `pip install` constrained to the versions in the project's
`.venv` (so both run the same dependencies), cached in `bench/.cache/revisions/<key>/`,
keyed by the product's trees (`todo_cli/`, `migrations/`, `pyproject.toml`). It gives each a
SQLite file and a PostgreSQL database migrated by its own `todo db upgrade` and filled
with the tiny data set (`bench`, 100 pending tasks), and runs the same commands for both
in one interleaved loop (bench.runner): every round runs every case once, in a shuffled
order. Reported per command and backend: medians, p95 and the ratio new/old, with a
bootstrap interval of the ratio of medians (rounds resampled in pairs).

Parts (`--against-part`): `cli` (above), `service` (the service writes on the large
PostgreSQL set) and, only when asked for, `api` (each revision's `todo serve` under the
API section's mixed load: issue 17's "mixed ≥ 1.6× the capacity before it").
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import secrets
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import datagen
from bench.common import (
    CACHE_DIR,
    DB_PREFIX,
    PYTHON,
    RESULTS_DIR,
    ROOT,
    Options,
    load_result,
    log,
    percentile,
    pg_admin,
    pg_available,
    pg_drop,
    pg_url,
    ratio,
    save_result,
    summarize,
)
from bench.runner import Case, fixed, run_interleaved

REV_DIR = CACHE_DIR / "revisions"
COMMANDS = ("add", "done", "list", "list --json", "--help")
BUDGET = 1.05  # new/old, same run
INSTALL_VERSION = 1  # bump to rebuild every cached venv
PARTS = ("cli", "service", "api")
# What `--against` runs unless told: the API part takes about 9 minutes more.
DEFAULT_PARTS = ("cli", "service")
# The product's own distribution names, past and present: never a constraint.
OURS = {"todo-cli", "todo-shared-tasks"}
HEAD_PROBE = "from todo_cli.db import HEAD_REVISION; print(HEAD_REVISION)"
PRODUCT_PATHS = ("todo_cli", "migrations", "pyproject.toml")


@dataclass
class Installed:
    label: str  # "old" or "new"
    rev: str  # as given on the command line
    sha: str
    subject: str
    venv: Path
    todo: str

    def describe(self) -> dict[str, str]:
        return {"rev": self.rev, "commit": self.sha[:12], "subject": self.subject}


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _constraints() -> Path:
    """The project venv's versions (minus todo itself), so both venvs install the same."""
    OURS.add(_project_name())
    frozen = subprocess.run(
        [PYTHON, "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [
        ln
        for ln in frozen.splitlines()
        if ln
        and not ln.startswith(("#", "-e"))
        and re.split(r"[=<>!~ @]", ln, maxsplit=1)[0].lower().replace("_", "-") not in OURS
    ]
    text = "\n".join(sorted(lines, key=str.lower)) + "\n"
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    REV_DIR.mkdir(parents=True, exist_ok=True)
    path = REV_DIR / f"constraints-{digest}.txt"
    if not path.exists():
        path.write_text(text)
    return path


def _project_name() -> str:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return str(data["project"]["name"]).lower().replace("_", "-")


def install(label: str, rev: str, constraints: Path, extras: tuple[str, ...] = ()) -> Installed:
    """REV's committed code in its own venv (cached by commit, extras and constraints)."""
    sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    subject = _git("log", "-1", "--format=%s", sha)
    # Keyed by what gets installed, so a commit that touches only bench/ or docs/ reuses it.
    trees = _git("rev-parse", *(f"{sha}:{part}" for part in PRODUCT_PATHS))
    key = hashlib.sha1(trees.encode()).hexdigest()[:12] + "".join(f"-{e}" for e in extras)
    base = REV_DIR / key
    venv = base / "venv"
    todo = venv / "bin" / "todo"
    marker = base / "installed.json"
    want = {"product": key, "constraints": constraints.name, "version": INSTALL_VERSION}
    wanted = f"[{','.join(extras)}]" if extras else ""
    if marker.exists() and todo.exists() and json.loads(marker.read_text()) == want:
        log(f"revisions: {label} = {rev} ({sha[:12]}) already installed in {venv}")
        return Installed(label, rev, sha, subject, venv, str(todo))
    log(f"revisions: installing {label} = {rev} ({sha[:12]}) into {venv}")
    shutil.rmtree(base, ignore_errors=True)
    src = base / "src"
    src.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", sha], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(src, filter="data")
    # From this interpreter, so both venvs run the same Python build.
    subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, "install", "--quiet", "--constraint", str(constraints), f"{src}{wanted}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip install of {rev} failed: {done.stderr.strip()[-800:]}")
    marker.write_text(json.dumps(want) + "\n")
    return Installed(label, rev, sha, subject, venv, str(todo))


def _env(home: Path, url: str | None = None) -> dict[str, str]:
    from bench.cli_latency import base_env

    env = base_env(home)  # no PYTHONPATH: each venv must import its own todo_cli
    # The code's own cost: a revision with the warm server would otherwise answer from it
    # (and leave it running).
    env["TODO_DAEMON"] = "0"
    if url is not None:
        env.update(TODO_DATABASE_URL=url, TODO_USER="bench")
    return env


def _todo(inst: Installed, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [inst.todo, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{inst.label} ({inst.sha[:12]}): todo {' '.join(args)} exited {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[-400:]}"
        )
    return done.stdout.strip()


def _prepare(
    inst: Installed, backend: str, work: Path, home: Path, spec: datagen.DatasetSpec, seed: int
) -> tuple[str, str]:
    """A database migrated by this revision's own `todo db upgrade`, then filled."""
    users, rows = datagen.generate(spec, seed)
    if backend == "sqlite":
        path = work / f"{inst.label}.db"
        url = f"sqlite:///{path}"
    else:
        from psycopg import sql

        name = f"{DB_PREFIX}rev_{inst.label}"
        pg_drop(name)
        with pg_admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = pg_url(name)
    env = _env(home, url)
    _todo(inst, env, "db", "upgrade")
    current = _todo(inst, env, "db", "current")
    if backend == "sqlite":
        datagen.fill_sqlite(path, users, rows)
    else:
        datagen.fill_pg(url, users, rows)
    return url, current


def _case(inst: Installed, command: str, backend: str, env: dict[str, str], cwd: str) -> Case:
    owned = 100
    labels = {"revision": inst.label, "command": f"todo {command}", "backend": backend}
    name = f"{inst.label} · todo {command} · {backend}"
    if command == "add":
        return Case(
            name, lambda i: [inst.todo, "add", f"Benchmark task {i}"], env, cwd, labels=labels
        )
    if command == "done":
        # A different pending task every run, from the top down.
        return Case(name, lambda i: [inst.todo, "done", str(owned - i)], env, cwd, labels=labels)
    return Case(name, fixed(inst.todo, *command.split()), env, cwd, labels=labels)


def _ratio_interval(
    old: list[float], new: list[float], rng: random.Random, draws: int = 2000
) -> tuple[float, float]:
    """95% bootstrap interval of median(new)/median(old), the rounds resampled in pairs."""
    n = min(len(old), len(new))
    ratios = []
    for _ in range(draws):
        picks = [rng.randrange(n) for _ in range(n)]
        ratios.append(
            percentile([new[k] for k in picks], 50) / percentile([old[k] for k in picks], 50)
        )
    return percentile(ratios, 2.5), percentile(ratios, 97.5)


def run(opts: Options) -> dict[str, Any]:
    against = opts.extra.get("against")
    if not against:
        raise SystemExit("the revisions section needs --against REV")
    new_rev = opts.extra.get("new") or "HEAD"
    parts = opts.extra.get("parts") or DEFAULT_PARTS
    constraints = _constraints()
    old = install("old", against, constraints)
    new = install("new", new_rev, constraints)
    if old.sha == new.sha:
        log(f"revisions: {against} and {new_rev} are the same commit; comparing it with itself")
    dirty = _git("status", "--porcelain", "--", *PRODUCT_PATHS)
    if new_rev == "HEAD" and dirty:
        log("revisions: uncommitted product changes are not measured (committed HEAD only)")
    data: dict[str, Any] = {"old": old.describe(), "new": new.describe(), "budget_ratio": BUDGET}
    # A part not run this time keeps its last figures if they compared the same commits.
    last = load_result("revisions") or {}
    if last.get("old") == data["old"] and last.get("new") == data["new"]:
        data.update({k: last[k] for k in PARTS if k in last and k not in parts})
    if "cli" in parts:
        data["cli"] = _cli(old, new, opts)
    for part, measure in (("service", _service), ("api", _api)):
        if part not in parts:
            continue
        if pg_available():
            data[part] = measure(old, new, opts)
        else:
            log(f"PostgreSQL is not reachable: the {part} comparison is skipped")
    save_result("revisions", data)
    table = render(data)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "revisions.md").write_text(table)
    print(table, flush=True)  # noqa: T201 - the section's answer
    return data


def _cli(old: Installed, new: Installed, opts: Options) -> dict[str, Any]:
    runs = opts.runs or opts.pick(30, 5)
    runs = min(runs, 90)  # `done` walks down the 100 tasks
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    if "postgresql" not in backends:
        log("PostgreSQL is not reachable: the PostgreSQL cases are skipped")
    spec = datagen.specs(opts.quick)["tiny"]
    work = Path(tempfile.mkdtemp(prefix="todo-bench-rev-"))
    pg_names: list[str] = []
    try:
        cases: list[Case] = []
        schema: dict[str, dict[str, str]] = {}
        for inst in (old, new):
            home = work / f"home-{inst.label}"
            home.mkdir()
            cases.append(_case(inst, "--help", "-", _env(home), str(work)))
            for backend in backends:
                log(f"revisions: preparing {backend} for {inst.label} ({inst.sha[:12]})")
                url, current = _prepare(inst, backend, work, home, spec, opts.seed)
                if backend == "postgresql":
                    pg_names.append(url.rsplit("/", 1)[1])
                schema.setdefault(inst.label, {})[backend] = current
                env = _env(home, url)
                for command in COMMANDS[:-1]:
                    cases.append(_case(inst, command, backend, env, str(work)))
        log(f"revisions: {len(cases)} cases × {runs} interleaved rounds")
        measured = run_interleaved(cases, runs=runs, warmup=2, seed=opts.seed)
        by_key = {
            (m.case.labels["revision"], m.case.labels["command"], m.case.labels["backend"]): m
            for m in measured
        }
        rng = random.Random(opts.seed)
        rows: list[dict[str, Any]] = []
        for backend in ["-", *backends]:
            for command in COMMANDS:
                key_old = ("old", f"todo {command}", backend)
                key_new = ("new", f"todo {command}", backend)
                if key_old not in by_key or key_new not in by_key:
                    continue
                mo, mn = by_key[key_old], by_key[key_new]
                row: dict[str, Any] = {"command": f"todo {command}", "backend": backend}
                if mo.error or mn.error:
                    row["error"] = mo.error or mn.error
                    rows.append(row)
                    continue
                so, sn = summarize(mo.times_ms), summarize(mn.times_ms)
                low, high = _ratio_interval(mo.times_ms, mn.times_ms, rng)
                co, cn = summarize(mo.cpu_ms), summarize(mn.cpu_ms)
                cpu_low, cpu_high = _ratio_interval(mo.cpu_ms, mn.cpu_ms, rng)
                row.update(
                    old=so,
                    new=sn,
                    ratio_median=ratio(sn["median"], so["median"]),
                    ratio_p95=ratio(sn["p95"], so["p95"]),
                    ratio_median_95ci=[low, high],
                    cpu_old=co,
                    cpu_new=cn,
                    cpu_ratio_median=ratio(cn["median"], co["median"]),
                    cpu_ratio_median_95ci=[cpu_low, cpu_high],
                )
                rows.append(row)
        return {
            "runs": runs,
            "schema": schema,
            "rows": rows,
            "cases": [m.as_dict() for m in measured],
        }
    finally:
        if not opts.keep_db:
            for name in pg_names:
                pg_drop(name)
        shutil.rmtree(work, ignore_errors=True)


def _head_of(inst: Installed) -> str:
    done = subprocess.run(
        [str(inst.venv / "bin" / "python"), "-I", "-c", HEAD_PROBE],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _copy_at_head(
    inst: Installed,
    spec: datagen.DatasetSpec,
    opts: Options,
    purpose: str,
    head: str,
    rows_key: str,
    home: Path,
) -> str:
    """A fresh copy of `spec` at the revision's schema head, from a template that the
    revision's own `todo db upgrade` migrated (the same rows on both sides: `rows_key`)."""

    def upgrade(url: str) -> None:
        _todo(inst, _env(home, url), "db", "upgrade")

    return datagen.pg_copy(
        spec,
        opts.seed,
        f"{purpose}_{inst.label}",
        revision=head,
        upgrade=upgrade,
        rows_key=rows_key,
    )


def _service(old: Installed, new: Installed, opts: Options) -> dict[str, Any]:
    """Service writes of both revisions on copies of the large PostgreSQL set, interleaved.

    Each revision's data set is a cached template migrated by its own `todo db upgrade`
    and filled with the same rows (a template at the same schema head is shared with the
    service section when the rows match).
    """
    iterations = opts.extra.get("service_iterations") or opts.pick(1000, 150)
    spec = datagen.specs(opts.quick)["large"]
    home = Path(tempfile.mkdtemp(prefix="todo-bench-rev-svc-"))
    names: list[str] = []
    workers: dict[str, subprocess.Popen[str]] = {}
    try:
        urls: dict[str, str] = {}
        heads = {inst.label: _head_of(inst) for inst in (old, new)}
        # The same rows on both sides: generated from the new revision's key.
        rows_key = spec.key_at(heads["new"])
        for inst in (old, new):
            log(f"revisions: copying PostgreSQL {spec.name} for {inst.label}'s service writes")

            url = _copy_at_head(inst, spec, opts, "svc", heads[inst.label], rows_key, home)
            names.append(url.rsplit("/", 1)[1])
            _todo(inst, _env(home, url), "db", "current")  # the revision accepts its copy
            urls[inst.label] = url
        floor_url = _floor_database()
        names.append(floor_url.rsplit("/", 1)[1])
        for inst in (old, new):
            workers[inst.label] = subprocess.Popen(
                [
                    str(inst.venv / "bin" / "python"),
                    "-I",
                    str(Path(__file__).with_name("rev_service_worker.py")),
                    urls[inst.label],
                    str(opts.seed),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=_env(home),
            )
        import psycopg

        floor = psycopg.connect(floor_url)
        times: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
        floor_ms: list[float] = []
        warmup = min(100, iterations // 5)
        log(f"revisions: service writes, {warmup} warm-up + {iterations} interleaved iterations")
        for i in range(warmup + iterations):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            for label in order:
                proc = workers[label]
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write("\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"the {label} service worker ended (exit {proc.wait()})")
                if i >= warmup:
                    for op, ms in json.loads(line).items():
                        times[label].setdefault(op, []).append(ms)
            start = time.perf_counter_ns()
            floor.execute("UPDATE floor SET n = n + 1 WHERE id = 1")
            floor.commit()
            if i >= warmup:
                floor_ms.append((time.perf_counter_ns() - start) / 1e6)
            if (i + 1 - warmup) % 250 == 0 and i >= warmup:
                log(f"  {i + 1 - warmup}/{iterations} iterations")
        floor.close()
        ops: dict[str, Any] = {}
        for op in times["new"]:
            so, sn = summarize(times["old"][op]), summarize(times["new"][op])
            ops[op] = {
                "old": so,
                "new": sn,
                "ratio_median": ratio(sn["median"], so["median"]),
                "ratio_p95": ratio(sn["p95"], so["p95"]),
            }
        return {
            "dataset": vars(spec),
            "iterations": iterations,
            "schema": heads,
            "ops": ops,
            "commit_floor": summarize(floor_ms),
        }
    finally:
        for proc in workers.values():
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not opts.keep_db:
            for name in names:
                pg_drop(name)
        shutil.rmtree(home, ignore_errors=True)


def _api(old: Installed, new: Installed, opts: Options) -> dict[str, Any]:
    """Each revision's `todo serve` under the API section's mixed closed loop, in rounds.

    Issue 17 asks for the mixed 70/30 (real writes, `bench/wrk_mixed.lua`) against the
    capacity before it, measured in one run: each server as installed (its own default
    worker count) and the old one also with the new default's count, so the table tells
    the worker default from the rest. Every run gets a fresh copy of the large
    PostgreSQL set at its revision's schema head (the writes of one run never slow the
    next), the same users and tokens, and the same seconds; the servers take turns in a
    shuffled order each round.
    """
    from bench import api_bench
    from todo_cli.cli.serve import available_cores

    # Each revision's own FastAPI app: the api extra, in venvs of their own, so that the
    # CLI part keeps measuring the CLI as installed without it.
    constraints = _constraints()
    old = install("old", old.rev, constraints, ("api",))
    new = install("new", new.rev, constraints, ("api",))
    spec = datagen.specs(opts.quick)["large"]
    rounds = opts.pick(3, 1)
    seconds = opts.api_duration or opts.pick(30, 8)
    cores = available_cores()
    home = Path(tempfile.mkdtemp(prefix="todo-bench-rev-api-"))
    secret = secrets.token_hex(32)
    rng = random.Random(opts.seed)
    heads = {inst.label: _head_of(inst) for inst in (old, new)}
    rows_key = spec.key_at(heads["new"])
    servers = [
        ("old", old, []),
        (f"old, --workers {cores}", old, ["--workers", str(cores)]),
        ("new", new, []),
    ]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in servers}
    made: set[str] = set()

    def fresh_copy(inst: Installed) -> str:
        url = _copy_at_head(inst, spec, opts, "rev_api", heads[inst.label], rows_key, home)
        made.add(url.rsplit("/", 1)[1])
        return url

    try:
        users = api_bench._users(fresh_copy(old), 2000, rng)
        data_file = home / "users.txt"
        with open(data_file, "w") as f:
            for user_id, task_ids in users:
                token = api_bench._mint(user_id, secret)
                f.write(f"{user_id} {token} {','.join(str(t) for t in task_ids)}\n")
        first_user, first_tasks = users[0]
        probe = f"/users/{first_user}/tasks/{first_tasks[0]}"
        probe_token = api_bench._mint(first_user, secret)
        for round_number in range(rounds):
            order = list(servers)
            rng.shuffle(order)
            for name, inst, args in order:
                env = {**_env(home, fresh_copy(inst)), "TODO_API_SECRET": secret}
                command = " ".join(
                    [inst.todo, "serve", "--host", "{host}", "--port", "{port}", *args]
                )
                with api_bench.Server(command, env, home, "/openapi.json") as server:
                    status, body = api_bench.get(server.port, probe, probe_token)
                    if status != 200:
                        raise RuntimeError(f"{name}: GET of a known task answered {status}")
                    api_bench.settle(server.port, probe, probe_token)
                    log(f"revisions: api, round {round_number + 1}/{rounds}, {name}, {seconds}s")
                    result = api_bench._wrk(server.port, home, data_file, "mixed", seconds)
                runs[name].append(result)
                log(
                    f"  {name}: {result['rps']:.0f} req/s, "
                    f"p95 {result['latency_ms']['p95']:.0f} ms, errors {result['errors']}"
                )
        workers = {
            name: int(args[1]) if args else _default_workers(inst, home, cores)
            for name, inst, args in servers
        }
    finally:
        if not opts.keep_db:
            for database in made:
                pg_drop(database)
        shutil.rmtree(home, ignore_errors=True)
    rows: dict[str, Any] = {}
    for name, _, _ in servers:
        rps = [r["rps"] for r in runs[name]]
        rows[name] = {
            "workers": workers[name],
            "rps": rps,
            "rps_median": statistics.median(rps),
            "p95_ms": [r["latency_ms"]["p95"] for r in runs[name]],
            "errors": sum(r["errors"] for r in runs[name]),
            # What the errors were: HTTP statuses of every run, and wrk's socket errors
            # (a timeout is a request not answered within wrk's 10 s).
            "statuses": [r["statuses"] for r in runs[name]],
            "socket_errors": [r["socket_errors"] for r in runs[name]],
        }
    base = rows["old"]["rps_median"]
    for row in rows.values():
        row["ratio_to_old"] = ratio(row["rps_median"], base)
    return {
        "dataset": vars(spec),
        "schema": heads,
        "rounds": rounds,
        "seconds": seconds,
        "connections": api_bench.CONNECTIONS,
        "cores": cores,
        "servers": rows,
    }


def _default_workers(inst: Installed, home: Path, cores: int) -> int | None:
    """How many workers the revision's `todo serve` starts unless told, from its help."""
    env = {**_env(home), "COLUMNS": "200"}
    done = subprocess.run(
        [inst.todo, "serve", "--help"], capture_output=True, text=True, env=env, check=False
    )
    text = " ".join(done.stdout.split())
    option = text[text.find("--workers") :]
    if "one per CPU core" in option[:200]:
        return cores
    found = re.search(r"\[default: (\d+)\]", option[:300])
    return int(found.group(1)) if found else None


def _floor_database() -> str:
    """A one-row table: an UPDATE and COMMIT there is what any durable write costs."""
    import psycopg
    from psycopg import sql

    name = f"{DB_PREFIX}rev_floor"
    pg_drop(name)
    with pg_admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = pg_url(name)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE floor (id int PRIMARY KEY, n int NOT NULL)")
        conn.execute("INSERT INTO floor VALUES (1, 0)")
    return url


def _cpu_cells(row: dict[str, Any]) -> str:
    if "cpu_old" not in row:
        return "| | | | |"
    low, high = row["cpu_ratio_median_95ci"]
    return (
        f"| {_f(row['cpu_old']['median'])} | {_f(row['cpu_new']['median'])} "
        f"| {_f(row['cpu_ratio_median'], 3)} | {_f(low, 3)}–{_f(high, 3)} |"
    )


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render(data: dict[str, Any]) -> str:
    """Markdown tables of the comparison (also in bench/results/revisions.md)."""
    old, new = data["old"], data["new"]
    lines = [
        f"old = `{old['rev']}` ({old['commit']}, {old['subject']})  ",
        f"new = `{new['rev']}` ({new['commit']}, {new['subject']})",
        "",
    ]
    cli = data.get("cli")
    if cli:
        lines += [
            f"CLI: {cli['runs']} interleaved rounds; ms, spawn to exit; ratio = new / old"
            f" (budget ≤ {data['budget_ratio']:.2f}); 95% CI = bootstrap of the ratio of"
            " medians. CPU = the process's user + system time (median), which other work on"
            " the machine inflates far less than wall time.",
            "",
            "| command | backend | old median | new median | old p95 | new p95 "
            "| ratio median | 95% CI | ratio p95 | verdict | CPU old | CPU new | CPU ratio "
            "| CPU 95% CI |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in cli["rows"]:
            head = f"| `{row['command']}` | {row['backend']} "
            if "error" in row:
                lines.append(head + f"| {row['error']} | | | | | | | |")
                continue
            r = row["ratio_median"]
            low, high = row["ratio_median_95ci"]
            verdict = "within" if r is not None and r <= data["budget_ratio"] else "over"
            lines.append(
                head
                + f"| {_f(row['old']['median'])} | {_f(row['new']['median'])} "
                + f"| {_f(row['old']['p95'])} | {_f(row['new']['p95'])} "
                + f"| {_f(r, 3)} | {_f(low, 3)}–{_f(high, 3)} | {_f(row['ratio_p95'], 3)} "
                + f"| {verdict} "
                + _cpu_cells(row)
            )
        lines.append("")
    service = data.get("service")
    if service:
        ds = service["dataset"]
        fl = service["commit_floor"]
        lines += [
            f"Service: PostgreSQL, {ds['users']:,} users, {ds['tasks']:,} tasks (a copy per"
            f" revision, schema {service['schema']['old']} / {service['schema']['new']});"
            f" {service['iterations']:,} iterations, old and new alternating; ms per call,"
            " session open → call → close. Commit floor (a one-row UPDATE + COMMIT, raw"
            f" psycopg, same loop): p50 {_f(fl['median'], 2)}, p95 {_f(fl['p95'], 2)}.",
            "",
            "| operation | old p50 | new p50 | old p95 | new p95 | new p99 "
            "| ratio p50 | ratio p95 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for op, row in service["ops"].items():
            lines.append(
                f"| `{op}` | {_f(row['old']['median'], 2)} | {_f(row['new']['median'], 2)} "
                f"| {_f(row['old']['p95'], 2)} | {_f(row['new']['p95'], 2)} "
                f"| {_f(row['new']['p99'], 2)} | {_f(row['ratio_median'], 3)} "
                f"| {_f(row['ratio_p95'], 3)} |"
            )
        lines.append("")
    api = data.get("api")
    if api:
        ds = api["dataset"]
        lines += [
            f"API: `todo serve` of each revision, the mixed closed loop (`bench/wrk_mixed.lua`:"
            " 35% list of 50, 35% get, 10% each create, update to a new title and delete;"
            f" real writes) with {api['connections']:,} connections,"
            f" {api['seconds']:.0f} s per run, {api['rounds']} rounds in a shuffled order;"
            f" each run on a fresh copy of PostgreSQL {ds['name']} ({ds['tasks']:,} tasks,"
            f" schema {api['schema']['old']} / {api['schema']['new']}); {api['cores']}"
            " cores. req/s of each run; ratio = median / the old server's as installed.",
            "",
            "| server | workers | req/s per run | median req/s | p95 ms per run | errors "
            "| of which timeouts | ratio to old |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, row in api["servers"].items():
            timeouts = sum(e.get("timeout", 0) for e in row.get("socket_errors", []))
            lines.append(
                f"| {name} | {row['workers'] or '?'} | {', '.join(f'{r:.0f}' for r in row['rps'])} "
                f"| {row['rps_median']:.0f} | {', '.join(f'{p:.0f}' for p in row['p95_ms'])} "
                f"| {row['errors']} | {timeouts} | {_f(row['ratio_to_old'], 2)}× |"
            )
        lines.append("")
    return "\n".join(lines)
