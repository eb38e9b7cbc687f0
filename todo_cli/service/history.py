"""History: each user's change log, read, undone and redone.

An undo is a change like any other, written through `tasks.write_task` in one
`writing` transaction: it puts every task of the target change back as the change found
it, and records that, so undoing the undo (a redo) puts them forward again. It is
optimistic: every task must still be as the target change left it (at the version it
left, or put back so by later undos), or nothing happens and the caller hears which
tasks changed since.

Kinds: `change` (an ordinary write), `undo` (reverted a change or a redo), `redo`
(reverted an undo). `todo undo` takes the newest change or redo not yet undone, so
repeated it walks back; `todo redo` takes the newest undo not yet undone, so repeated it
walks forward again in the order the undos were made.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from todo_cli.errors import ChangeNotFound, Conflict
from todo_cli.models import (
    Change,
    ChangeItem,
    Task,
    restored_fields,
    task_from_json,
    task_to_json,
)
from todo_cli.service.references import owned_query, owned_task
from todo_cli.service.tasks import write_task
from todo_cli.service.transaction import writing
from todo_cli.service.users import require_user
from todo_cli.service.validation import MAX_NUMBER, bounded

_CONFLICTS_SHOWN = 10
# What "as the change left it" ignores: the bookkeeping every write moves forward, and
# when a completion happened (its state is `is_completed`).
_UNCOMPARED = frozenset({"version", "updated_at", "status", "completed_at"})


@dataclass(frozen=True)
class Logged:
    """A change and the ids of the tasks it touched."""

    change: Change
    task_ids: list[uuid.UUID]


def list_changes(
    session: Session, *, user_id: uuid.UUID, limit: int = 20, offset: int = 0
) -> list[Logged]:
    """The user's changes, newest first."""
    bounded("limit", limit, 0, MAX_NUMBER)
    bounded("offset", offset, 0, MAX_NUMBER)
    changes = list(
        session.exec(
            select(Change)
            .where(col(Change.user_id) == user_id)
            .execution_options(populate_existing=True)
            .order_by(col(Change.id).desc())
            .offset(offset)
            .limit(limit)
        )
    )
    if not changes:
        require_user(session, user_id)
    return _with_tasks(session, user_id, changes)


def task_log(session: Session, *, user_id: uuid.UUID, ref: str, limit: int = 20) -> list[Logged]:
    """The changes that touched one task, newest first."""
    bounded("limit", limit, 0, MAX_NUMBER)
    task = owned_task(session, user_id, ref)
    changes = list(
        session.exec(
            select(Change)
            .join(
                ChangeItem,
                (col(ChangeItem.user_id) == col(Change.user_id))
                & (col(ChangeItem.change_id) == col(Change.id)),
            )
            .where(col(ChangeItem.user_id) == user_id, col(ChangeItem.task_id) == task.id)
            .execution_options(populate_existing=True)
            .order_by(col(Change.id).desc())
            .limit(limit)
        )
    )
    return _with_tasks(session, user_id, changes)


def undo_change(session: Session, *, user_id: uuid.UUID, change_id: int | None = None) -> Logged:
    """Revert change `change_id`, or the newest change (or redo) not undone yet."""
    return _revert(session, user_id, change_id, redo=False)


def redo_change(session: Session, *, user_id: uuid.UUID) -> Logged:
    """Revert the newest undo not reverted yet: its change happens again."""
    return _revert(session, user_id, None, redo=True)


def _revert(session: Session, user_id: uuid.UUID, change_id: int | None, *, redo: bool) -> Logged:
    # The user's row is locked first: two undos at once queue, and the second sees what
    # the first did (its target already undone, a deleted task already back).
    with writing(session, user_id=user_id, verb="undo", lock_user=True) as change:
        target = _target(session, user_id, change_id, redo=redo)
        change.kind = "redo" if target.kind == "undo" else "undo"
        change.description = _summary(change.kind, target)
        change.undoes = target.id
        items = list(
            session.exec(
                select(ChangeItem).where(
                    col(ChangeItem.user_id) == user_id, col(ChangeItem.change_id) == target.id
                )
            )
        )
        current = {
            task.id: task
            for task in session.exec(
                owned_query(user_id)
                .where(col(Task.id).in_([item.task_id for item in items]))
                .order_by(col(Task.id))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
        _refuse_if_changed_since(session, target, items, current)
        restorable = restored_fields()
        for item in items:
            task = current.get(item.task_id)
            if item.before is None:  # the change created it: it goes
                assert task is not None
                write_task(session, change, task, None, keep=False)
                continue
            image = task_from_json(item.before)
            del image["updated_at"]  # a restore is a change: it is updated now
            if task is None:  # the change deleted it: it comes back, id and number kept
                image["version"] += 1
                write_task(session, change, None, image, keep=False)
            else:
                restored = {k: v for k, v in image.items() if k in restorable}
                write_task(session, change, task, restored)
    logged = session.get(Change, (user_id, change.change_id))
    assert logged is not None
    return Logged(logged, list(change.items))


def _summary(kind: str, target: Change) -> str:
    """`undo 41 (done 3 4)`; reverting an undo or a redo names the original change."""
    if target.kind == "change":
        return f"{kind} {target.id} ({target.summary})"
    _, _, rest = target.summary.partition(" ")
    return f"{kind} {rest}"


def _target(session: Session, user_id: uuid.UUID, change_id: int | None, *, redo: bool) -> Change:
    # Re-read: an undo earlier in this session changed `undone_by` behind the ORM's back.
    query = (
        select(Change)
        .where(col(Change.user_id) == user_id)
        .execution_options(populate_existing=True)
    )
    if change_id is not None:
        if not 1 <= change_id <= MAX_NUMBER:
            raise _no_change(change_id)
        target = session.exec(query.where(col(Change.id) == change_id)).first()
        if target is None:
            raise _no_change(change_id)
        if target.undone_by is not None:
            raise Conflict(
                f"Change {target.id} was already undone by change {target.undone_by}"
                f"; undo {target.undone_by} to apply it again.",
                details={"change": target.id, "undone_by": target.undone_by},
            )
        return target
    kinds = ("undo",) if redo else ("change", "redo")
    target = session.exec(
        query.where(col(Change.undone_by).is_(None), col(Change.kind).in_(kinds))
        .order_by(col(Change.id).desc())
        .limit(1)
    ).first()
    if target is None:
        raise ChangeNotFound("Nothing to redo." if redo else "Nothing to undo.")
    return target


def _refuse_if_changed_since(
    session: Session,
    target: Change,
    items: Sequence[ChangeItem],
    current: dict[uuid.UUID, Task],
) -> None:
    """Refuse unless every task of `target` is now as `target` left it.

    A task still at the version the change left it at is. One at a later version may be
    too: undoing later changes puts a task back as it was, at a higher version (versions
    only grow). Its state then is compared with the state right after `target`, which is
    the image the next change of that task recorded as its "before".
    """
    moved = [
        item
        for item in items
        if (task := current.get(item.task_id)) is None
        or item.after_version is None
        or task.version != item.after_version
    ]
    unchanged = {
        item.task_id
        for item in moved
        if current.get(item.task_id) is None and item.after_version is None
    }
    later = _next_images(session, target, [item.task_id for item in moved])
    for item in moved:
        task = current.get(item.task_id)
        if task is not None and item.after_version is not None:
            image = later.get(item.task_id)
            if image is not None and _content(image) == _content(task_to_json(task)):
                unchanged.add(item.task_id)
    changed = [(item, current.get(item.task_id)) for item in moved if item.task_id not in unchanged]
    if not changed:
        return
    numbers = [_number(item, task, later) for item, task in changed]
    shown = ", ".join(map(str, numbers[:_CONFLICTS_SHOWN]))
    if len(numbers) > _CONFLICTS_SHOWN:
        shown += f" and {len(numbers) - _CONFLICTS_SHOWN} more"
    noun = "Task" if len(numbers) == 1 else "Tasks"
    verb = "has" if len(numbers) == 1 else "have"
    raise Conflict(
        f"{noun} {shown} {verb} changed since change {target.id}; nothing was undone.",
        details={
            "change": target.id,
            "tasks": [
                {
                    "id": str(item.task_id),
                    "number": _number(item, task, later),
                    "expected_version": item.after_version,
                    "current_version": task.version if task is not None else None,
                }
                for item, task in changed
            ],
        },
    )


def _next_images(
    session: Session, target: Change, task_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Each task's image as the first change after `target` found it."""
    if not task_ids:
        return {}
    images: dict[uuid.UUID, dict[str, Any]] = {}
    rows = session.exec(
        select(ChangeItem.task_id, ChangeItem.before)
        .where(
            col(ChangeItem.user_id) == target.user_id,
            col(ChangeItem.task_id).in_(task_ids),
            col(ChangeItem.change_id) > target.id,
        )
        .order_by(col(ChangeItem.task_id), col(ChangeItem.change_id))
    )
    for task_id, before in rows:
        if task_id not in images and before is not None:
            images[task_id] = dict(before)
    return images


def _content(image: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in image.items() if key not in _UNCOMPARED}


def _number(
    item: ChangeItem, task: Task | None, later: dict[uuid.UUID, dict[str, Any]]
) -> int | None:
    """The task's number: from the task, or an image of it (one it has been deleted since
    has one in the change that deleted it)."""
    if task is not None:
        return task.number
    image = item.before or later.get(item.task_id)
    return int(image["number"]) if image is not None else None


def _with_tasks(session: Session, user_id: uuid.UUID, changes: list[Change]) -> list[Logged]:
    if not changes:
        return []
    ids = [change.id for change in changes]
    rows = session.exec(
        select(ChangeItem.change_id, ChangeItem.task_id)
        .where(col(ChangeItem.user_id) == user_id, col(ChangeItem.change_id).in_(ids))
        .order_by(col(ChangeItem.change_id), col(ChangeItem.task_id))
    )
    tasks: dict[int, list[uuid.UUID]] = {change_id: [] for change_id in ids}
    for change_id, task_id in rows:
        tasks[change_id].append(task_id)
    return [Logged(change, tasks[change.id]) for change in changes]


def _no_change(change_id: int) -> ChangeNotFound:
    return ChangeNotFound(f"No change {change_id}.", details={"change": change_id})
