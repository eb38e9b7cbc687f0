"""The `todo` console script and `python -m todo_cli`."""

from todo_cli._startup import pause_gc


def main() -> None:
    pause_gc()  # until the command has imported what it needs (see todo_cli._startup)
    from todo_cli.cli import main as run

    run()


if __name__ == "__main__":
    main()
