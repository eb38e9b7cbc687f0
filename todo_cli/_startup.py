"""Start-up without the cyclic garbage collector.

A `todo` command imports Typer, SQLAlchemy and SQLModel before it does any work: a few
hundred thousand objects, none of them garbage, which the cyclic collector would walk
again and again while they load (about 45 ms, a tenth of a command's life on a 2-core
machine). The entry point pauses the collector (`pause_gc`); once a command has loaded
what it needs, `resume_gc` freezes everything allocated so far out of the collector's
sight and turns it back on, so a long `list --json` or `todo serve` collects as usual.

Only the real entry point pauses anything: in-process callers (tests, `CliRunner`, the
API under another server) never do, and `resume_gc` is then a no-op.
"""

from __future__ import annotations

import gc

_paused = False


def pause_gc() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_gc() -> None:
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
