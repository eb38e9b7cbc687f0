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

from todo_cli.service.history import (
    Logged,
    list_changes,
    redo_change,
    task_log,
    undo_change,
)
from todo_cli.service.references import task_not_found
from todo_cli.service.tasks import (
    Status,
    complete_tasks,
    count_tasks,
    create_task,
    create_tasks,
    delete_tasks,
    get_task,
    iter_tasks,
    list_tasks,
    reopen_tasks,
    update_task,
)
from todo_cli.service.transaction import Committed, last_committed
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

__all__ = [
    "DESCRIPTION_MAX_LENGTH",
    "MIN_PREFIX_LENGTH",
    "Committed",
    "Logged",
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
    "get_task",
    "get_user",
    "iter_tasks",
    "last_committed",
    "list_changes",
    "list_tasks",
    "list_users",
    "redo_change",
    "reopen_tasks",
    "task_log",
    "task_not_found",
    "undo_change",
    "update_task",
    "user_not_found",
]
