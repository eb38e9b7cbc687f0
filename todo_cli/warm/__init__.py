"""The warm command server: `todo` commands answered by a process that has everything loaded.

`client` is the console script's entry point (standard library only); `server` is the
per-user process it talks to. docs/warm-server.md has the design and its decisions.
"""
