"""The `todo` console script and `python -m todo_cli`.

The entry point is the warm server's client (`todo_cli.warm.client`): it hands the
command to a running server, or runs it in this process exactly as before.
"""

from todo_cli.warm.client import main

if __name__ == "__main__":
    main()
