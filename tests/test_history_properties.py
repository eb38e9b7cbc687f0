"""History and undo, explored by Hypothesis (SPEC → History and undo).

A state machine drives two users through random creates, edits, completions, reopens and
deletions (one or several tasks, by number), interleaved with `undo` (the latest),
`undo ID` (any recorded change id: undone ones, undo records, the other user's ids, ids
that never existed) and `redo`, each by either user. A plain in-memory model applies the
semantics of `service/history.py`:

- `undo` reverts the newest change of kind change/redo not yet undone, `redo` the newest
  undo not yet undone; nothing left is `ChangeNotFound`, and so is an unknown id;
- a change already undone is a `Conflict`;
- optimistic: every task of the target must still be as the change left it (deleted, or
  with the content it gave it; a later undo may have put it back so at a higher version),
  otherwise `Conflict` naming those tasks, and nothing changes;
- a restore writes version + 1; a deleted task comes back with its id and number; an
  undone creation deletes the task; undoing an undo is a redo.

After every step each user's tasks (number, id, title, description, is_completed, version)
and change log (id, kind, summary, undoes, undone_by, origin, tasks) equal the model's;
versions of a task id never go down; numbers are never handed out twice. Both users are
checked after every step, so an undo by one that touched the other's tasks or history
fails the run. It runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from todo_cli import service
from todo_cli.errors import ChangeNotFound, Conflict, TaskNotFound, TodoError
from todo_cli.models import AnyTask, Task, TaskCreate, TaskUpdate, User

USERS = ("ann", "bob")
titles = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=20
).filter(lambda t: t.strip() != "")
descriptions = st.none() | st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30
)
users = st.sampled_from(USERS)


@dataclass(frozen=True)
class ModelTask:
    id: uuid.UUID
    number: int
    title: str
    description: str | None
    is_completed: bool
    version: int


@dataclass(frozen=True)
class ModelItem:
    """A task in a change: as the change found it (None: it was new) and as it left it
    (None: the change deleted it)."""

    before: ModelTask | None
    after: ModelTask | None

    @property
    def after_version(self) -> int | None:
        return self.after.version if self.after is not None else None


@dataclass
class ModelChange:
    id: int
    kind: str
    summary: str
    undoes: int | None
    items: dict[uuid.UUID, ModelItem]
    undone_by: int | None = None


@dataclass
class ModelUser:
    id: uuid.UUID
    tasks: dict[uuid.UUID, ModelTask] = field(default_factory=dict)
    changes: list[ModelChange] = field(default_factory=list)  # oldest first
    next_number: int = 1
    # Every number ever handed out, and the task it belongs to, forever.
    numbers: dict[int, uuid.UUID] = field(default_factory=dict)

    def by_number(self, number: int) -> ModelTask | None:
        return next((t for t in self.tasks.values() if t.number == number), None)

    def change(self, change_id: int) -> ModelChange | None:
        return next((c for c in self.changes if c.id == change_id), None)


def _row(task: AnyTask) -> ModelTask:
    return ModelTask(
        task.id, task.number, task.title, task.description, task.is_completed, task.version
    )


def _number(current: ModelTask | None, item: ModelItem) -> int:
    task = current or item.before or item.after
    assert task is not None
    return task.number


def _content(task: ModelTask) -> tuple[uuid.UUID, int, str, str | None, bool]:
    return (task.id, task.number, task.title, task.description, task.is_completed)


def _summary(verb: str, numbers: list[int]) -> str:
    return f"{verb} {' '.join(map(str, sorted(numbers)))}"


def _revert_summary(kind: str, target: ModelChange) -> str:
    if target.kind == "change":
        return f"{kind} {target.id} ({target.summary})"
    return f"{kind} {target.summary.partition(' ')[2]}"


@dataclass(frozen=True)
class Refusal:
    """What the model expects an undo or redo to refuse with."""

    error: type[TodoError]
    details: dict[str, Any] | None = None  # None: not checked


class HistoryMachine(RuleBasedStateMachine):
    session_factory: Callable[[], Session]
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        with self.engine.begin() as connection:
            connection.execute(text("DELETE FROM tasks"))
            connection.execute(text("DELETE FROM users"))  # cascades to the change log
        self.users: dict[str, ModelUser] = {}
        with self.session_factory() as session:
            for name in USERS:
                user: User = service.create_user(session, name=name)
                self.users[name] = ModelUser(user.id)
        self.highest_version: dict[uuid.UUID, int] = {}
        self.owner_of: dict[uuid.UUID, str] = {}
        self.last_change_id = dict.fromkeys(USERS, 0)

    # --- helpers --------------------------------------------------------------------

    def _numbers(self, user: str, data: st.DataObject, most: int) -> list[int]:
        """1..most task numbers: mostly the user's own tasks, sometimes deleted or never
        handed out ones (the draws do not depend on the state, so replays are exact)."""
        model = self.users[user]
        count = data.draw(st.integers(1, most), label="how many")
        picks = data.draw(st.lists(st.integers(0, 10_000), min_size=count, max_size=count))
        live = sorted(t.number for t in model.tasks.values())
        numbers = []
        for pick in picks:
            if live and pick % 5 != 0:
                # The newest few more often: a history of the same tasks, changed again
                # and again, is where undo conflicts.
                pool = live[-3:] if pick % 5 < 3 else live
                numbers.append(pool[pick // 5 % len(pool)])
            else:  # anything issued so far, or the next one, which does not exist yet
                numbers.append(pick % model.next_number + 1)
        return numbers

    def _record(self, user: str, session: Session, change: ModelChange | None) -> None:
        """Check what the write committed against the model's change (None: nothing)."""
        committed = service.last_committed(session)
        if change is None:
            assert committed is None
            return
        assert committed is not None
        assert committed.task_ids == frozenset(change.items)
        # Ids count the user's changes: one more each, no gaps (a write that changed
        # nothing takes none).
        assert committed.change_id == self.last_change_id[user] + 1
        self.last_change_id[user] = committed.change_id
        change.id = committed.change_id
        self.users[user].changes.append(change)

    def _write(self, user: str, tasks: dict[uuid.UUID, ModelTask], verb: str) -> ModelChange | None:
        """The change that writing `tasks` (None values: deleting) makes to the model."""
        model = self.users[user]
        items: dict[uuid.UUID, ModelItem] = {}
        for task_id, after in tasks.items():
            before = model.tasks[task_id]
            if after is not None and after == before:
                continue
            items[task_id] = ModelItem(before, after)
        if not items:
            return None
        numbers = [model.tasks[task_id].number for task_id in items]
        return ModelChange(0, "change", _summary(verb, numbers), None, items)

    def _apply(self, user: str, tasks: dict[uuid.UUID, Any]) -> None:
        model = self.users[user]
        for task_id, after in tasks.items():
            if after is None:
                del model.tasks[task_id]
            else:
                model.tasks[task_id] = after

    def _expect_refusal(self, error: type[TodoError], call: Callable[[Session], Any]) -> TodoError:
        """`call` refuses with exactly `error` and commits nothing (the invariant then checks
        that nothing changed)."""
        with self.session_factory() as session:
            with pytest.raises(error) as raised:
                call(session)
            assert service.last_committed(session) is None
        assert type(raised.value) is error
        return raised.value

    @initialize(new=st.lists(st.tuples(titles, descriptions), min_size=2, max_size=4))
    def some_tasks(self, new: list[tuple[str, str | None]]) -> None:
        """Something to undo from the first step on, for both."""
        self.create(USERS[0], new[::2])
        self.create(USERS[1], new[1::2])

    # --- ordinary changes ---------------------------------------------------------------

    @rule(user=users, new=st.lists(st.tuples(titles, descriptions), min_size=1, max_size=2))
    def create(self, user: str, new: list[tuple[str, str | None]]) -> None:
        model = self.users[user]
        with self.session_factory() as session:
            created = service.create_tasks(
                session,
                user_id=model.id,
                tasks=[TaskCreate(title=title, description=desc) for title, desc in new],
            )
            numbers = list(range(model.next_number, model.next_number + len(new)))
            assert [t.number for t in created] == numbers
            for task in created:
                assert task.number not in model.numbers, "a number was handed out twice"
                assert task.id not in self.owner_of
            expected = [(title.strip(), desc, False, 1) for title, desc in new]
            assert [(t.title, t.description, t.is_completed, t.version) for t in created] == (
                expected
            )
            rows = [_row(task) for task in created]
            items = {row.id: ModelItem(None, row) for row in rows}
            self._record(
                user, session, ModelChange(0, "change", _summary("add", numbers), None, items)
            )
        model.next_number += len(new)
        for row in rows:
            model.tasks[row.id] = row
            model.numbers[row.number] = row.id
            self.owner_of[row.id] = user

    @rule(
        user=users,
        data=st.data(),
        title=st.none() | titles,
        description=st.sampled_from(["keep", "clear"]) | descriptions,
    )
    def edit(self, user: str, data: st.DataObject, title: str | None, description: object) -> None:
        model = self.users[user]
        (number,) = self._numbers(user, data, 1)
        fields: dict[str, Any] = {}
        if title is not None:
            fields["title"] = title
        if description != "keep":
            fields["description"] = None if description == "clear" else description
        if not fields:
            fields["title"] = "edited"
        changes = TaskUpdate(**fields)
        found = model.by_number(number)

        def call(session: Session) -> Task:
            return service.update_task(session, user_id=model.id, ref=str(number), changes=changes)

        if found is None:
            self._expect_refusal(TaskNotFound, call)
            return
        after = replace(
            found,
            title=str(fields.get("title", found.title)).strip(),
            description=fields.get("description", found.description),
        )
        if after != found:
            after = replace(after, version=found.version + 1)
        with self.session_factory() as session:
            assert _row(call(session)) == after
            change = self._write(user, {found.id: after}, "edit")
            self._record(user, session, change)
        self._apply(user, {found.id: after})

    @rule(user=users, data=st.data(), completed=st.booleans())
    def done_or_reopen(self, user: str, data: st.DataObject, completed: bool) -> None:
        model = self.users[user]
        numbers = self._numbers(user, data, 3)
        refs = [str(n) for n in numbers]
        call_service = service.complete_tasks if completed else service.reopen_tasks

        def call(session: Session) -> list[Task]:
            return call_service(session, user_id=model.id, refs=refs)

        found = [model.by_number(n) for n in numbers]
        if any(task is None for task in found):
            error = self._expect_refusal(TaskNotFound, call)
            missing = sorted({str(n) for n, t in zip(numbers, found, strict=True) if t is None})
            assert sorted(set(error.details.get("refs", [error.details.get("ref")]))) == missing
            return
        afters: dict[uuid.UUID, ModelTask] = {}
        for task in found:
            assert task is not None
            afters[task.id] = (
                task
                if task.is_completed == completed
                else replace(task, is_completed=completed, version=task.version + 1)
            )
        with self.session_factory() as session:
            result = call(session)
            assert {_row(t) for t in result} == set(afters.values())
            change = self._write(user, afters, "done" if completed else "reopen")
            self._record(user, session, change)
        self._apply(user, afters)

    @rule(user=users, data=st.data())
    def rm(self, user: str, data: st.DataObject) -> None:
        model = self.users[user]
        numbers = self._numbers(user, data, 3)
        refs = [str(n) for n in numbers]

        def call(session: Session) -> list[Task]:
            return service.delete_tasks(session, user_id=model.id, refs=refs)

        found = [model.by_number(n) for n in numbers]
        if any(task is None for task in found):
            self._expect_refusal(TaskNotFound, call)
            return
        gone: dict[uuid.UUID, Any] = {task.id: None for task in found if task is not None}
        with self.session_factory() as session:
            assert {t.id for t in call(session)} == set(gone)
            change = self._write(user, gone, "rm")
            self._record(user, session, change)
        self._apply(user, gone)

    # --- undo and redo ------------------------------------------------------------------

    def _target(self, user: str, change_id: int | None, *, redo: bool) -> ModelChange | Refusal:
        model = self.users[user]
        if change_id is not None:
            target = model.change(change_id)
            if target is None:
                return Refusal(ChangeNotFound, {"change": change_id})
            if target.undone_by is not None:
                return Refusal(Conflict, {"change": target.id, "undone_by": target.undone_by})
            return target
        kinds = ("undo",) if redo else ("change", "redo")
        candidates = [c for c in model.changes if c.undone_by is None and c.kind in kinds]
        if not candidates:
            return Refusal(ChangeNotFound)
        return candidates[-1]

    def _changed_since(self, user: str, target: ModelChange) -> list[dict[str, Any]]:
        """The tasks of `target` that are no longer as it left them, as the conflict's
        details list them.

        "As it left them": deleted if it deleted them, else with the content (title,
        description, completion) it gave them, whatever the version: undoing the later
        changes of a task puts it back as it was, at a higher version, and then undo
        can go further back.
        """
        model = self.users[user]
        changed = []
        for task_id, item in target.items.items():
            current = model.tasks.get(task_id)
            if current is None and item.after is None:
                continue
            if (
                current is not None
                and item.after is not None
                and _content(current) == (_content(item.after))
            ):
                continue
            changed.append(
                {
                    "id": str(task_id),
                    "number": _number(current, item),
                    "expected_version": item.after_version,
                    "current_version": current.version if current is not None else None,
                }
            )
        return sorted(changed, key=lambda entry: entry["id"])

    def _revert(self, user: str, change_id: int | None, *, redo: bool) -> None:
        model = self.users[user]

        def call(session: Session) -> service.Logged:
            if redo:
                return service.redo_change(session, user_id=model.id)
            return service.undo_change(session, user_id=model.id, change_id=change_id)

        target = self._target(user, change_id, redo=redo)
        what = "redo" if redo else "undo" if change_id is None else "undo ID"
        if isinstance(target, Refusal):
            event(f"{what}: {target.error.__name__} {sorted(target.details or {})}")
            error = self._expect_refusal(target.error, call)
            if target.details is not None:
                assert error.details == target.details
            return
        changed = self._changed_since(user, target)
        event(f"{what} of a {target.kind}: {'changed since' if changed else 'done'}")
        if changed:
            error = self._expect_refusal(Conflict, call)
            assert error.details["change"] == target.id
            shown = sorted(error.details["tasks"], key=lambda entry: entry["id"])
            assert shown == changed
            return
        kind = "redo" if target.kind == "undo" else "undo"
        items: dict[uuid.UUID, ModelItem] = {}
        afters: dict[uuid.UUID, ModelTask | None] = {}
        for task_id, item in target.items.items():
            current = model.tasks.get(task_id)
            if item.before is None:  # it created the task: the task goes
                assert current is not None
                items[task_id] = ModelItem(current, None)
                afters[task_id] = None
            elif current is None:  # it deleted the task: back, id and number kept
                restored = replace(item.before, version=item.before.version + 1)
                items[task_id] = ModelItem(None, restored)
                afters[task_id] = restored
            else:
                restored = replace(
                    current,
                    title=item.before.title,
                    description=item.before.description,
                    is_completed=item.before.is_completed,
                    version=current.version + 1,
                )
                items[task_id] = ModelItem(current, restored)
                afters[task_id] = restored
        change = ModelChange(0, kind, _revert_summary(kind, target), target.id, items)
        with self.session_factory() as session:
            logged = call(session)
            assert logged.change.user_id == model.id
            assert (logged.change.kind, logged.change.undoes) == (kind, target.id)
            assert logged.change.summary == change.summary
            assert set(logged.task_ids) == set(items)
            self._record(user, session, change)
        assert logged.change.id == change.id
        target.undone_by = change.id
        self._apply(user, afters)

    @rule(user=users)
    def undo_latest(self, user: str) -> None:
        self._revert(user, None, redo=False)

    @rule(user=users, data=st.data())
    def undo_by_id(self, user: str, data: st.DataObject) -> None:
        """Any id the user has (undone ones and undo records too), one the other user has,
        or one nobody has."""
        kind = data.draw(st.sampled_from(["mine"] * 6 + ["theirs", "none"]))
        pick = data.draw(st.integers(0, 10_000), label="pick")
        other = next(name for name in USERS if name != user)
        pool = {"mine": self.users[user].changes, "theirs": self.users[other].changes}.get(kind)
        if pool:
            # The recent ones more often: those are the ones whose tasks changed since.
            recent = pool[-4:] if pick % 2 else pool
            change_id = recent[pick // 2 % len(recent)].id
        else:
            change_id = [0, self.last_change_id[user] + 1 + pick, 2**31 - 1][pick % 3]
        self._revert(user, change_id, redo=False)

    # Most steps would find nothing to redo otherwise; the user with no undo still does.
    @precondition(
        lambda self: any(c.kind == "undo" for u in self.users.values() for c in u.changes)
    )
    @rule(user=users)
    def redo(self, user: str) -> None:
        self._revert(user, None, redo=True)

    # --- the promises -------------------------------------------------------------------

    @invariant()
    def every_user_has_exactly_the_models_tasks_and_history(self) -> None:
        with self.session_factory() as session:
            for name, model in self.users.items():
                stored = service.list_tasks(session, user_id=model.id, status="all")
                assert all(task.user_id == model.id for task in stored)
                rows = {task.id: _row(task) for task in stored}
                assert rows == model.tasks, name
                logged = service.list_changes(session, user_id=model.id, limit=10_000)
                assert [
                    (
                        entry.change.id,
                        entry.change.kind,
                        entry.change.summary,
                        entry.change.undoes,
                        entry.change.undone_by,
                        entry.change.origin,
                        sorted(entry.task_ids),
                    )
                    for entry in logged
                ] == [
                    (c.id, c.kind, c.summary, c.undoes, c.undone_by, "cli", sorted(c.items))
                    for c in reversed(model.changes)
                ], name
                for row in rows.values():
                    # Numbers are never reused: a number always names the same task.
                    assert model.numbers[row.number] == row.id
                    assert self.owner_of[row.id] == name
                    # ETags only grow, across deletions and restores too.
                    assert row.version >= self.highest_version.get(row.id, 0)
                    self.highest_version[row.id] = row.version


def test_history_state_machine(session_factory: Callable[[], Session], engine: Engine) -> None:
    HistoryMachine.session_factory = staticmethod(session_factory)
    HistoryMachine.engine = engine
    run_state_machine_as_test(
        HistoryMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# --- by example ---------------------------------------------------------------------------


def _titles(session: Session, user: User) -> dict[int, tuple[str, bool, int]]:
    session.expire_all()
    return {
        task.number: (task.title, task.is_completed, task.version)
        for task in service.list_tasks(session, user_id=user.id, status="all")
    }


def test_repeated_undo_walks_back_over_the_same_task(session: Session, alice: User) -> None:
    """SPEC: "repeated, it goes further back", also when the changes are of one task."""
    service.create_task(session, user_id=alice.id, task=TaskCreate(title="Pay rent"))
    service.complete_tasks(session, user_id=alice.id, refs=["1"])
    service.update_task(
        session, user_id=alice.id, ref="1", changes=TaskUpdate(title="Pay the rent")
    )
    assert _titles(session, alice) == {1: ("Pay the rent", True, 3)}
    service.undo_change(session, user_id=alice.id)
    assert _titles(session, alice) == {1: ("Pay rent", True, 4)}
    service.undo_change(session, user_id=alice.id)
    assert _titles(session, alice) == {1: ("Pay rent", False, 5)}
    service.undo_change(session, user_id=alice.id)
    assert _titles(session, alice) == {}
    with pytest.raises(ChangeNotFound, match="Nothing to undo"):
        service.undo_change(session, user_id=alice.id)
    # Forward again, the last undo first; versions keep growing (the task comes back at
    # the version it was deleted at, plus one).
    for expected in [
        {1: ("Pay rent", False, 6)},
        {1: ("Pay rent", True, 7)},
        {1: ("Pay the rent", True, 8)},
    ]:
        service.redo_change(session, user_id=alice.id)
        assert _titles(session, alice) == expected


def test_a_conflict_names_a_deleted_task_by_its_number(session: Session, alice: User) -> None:
    service.create_tasks(
        session, user_id=alice.id, tasks=[TaskCreate(title="a"), TaskCreate(title="b")]
    )
    service.delete_tasks(session, user_id=alice.id, refs=["2"])
    with pytest.raises(Conflict) as raised:
        service.undo_change(session, user_id=alice.id, change_id=1)
    assert raised.value.message == "Task 2 has changed since change 1; nothing was undone."
    assert [task["number"] for task in raised.value.details["tasks"]] == [2]
    assert _titles(session, alice) == {1: ("a", False, 1)}
