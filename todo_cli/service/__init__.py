"""Every operation of the product, and every rule it obeys.

Functions are `verb_noun(session, *, user_id, …)`. Each one scopes every read and
write by the acting user's id: the only way to a task is `references.owned_query`, which
always filters on `user_id`, so another user's task is indistinguishable from a missing
one. Every write goes through `transaction.writing` (begin, record the change, commit or
roll back: the one place a write begins and commits) and `tasks.write_task` (the one
place a task row changes), so a multi-task operation is all or nothing and one change in
the log. The entry points (CLI, HTTP) own the session and render the results.

`validation` holds the input rules, `users`, `tasks` and `history` the operations,
`references` how a reference becomes a task. Callers import this package, never its
modules.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from todo_cli.service.history import (
        Logged,
        list_changes,
        redo_change,
        task_log,
        undo_change,
    )
    from todo_cli.service.query import Filter, Sort, parse_sort
    from todo_cli.service.references import task_not_found
    from todo_cli.service.tasks import (
        Reading,
        Status,
        add_note,
        complete_tasks,
        count_tasks,
        create_task,
        create_tasks,
        delete_tasks,
        fill_time_zone,
        get_task,
        iter_tasks,
        list_tasks,
        next_tasks,
        parse_filter,
        read,
        reopen_tasks,
        set_time_zone,
        task_reading,
        update_task,
        update_tasks,
        user_zone,
    )
    from todo_cli.service.transaction import Committed, last_committed
    from todo_cli.service.transfer import (
        FORMATS,
        ImportReport,
        export_tasks,
        import_tasks,
        parse_format,
    )
    from todo_cli.service.users import (
        create_user,
        delete_user,
        ensure_user,
        get_user,
        list_users,
        user_not_found,
    )
    from todo_cli.service.validation import (
        DESCRIPTION_MAX_LENGTH,
        MIN_PREFIX_LENGTH,
        clean_description,
        clean_title,
        clean_user_name,
    )

# Each public name and the module that defines it. Importing this package costs nothing:
# a module loads (with SQLAlchemy) on first use of one of its names, so the pure parts
# (`service.dates`, `service.attributes`) serve completion and `--help` without a database.
_HOMES = {
    "add_note": "tasks",
    "Committed": "transaction",
    "FORMATS": "transfer",
    "ImportReport": "transfer",
    "export_tasks": "transfer",
    "import_tasks": "transfer",
    "parse_format": "transfer",
    "Filter": "query",
    "Sort": "query",
    "parse_filter": "tasks",
    "parse_sort": "query",
    "DESCRIPTION_MAX_LENGTH": "validation",
    "Logged": "history",
    "MIN_PREFIX_LENGTH": "validation",
    "Reading": "tasks",
    "Status": "tasks",
    "clean_description": "validation",
    "clean_title": "validation",
    "clean_user_name": "validation",
    "complete_tasks": "tasks",
    "count_tasks": "tasks",
    "create_task": "tasks",
    "create_tasks": "tasks",
    "create_user": "users",
    "delete_tasks": "tasks",
    "delete_user": "users",
    "ensure_user": "users",
    "fill_time_zone": "tasks",
    "get_task": "tasks",
    "get_user": "users",
    "iter_tasks": "tasks",
    "last_committed": "transaction",
    "list_changes": "history",
    "list_tasks": "tasks",
    "next_tasks": "tasks",
    "list_users": "users",
    "redo_change": "history",
    "read": "tasks",
    "reopen_tasks": "tasks",
    "set_time_zone": "tasks",
    "task_log": "history",
    "task_reading": "tasks",
    "task_not_found": "references",
    "undo_change": "history",
    "update_task": "tasks",
    "update_tasks": "tasks",
    "user_not_found": "users",
    "user_zone": "tasks",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "add_note",
    "DESCRIPTION_MAX_LENGTH",
    "MIN_PREFIX_LENGTH",
    "Committed",
    "FORMATS",
    "ImportReport",
    "export_tasks",
    "import_tasks",
    "parse_format",
    "Filter",
    "Logged",
    "Reading",
    "Sort",
    "Status",
    "clean_description",
    "clean_title",
    "clean_user_name",
    "complete_tasks",
    "count_tasks",
    "create_task",
    "create_tasks",
    "create_user",
    "delete_tasks",
    "delete_user",
    "ensure_user",
    "fill_time_zone",
    "get_task",
    "get_user",
    "iter_tasks",
    "last_committed",
    "list_changes",
    "list_tasks",
    "list_users",
    "next_tasks",
    "parse_filter",
    "parse_sort",
    "read",
    "redo_change",
    "reopen_tasks",
    "set_time_zone",
    "task_log",
    "task_not_found",
    "task_reading",
    "undo_change",
    "update_task",
    "update_tasks",
    "user_not_found",
    "user_zone",
]
