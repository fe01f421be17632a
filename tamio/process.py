"""What a long-running process does once its start-up is over: ``tamio serve`` (and the scheduler it
runs) after its warm-up, the ``tamio`` program after importing its command.

    settle_heap()                  # the server: a collection first, then everything alive is frozen
    settle_heap(collect=False)     # the CLI: frozen as it is (a collection would cost more than it frees)

Why: what start-up made (modules, mappers, compiled statements, settings) lives as long as the
process, hundreds of thousands of objects. Python's full collection walks every one of them each
time it runs, and finds nothing; frozen (``gc.freeze``) they are out of its passes, which then walk
what the work itself made. Measured on bench/pipeline.py (its steady FULL run prints both figures):
a full collection lands on every other steady run and costs it ~30 ms of CPU unfrozen, ~1 ms frozen.
"""

from __future__ import annotations

import gc


def settle_heap(*, collect: bool = True) -> None:
    """Freeze what is alive now out of the collector's passes (``collect``: after collecting what is
    already garbage, so none of it is kept for good). Call once, at the end of start-up; again later
    only for what that later start-up made (each call freezes whatever is alive then)."""
    if collect:
        gc.collect()
    gc.freeze()
