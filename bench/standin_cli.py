"""A stand-in for `todo list --json` / `todo add` / `todo done`: the service layer and nothing else.

Not the product: it shows what the fixed costs (imports, engine, schema check, one service
call, JSON out) add up to, so the CLI's figures can be read against it, and it lets the
memory and latency harness be exercised before the CLI lands.

    python -m bench.standin_cli list-json | add TITLE | done REF

Reads TODO_DATABASE_URL (SQLite or PostgreSQL) and TODO_USER.
"""

from __future__ import annotations

import json
import os
import sys

from todo_cli.models import TaskCreate


def main(argv: list[str]) -> int:
    from todo_cli import db, service
    from todo_cli.config import DatabaseURL
    from todo_cli.models import task_to_json

    url = DatabaseURL.parse(os.environ["TODO_DATABASE_URL"])
    engine = db.make_engine(url)
    db.check_schema(engine)
    session = db.make_session_factory(engine)()
    user = service.get_user(session, ref=os.environ.get("TODO_USER", "bench"))
    out = sys.stdout
    command = argv[0]
    if command == "list-json":
        out.write("[")
        for i, task in enumerate(service.iter_tasks(session, user_id=user.id)):
            out.write(("," if i else "") + json.dumps(task_to_json(task)))
        out.write("]\n")
    elif command == "add":
        task = service.create_task(session, user_id=user.id, task=TaskCreate(title=argv[1]))
        out.write(json.dumps(task_to_json(task)) + "\n")
    elif command == "done":
        tasks = service.complete_tasks(session, user_id=user.id, refs=argv[1:])
        out.write(json.dumps([task_to_json(t) for t in tasks]) + "\n")
    else:
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    session.close()
    out.flush()
    # Skip interpreter teardown (tens of milliseconds with SQLAlchemy loaded).
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
