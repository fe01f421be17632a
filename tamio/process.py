"""What a long-running process does once its start-up is over: ``tamio serve`` (and the scheduler it
runs) after its warm-up, the ``tamio`` program after importing its command.

    settle_heap()                  # the server: a collection first, then everything alive is frozen
    settle_heap(collect=False)     # the CLI: frozen as it is (a collection would cost more than it frees)

Why: what start-up made (modules, mappers, compiled statements, settings) lives as long as the
process, hundreds of thousands of objects. Python's full collection walks every one of them each
time it runs, and finds nothing; frozen (``gc.freeze``) they are out of its passes, which then walk
what the work itself made. Measured on bench/pipeline.py (its steady FULL run prints both figures):
a full collection lands on every other steady run and costs it ~30 ms of CPU unfrozen, ~1 ms frozen.

A run that reads an account's books in bulk makes tens of thousands of short-lived objects (rows, then
records): the collector's young passes walk them as they are made (one pass per 700), and each row is
freed a moment later by its reference count anyway. ``collector_paused()`` holds the passes for the
span of such a read (the records that stay are walked once, at the next pass after it):

    with collector_paused():
        rows = ...  # thousands of rows turned into records

bench/pipeline.py: a snapshot load's CPU 60 -> 50 ms on a process that has done work, the collections
it delays counted.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_paused = [0, False]  # open pauses, and whether the collector was on when the first began


def settle_heap(*, collect: bool = True) -> None:
    """Freeze what is alive now out of the collector's passes (``collect``: after collecting what is
    already garbage, so none of it is kept for good). Call once, at the end of start-up; again later
    only for what that later start-up made (each call freezes whatever is alive then)."""
    if collect:
        gc.collect()
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collector passes inside the block. Reentrant and safe across ``await``: the collector comes
    back on when the last open pause ends, and only if it was on when the first began."""
    if _paused[0] == 0:
        _paused[1] = gc.isenabled()
        gc.disable()
    _paused[0] += 1
    try:
        yield
    finally:
        _paused[0] -= 1
        if _paused[0] == 0 and _paused[1]:
            gc.enable()
