"""What a long command shows on a terminal while it works: a progress bar, or what it is doing and for how long.

Both go to stderr, and only when stdout and stderr are both a terminal: output read by a program
(a pipe, a file, a test's capture) never has them.

    bar = progress_bar(size, "Importing obligations.csv")       # None off a terminal
    with working("Updating the forecast, alerts and cards"):    # 'Updating ...: 00:04' after a second
        await drain()
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


def on_a_terminal(stdout: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    return (stdout or sys.stdout).isatty() and (stderr or sys.stderr).isatty()


def progress_bar(total: int, label: str, *, stdout: TextIO | None = None, stderr: TextIO | None = None, delay: float = 1.0) -> Any:
    """A progress bar on ``stderr`` that shows after ``delay`` seconds, or None when either stream is
    not a terminal (a pipe, a file, a test's capture)."""
    if not on_a_terminal(stdout, stderr):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="B", unit_scale=True, delay=delay, leave=False, file=stderr or sys.stderr)


@contextmanager
def working(label: str, *, stdout: TextIO | None = None, stderr: TextIO | None = None, delay: float = 1.0,
            every: float = 0.5) -> Iterator[None]:
    """On a terminal, ``label`` and the time taken so far on ``stderr`` once the work has taken ``delay``
    seconds, ticking every ``every`` seconds until it ends, then cleared. The work runs on this thread
    (the pipeline keeps it busy), so a thread of its own ticks the line."""
    if not on_a_terminal(stdout, stderr):
        yield
        return
    from tqdm import tqdm

    done = threading.Event()

    def tick() -> None:
        if done.wait(delay):
            return
        line = tqdm(total=None, desc=label, bar_format="{desc}: {elapsed}", leave=False, file=stderr or sys.stderr)
        try:
            while not done.wait(every):
                line.refresh()
        finally:
            line.close()

    ticker = threading.Thread(target=tick, name="tamio-working", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
