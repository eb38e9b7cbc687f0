"""Isolation and correctness, explored by Hypothesis.

A state machine drives three users through random creates, edits, completes, reopens,
deletes and lookups — by number, full UUID and UUID prefix, aimed at their own tasks, at
each other's, and at tasks that never existed. A plain in-memory model predicts every
outcome. After every step each user's tasks must equal the model's, so no call by one
user can ever have returned or changed another user's task without the test noticing.
It runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from todo_cli import service
from todo_cli.errors import AmbiguousReference, TaskNotFound, TodoError, ValidationError
from todo_cli.models import AnyTask, Task, TaskCreate, TaskRecord, TaskUpdate

USERS = ("ann", "bob", "cyd")
titles = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=40
).filter(lambda t: t.strip() != "")
descriptions = st.none() | st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60
)


@dataclass(frozen=True)
class ModelTask:
    id: uuid.UUID
    number: int
    title: str
    description: str | None
    is_completed: bool
    version: int


def _row(task: AnyTask) -> ModelTask:
    return ModelTask(
        task.id, task.number, task.title, task.description, task.is_completed, task.version
    )


class IsolationMachine(RuleBasedStateMachine):
    session_factory: Callable[[], Session]
    engine: Engine

    @initialize()
    def start(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(text("DELETE FROM tasks"))
            connection.execute(text("DELETE FROM users"))
        self.user_ids: dict[str, uuid.UUID] = {}
        with self.session_factory() as session:
            for name in USERS:
                self.user_ids[name] = service.create_user(session, name=name).id
        self.model: dict[str, dict[uuid.UUID, ModelTask]] = {name: {} for name in USERS}
        self.next_number = dict.fromkeys(USERS, 1)

    # --- helpers --------------------------------------------------------------------

    def _all_tasks(self) -> list[tuple[str, ModelTask]]:
        return [(owner, task) for owner, tasks in self.model.items() for task in tasks.values()]

    def _ref(self, data: st.DataObject) -> str:
        """A reference to any user's task, in any form, or to nothing at all.

        The same draws happen whatever the state, and prefixes are long enough that two
        random UUIDs never share one: replaying a choice sequence must take the same path,
        or Hypothesis rightly calls the test flaky. (Ambiguous prefixes have their own
        deterministic tests.)
        """
        kind = data.draw(st.sampled_from(["number", "uuid", "hex", "prefix", "missing"]))
        index = data.draw(st.integers(0, 10_000), label="index")
        length = data.draw(st.integers(8, 12), label="prefix length")
        known = self._all_tasks()
        if kind == "missing" or not known:
            nothing = uuid.UUID(int=index)  # never a version-4 UUID, so never stored
            return [str(nothing), str(10_000 + index), nothing.hex[:length]][index % 3]
        _, task = known[index % len(known)]
        return {
            "number": str(task.number),
            "uuid": str(task.id),
            "hex": task.id.hex,
            "prefix": task.id.hex[:length],
        }[kind]

    def _resolve(self, user: str, ref: str) -> ModelTask | type[TodoError]:
        """What the model says `ref` means for `user`: a task or the error to expect."""
        mine = list(self.model[user].values())
        if ref.isdigit():
            hits = [t for t in mine if t.number == int(ref)]
        else:
            try:
                hits = [t for t in mine if t.id == uuid.UUID(ref)]
            except ValueError:
                hits = [t for t in mine if t.id.hex.startswith(ref.replace("-", "").lower())]
                if len(hits) > 1:
                    return AmbiguousReference
        return hits[0] if hits else TaskNotFound

    def _expect(
        self, user: str, ref: str, call: Callable[[Session], list[Task] | Task | TaskRecord]
    ) -> ModelTask | None:
        """Run `call` and check its outcome against the model's prediction."""
        expected = self._resolve(user, ref)
        with self.session_factory() as session:
            if isinstance(expected, ModelTask):
                result = call(session)
                tasks = result if isinstance(result, list) else [result]
                assert [t.id for t in tasks] == [expected.id]
                assert all(t.user_id == self.user_ids[user] for t in tasks)
                return expected
            with pytest.raises(expected):
                call(session)
            return None

    # --- rules ----------------------------------------------------------------------

    @rule(user=st.sampled_from(USERS), title=titles, description=descriptions)
    def create(self, user: str, title: str, description: str | None) -> None:
        with self.session_factory() as session:
            task = service.create_task(
                session,
                user_id=self.user_ids[user],
                task=TaskCreate(title=title, description=description),
            )
        assert task.number == self.next_number[user]
        assert (task.title, task.description) == (title.strip(), description)
        self.next_number[user] += 1
        self.model[user][task.id] = _row(task)

    @rule(user=st.sampled_from(USERS), data=st.data())
    def lookup(self, user: str, data: st.DataObject) -> None:
        ref = self._ref(data)
        found = self._expect(
            user,
            ref,
            lambda s: service.get_task(s, user_id=self.user_ids[user], ref=ref),
        )
        if found is not None:
            with self.session_factory() as session:
                task = service.get_task(session, user_id=self.user_ids[user], ref=ref)
            assert _row(task) == found

    @rule(
        user=st.sampled_from(USERS),
        data=st.data(),
        title=st.none() | titles,
        description=st.sampled_from(["keep", "clear"]) | descriptions,
    )
    def edit(self, user: str, data: st.DataObject, title: str | None, description: object) -> None:
        ref = self._ref(data)
        fields: dict[str, object] = {}
        if title is not None:
            fields["title"] = title
        if description != "keep":
            fields["description"] = None if description == "clear" else description
        if not fields:
            fields["title"] = "edited"
        changes = TaskUpdate(**fields)  # type: ignore[arg-type]
        found = self._expect(
            user,
            ref,
            lambda s: service.update_task(s, user_id=self.user_ids[user], ref=ref, changes=changes),
        )
        if found is not None:
            new = replace(
                found,
                title=str(fields.get("title", found.title)).strip(),
                description=fields.get("description", found.description),  # type: ignore[arg-type]
            )
            if (new.title, new.description) != (found.title, found.description):
                new = replace(new, version=found.version + 1)
            self.model[user][found.id] = new

    @rule(user=st.sampled_from(USERS), data=st.data(), completed=st.booleans())
    def set_completed(self, user: str, data: st.DataObject, completed: bool) -> None:
        ref = self._ref(data)
        call = service.complete_tasks if completed else service.reopen_tasks
        found = self._expect(user, ref, lambda s: call(s, user_id=self.user_ids[user], refs=[ref]))
        if found is not None and found.is_completed != completed:
            self.model[user][found.id] = replace(
                found, is_completed=completed, version=found.version + 1
            )

    @rule(user=st.sampled_from(USERS), data=st.data())
    def delete(self, user: str, data: st.DataObject) -> None:
        ref = self._ref(data)
        found = self._expect(
            user, ref, lambda s: service.delete_tasks(s, user_id=self.user_ids[user], refs=[ref])
        )
        if found is not None:
            del self.model[user][found.id]

    @rule(user=st.sampled_from(USERS), data=st.data())
    def delete_several_all_or_nothing(self, user: str, data: st.DataObject) -> None:
        refs = [self._ref(data) for _ in range(data.draw(st.integers(2, 3)))]
        outcomes = [self._resolve(user, ref) for ref in refs]
        with self.session_factory() as session:
            if all(isinstance(o, ModelTask) for o in outcomes):
                service.delete_tasks(session, user_id=self.user_ids[user], refs=refs)
                for outcome in outcomes:
                    assert isinstance(outcome, ModelTask)
                    self.model[user].pop(outcome.id, None)
            else:
                with pytest.raises((TaskNotFound, AmbiguousReference, ValidationError)):
                    service.delete_tasks(session, user_id=self.user_ids[user], refs=refs)

    # --- the promise ----------------------------------------------------------------

    @invariant()
    def every_user_sees_exactly_their_own_tasks(self) -> None:
        if not hasattr(self, "model"):
            return
        with self.session_factory() as session:
            for name, user_id in self.user_ids.items():
                stored = service.list_tasks(session, user_id=user_id, status="all")
                assert all(task.user_id == user_id for task in stored)
                assert {t.id: _row(t) for t in stored} == self.model[name]


def test_isolation_state_machine(session_factory: Callable[[], Session], engine: Engine) -> None:
    IsolationMachine.session_factory = staticmethod(session_factory)
    IsolationMachine.engine = engine
    run_state_machine_as_test(
        IsolationMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# --- arbitrary input ------------------------------------------------------------------------

any_text = st.text(alphabet=st.characters(), max_size=300) | st.sampled_from(
    [
        "'; DROP TABLE tasks; --",
        "Robert'); DELETE FROM users WHERE ('1'='1",
        "%_\\%",
        "\u202eRTL override עברית مرحبا",
        "emoji 👩‍👩‍👧‍👦🎉",
        "\x1b[31mred\x1b[0m",
        "nul\x00byte",
        "lone \udc80 surrogate",
        "x" * 256,
        " \t\n ",
    ]
)


@pytest.mark.parametrize("field", ["title", "description"])
def test_any_text_is_stored_exactly_or_refused_cleanly(
    session_factory: Callable[[], Session], engine: Engine, field: str
) -> None:
    with session_factory() as session:
        user_id = service.ensure_user(session, name="fuzz").id

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(value=any_text)
    def check(value: str) -> None:
        new = TaskCreate(title=value)
        if field == "description":
            new = TaskCreate(title="t", description=value)
        with session_factory() as session:
            before = service.count_tasks(session, user_id=user_id, status="all")
            try:
                task = service.create_task(session, user_id=user_id, task=new)
            except ValidationError as exc:
                assert exc.details["field"] == field
                session.rollback()
                assert service.count_tasks(session, user_id=user_id, status="all") == before
                return
        with session_factory() as session:
            stored = service.get_task(session, user_id=user_id, ref=str(task.id))
        expected = value.strip() if field == "title" else value
        assert getattr(stored, field) == expected

    check()


@pytest.mark.parametrize("size", [service.DESCRIPTION_MAX_LENGTH, 10 * 1024 * 1024])
def test_huge_descriptions_are_kept_up_to_the_limit_and_refused_beyond(
    session: Session, size: int
) -> None:
    user_id = service.ensure_user(session, name="big").id
    description = "é" * size
    if size <= service.DESCRIPTION_MAX_LENGTH:
        task = service.create_task(
            session, user_id=user_id, task=TaskCreate(title="t", description=description)
        )
        session.expunge_all()
        assert (
            service.get_task(session, user_id=user_id, ref=str(task.id)).description == description
        )
    else:
        with pytest.raises(ValidationError, match="at most 100000"):
            service.create_task(
                session, user_id=user_id, task=TaskCreate(title="t", description=description)
            )
