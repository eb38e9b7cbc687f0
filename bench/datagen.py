"""Fast, deterministic data sets: COPY into PostgreSQL, executemany into SQLite.

A data set is a number of users and tasks; a few named users own a known number of tasks
(`bench` 100, `heavy` 10,000, `huge` 100,000 in the large set) and the others share the
rest. Every database is migrated with `db.upgrade` first, so the schema is the product's;
the rows are written straight to the tables, in created_at order across users (as a real
database fills up), with `users.last_task_number` equal to each user's highest number.

Generated databases are cached: SQLite files under `bench/.cache/`, PostgreSQL as a
template database `todo_bench_tpl_<key>`; a run works on a copy of either.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import CACHE_DIR, DB_PREFIX, log, pg_admin, pg_database_exists, pg_drop, pg_url

GEN_VERSION = 1  # bump when the generated content changes, to invalidate caches
START = datetime(2024, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)
_SPAN_US = int((END - START).total_seconds() * 1_000_000)
_EPOCH = datetime(1970, 1, 1)
_START_US = int((START - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
COMPLETED_SHARE = 0.2


@dataclass(frozen=True)
class DatasetSpec:
    """`named` users own exactly that many tasks, all pending; the rest share the remainder."""

    name: str
    users: int
    tasks: int
    named: tuple[tuple[str, int], ...]

    @property
    def key(self) -> str:
        from todo_cli.db import HEAD_REVISION

        return self.key_at(HEAD_REVISION)

    def key_at(self, revision: str) -> str:
        """The key of this data set at a schema revision (`key` is at this checkout's head)."""
        named = "-".join(f"{n}{c}" for n, c in self.named)
        return f"{self.name}_u{self.users}_t{self.tasks}_{named}_g{GEN_VERSION}_r{revision}"

    def owned(self, user: str) -> int:
        return dict(self.named)[user]


def specs(quick: bool) -> dict[str, DatasetSpec]:
    """tiny: 100 tasks; mid: ~10,000; large: 1,000,000 for 10,000 users (quick: 100,000)."""
    large = (
        DatasetSpec("large", 1_000, 100_000, (("bench", 100), ("heavy", 10_000), ("huge", 20_000)))
        if quick
        else DatasetSpec(
            "large", 10_000, 1_000_000, (("bench", 100), ("heavy", 10_000), ("huge", 100_000))
        )
    )
    return {
        "tiny": DatasetSpec("tiny", 1, 100, (("bench", 100),)),
        "mid": DatasetSpec("mid", 2, 10_100, (("bench", 100), ("heavy", 10_000))),
        "large": large,
    }


# --- content ------------------------------------------------------------------------------

_VERBS = (
    "Buy", "Call", "Email", "Review", "Fix", "Write", "Schedule", "Pay", "Book", "Clean",
    "Prepare", "Update", "Renew", "Order", "Plan", "Send", "Check", "Finish", "Read", "Submit",
    "Draft", "Cancel", "Return", "Organise", "Back up", "Test", "Refactor", "Deploy", "Water",
    "Pick up",
)  # fmt: skip
_OBJECTS = (
    "milk", "the quarterly report", "a dentist appointment", "car insurance",
    "the flight to Berlin", "pull request #{n}", "invoice {n}", "the garden", "mom",
    "the landlord", "the slides for Monday", "passport", "groceries", "the kitchen",
    "library books", "the team offsite", "tax return", "gym membership", "bug #{n}",
    "the release notes", "the database migration", "birthday present for Sam", "the plants",
    "train tickets", "the budget spreadsheet", "onboarding docs", "the server certificates",
    "a haircut", "the recycling", "the newsletter",
)  # fmt: skip
_SUFFIXES = (
    "", "", "", "", " before Friday", " for Alice", " with the team", " this weekend",
    " (urgent)", " after lunch", " tomorrow", " by end of month", " again",
)  # fmt: skip
_DESCRIPTIONS = (
    "Remember to check the receipt.",
    "See the thread from last week for context.",
    "Ask Bob whether this is still needed.",
    "Two options: do it online, or go in person on Tuesday morning.",
    "Blocked until the vendor answers.",
)


def make_title(rng: random.Random) -> str:
    obj = rng.choice(_OBJECTS)
    if "{n}" in obj:
        obj = obj.format(n=rng.randrange(1, 5000))
    return f"{rng.choice(_VERBS)} {obj}{rng.choice(_SUFFIXES)}"


@dataclass
class Row:
    user: str  # 32 hex digits
    id: str  # 32 hex digits
    number: int
    title: str
    description: str | None
    completed: bool
    created_us: int
    updated_us: int
    version: int


@dataclass
class UserRow:
    id: str
    name: str
    created_us: int
    last_number: int


def generate(
    spec: DatasetSpec, seed: int, *, key: str | None = None
) -> tuple[list[UserRow], list[Row]]:
    """All rows of a data set, tasks sorted by created_at across users.

    The rows follow from the seed and the key (default `spec.key`); two schema revisions
    get the same rows when given the same key.
    """
    rng = random.Random(f"{seed}-{key or spec.key}")
    counts: list[tuple[str, int, bool]] = [(name, count, True) for name, count in spec.named]
    others = spec.users - len(spec.named)
    rest = spec.tasks - sum(c for _, c, _ in counts)
    for i in range(others):
        share = rest // others + (1 if i < rest % others else 0)
        counts.append((f"user{i + 1:05d}", share, False))
    users: list[UserRow] = []
    rows: list[Row] = []
    for name, count, named in counts:
        user_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        times = sorted(_START_US + rng.randrange(_SPAN_US) for _ in range(count))
        user_created = (times[0] if times else _START_US) - rng.randrange(1, 86_400_000_000)
        users.append(UserRow(user_id, name, user_created, count))
        for number, created in enumerate(times, start=1):
            completed = (not named) and rng.random() < COMPLETED_SHARE
            edited = rng.random() < 0.1
            updated = created
            if completed or edited:
                updated = min(created + rng.randrange(1, 30 * 86_400_000_000), _START_US + _SPAN_US)
            rows.append(
                Row(
                    user=user_id,
                    id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                    number=number,
                    title=make_title(rng),
                    description=rng.choice(_DESCRIPTIONS) if rng.random() < 0.15 else None,
                    completed=completed,
                    created_us=created,
                    updated_us=updated,
                    version=1 + int(completed) + int(edited),
                )
            )
    rows.sort(key=lambda r: r.created_us)
    return users, rows


def _ts(us: int) -> str:
    """Naive UTC text, as SQLAlchemy stores timestamps on SQLite."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat(sep=" ", timespec="microseconds")


# --- SQLite -------------------------------------------------------------------------------


def sqlite_database(spec: DatasetSpec, seed: int) -> Path:
    """The cached SQLite file of a data set, generated on first use."""
    path = CACHE_DIR / f"sqlite_{spec.key}_s{seed}.db"
    if path.exists():
        return path
    from todo_cli import db
    from todo_cli.config import DatabaseURL

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tmp = path.with_suffix(".tmp")
    for leftover in CACHE_DIR.glob(tmp.name + "*"):
        leftover.unlink()
    db.upgrade(DatabaseURL.parse(f"sqlite:///{tmp}"))
    users, rows = generate(spec, seed)
    fill_sqlite(tmp, users, rows)
    tmp.rename(path)
    log(f"generated SQLite {spec.name} ({spec.tasks:,} tasks) in {time.monotonic() - started:.1f}s")
    return path


def fill_sqlite(path: Path, users: list[UserRow], rows: list[Row]) -> None:
    """Write a data set's rows into a migrated SQLite file, then ANALYZE, WAL and VACUUM."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO users (id, name, created_at, last_task_number) VALUES (?, ?, ?, ?)",
        ((u.id, u.name, _ts(u.created_us), u.last_number) for u in users),
    )
    batch = 50_000
    for start in range(0, len(rows), batch):
        conn.executemany(
            "INSERT INTO tasks (user_id, id, number, title, description, is_completed,"
            " created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    r.user,
                    r.id,
                    r.number,
                    r.title,
                    r.description,
                    int(r.completed),
                    _ts(r.created_us),
                    _ts(r.updated_us),
                    r.version,
                )
                for r in rows[start : start + batch]
            ),
        )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("VACUUM")
    conn.close()


def sqlite_copy(spec: DatasetSpec, seed: int, dest: Path) -> str:
    """A working copy of the cached SQLite file; returns its URL."""
    source = sqlite_database(spec, seed)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, dest)
    return f"sqlite:///{dest}"


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_template(
    spec: DatasetSpec,
    seed: int,
    *,
    revision: str | None = None,
    upgrade: Callable[[str], None] | None = None,
    rows_key: str | None = None,
) -> str:
    """The cached template database of a data set, generated on first use.

    By default at this checkout's schema head, migrated by `db.upgrade`. For another
    revision (bench/revisions.py): `revision` is its schema head, `upgrade(url)` migrates
    an empty database there, and `rows_key` is the key the rows are generated from.
    """
    key = spec.key if revision is None else spec.key_at(revision)
    if rows_key is not None and rows_key != key:
        key = f"{key}_d{rows_key}"
    digest = hashlib.sha1(f"{key}_s{seed}".encode()).hexdigest()[:12]
    name = f"{DB_PREFIX}tpl_{spec.name}_{digest}"  # within PostgreSQL's 63 characters
    if pg_database_exists(name):
        return name
    from psycopg import sql

    from todo_cli import db
    from todo_cli.config import DatabaseURL

    started = time.monotonic()
    building = f"{DB_PREFIX}building"
    pg_drop(building)
    with pg_admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
    url = pg_url(building)
    if upgrade is None:
        db.upgrade(DatabaseURL.parse(url))
    else:
        upgrade(url)
    users, rows = generate(spec, seed, key=rows_key)
    fill_pg(url, users, rows)
    with pg_admin() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(building), sql.Identifier(name)
            )
        )
    log(
        f"generated PostgreSQL {spec.name} ({spec.tasks:,} tasks)"
        f" in {time.monotonic() - started:.1f}s"
    )
    return name


def fill_pg(url: str, users: list[UserRow], rows: list[Row]) -> None:
    """COPY a data set's rows into a migrated PostgreSQL database, then VACUUM (ANALYZE)."""
    import psycopg

    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY users (id, name, created_at, last_task_number) FROM STDIN") as copy:
                for u in users:
                    copy.write(f"{u.id}\t{u.name}\t{_ts(u.created_us)}+00\t{u.last_number}\n")
            with cur.copy(
                "COPY tasks (user_id, id, number, title, description, is_completed,"
                " created_at, updated_at, version) FROM STDIN"
            ) as copy:
                for chunk in _chunks(rows, 20_000):
                    copy.write("".join(_pg_line(r) for r in chunk))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")


def _chunks(rows: list[Row], size: int) -> Iterator[list[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _pg_line(r: Row) -> str:
    # Generated text has no tab, newline or backslash, so COPY's text format needs no escaping.
    description = r.description if r.description is not None else "\\N"
    return (
        f"{r.user}\t{r.id}\t{r.number}\t{r.title}\t{description}\t{'t' if r.completed else 'f'}"
        f"\t{_ts(r.created_us)}+00\t{_ts(r.updated_us)}+00\t{r.version}\n"
    )


def pg_copy(spec: DatasetSpec, seed: int, purpose: str, **at: Any) -> str:
    """A fresh working copy of a data set's PostgreSQL database; returns its URL.

    `at`: pg_template's revision, upgrade and rows_key, for another revision's schema.
    """
    from bench.common import pg_copy_database

    template = pg_template(spec, seed, **at)
    return pg_copy_database(template, f"{DB_PREFIX}run_{purpose}_{spec.name}")


def database_url(backend: str, spec: DatasetSpec, seed: int, purpose: str, workdir: Path) -> str:
    if backend == "sqlite":
        return sqlite_copy(spec, seed, workdir / f"{purpose}_{spec.name}.db")
    return pg_copy(spec, seed, purpose)
