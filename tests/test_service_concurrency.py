"""Concurrent writers, on SQLite and PostgreSQL: nothing lost, nothing duplicated."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlmodel import Session

from todo_cli import service
from todo_cli.errors import PreconditionFailed
from todo_cli.models import TaskCreate, TaskUpdate

T = TypeVar("T")
WRITERS = 20


def _all_at_once(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run `work(i)` in `count` threads released at the same moment; collect results."""
    barrier = threading.Barrier(count)

    def run(i: int) -> T | BaseException:
        barrier.wait()
        try:
            return work(i)
        except BaseException as exc:  # collected, not raised: the test inspects them
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_simultaneous_creates_for_one_user_get_distinct_numbers(
    session_factory: Callable[[], Session],
) -> None:
    with session_factory() as session:
        user_id = service.create_user(session, name="alice").id

    def create(i: int) -> int:
        with session_factory() as session:
            return service.create_task(
                session, user_id=user_id, task=TaskCreate(title=f"task {i}")
            ).number

    results = _all_at_once(WRITERS, create)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert sorted(results) == list(range(1, WRITERS + 1))  # type: ignore[type-var]


def test_concurrent_complete_and_edit_lose_neither_change(
    session_factory: Callable[[], Session],
) -> None:
    with session_factory() as session:
        user_id = service.create_user(session, name="alice").id
        service.create_task(session, user_id=user_id, task=TaskCreate(title="old"))

    def work(i: int) -> object:
        with session_factory() as session:
            if i == 0:
                return service.complete_tasks(session, user_id=user_id, refs=["1"])
            return service.update_task(
                session, user_id=user_id, ref="1", changes=TaskUpdate(title="new")
            )

    assert not any(isinstance(r, BaseException) for r in _all_at_once(2, work))
    with session_factory() as session:
        task = service.get_task(session, user_id=user_id, ref="1")
    assert (task.title, task.is_completed, task.version) == ("new", True, 3)


@pytest.mark.parametrize("racers", [2, 8])
def test_racing_writers_with_the_same_expected_version_exactly_one_wins(
    session_factory: Callable[[], Session], racers: int
) -> None:
    with session_factory() as session:
        user_id = service.create_user(session, name="alice").id
        service.create_task(session, user_id=user_id, task=TaskCreate(title="v1"))

    def write(i: int) -> str:
        with session_factory() as session:
            task = service.update_task(
                session,
                user_id=user_id,
                ref="1",
                changes=TaskUpdate(title=f"writer {i}"),
                expected_version=1,
            )
            return task.title

    results = _all_at_once(racers, write)
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, PreconditionFailed)]
    assert len(winners) == 1 and len(losers) == racers - 1, results
    with session_factory() as session:
        task = service.get_task(session, user_id=user_id, ref="1")
    assert (task.title, task.version) == (winners[0], 2)


def test_concurrent_multi_task_operations_in_opposite_orders_do_not_deadlock(
    session_factory: Callable[[], Session],
) -> None:
    with session_factory() as session:
        user_id = service.create_user(session, name="alice").id
        for title in "abcd":
            service.create_task(session, user_id=user_id, task=TaskCreate(title=title))

    def work(i: int) -> object:
        refs = ["1", "2", "3", "4"] if i % 2 else ["4", "3", "2", "1"]
        with session_factory() as session:
            if i % 4 < 2:
                return service.complete_tasks(session, user_id=user_id, refs=refs)
            return service.reopen_tasks(session, user_id=user_id, refs=refs)

    results = _all_at_once(8, work)
    assert [r for r in results if isinstance(r, BaseException)] == []


def test_a_long_read_never_blocks_a_writer(session_factory: Callable[[], Session]) -> None:
    """A reader mid-stream (`todo list --json | less`) must not hold up `todo add`."""
    with session_factory() as session:
        user_id = service.create_user(session, name="alice").id
        for title in "abc":
            service.create_task(session, user_id=user_id, task=TaskCreate(title=title))

    with session_factory() as reader:
        stream = service.iter_tasks(reader, user_id=user_id, status="all")
        next(stream)  # the read transaction is open and unfinished
        written = threading.Event()

        def write() -> None:
            with session_factory() as writer:
                service.create_task(writer, user_id=user_id, task=TaskCreate(title="while reading"))
                written.set()

        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=10)
        assert written.is_set(), "the writer waited for the reader"
        assert len(list(stream)) == 2  # the reader's snapshot is unchanged


def test_a_session_that_read_first_can_still_write_under_contention(
    session_factory: Callable[[], Session],
) -> None:
    """The CLI looks the user up, then writes, in one session: that must queue, not fail."""
    with session_factory() as session:
        user_id = service.create_user(session, name="alice").id

    def work(i: int) -> int:
        with session_factory() as session:
            service.get_user(session, ref="alice")  # opens a read transaction
            return service.create_task(
                session, user_id=user_id, task=TaskCreate(title=f"t{i}")
            ).number

    results = _all_at_once(10, work)
    assert sorted(results) == list(range(1, 11)), results  # type: ignore[type-var]
