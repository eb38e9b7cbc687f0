"""Two writers that lock the same rows in opposite orders: PostgreSQL rolls one back
(40P01), and that is a one-sentence "try again", never an unexpected error."""

from __future__ import annotations

import threading

from sqlalchemy import exc, text

from todo_cli import db
from todo_cli.config import DatabaseURL
from todo_cli.errors import DatabaseUnavailable


def test_a_deadlock_is_a_retryable_unavailable_error(postgres_url: DatabaseURL) -> None:
    engine = db.make_engine(postgres_url)
    with engine.begin() as setup:
        setup.execute(text("CREATE TABLE IF NOT EXISTS deadlock_probe (id int PRIMARY KEY)"))
        setup.execute(text("DELETE FROM deadlock_probe"))
        setup.execute(text("INSERT INTO deadlock_probe VALUES (1), (2)"))
    both_hold = threading.Barrier(2)
    failures: list[exc.DBAPIError] = []

    def writer(first: int, second: int) -> None:
        lock = text("SELECT id FROM deadlock_probe WHERE id = :id FOR UPDATE")
        try:
            with engine.begin() as connection:
                connection.execute(lock, {"id": first})
                both_hold.wait(timeout=30)
                connection.execute(lock, {"id": second})
        except exc.DBAPIError as error:
            failures.append(error)

    threads = [threading.Thread(target=writer, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()
    assert len(failures) == 1, failures
    error = db.database_error(failures[0], postgres_url)
    assert isinstance(error, DatabaseUnavailable)
    assert error.message.endswith("nothing was changed; try again.")
