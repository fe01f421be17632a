"""A clock that tests step by hand: tamio's time, a pacer's seconds and Slack's timestamps in one.

Nothing here reads the wall clock, so a test on it passes the same on an idle and on a saturated
machine. Time moves only when the test says (``advance``, ``advance_to``) or when code sleeps on
it: ``sleep(s)`` returns at once with the time at least ``s`` later than when it was called (two
coroutines that sleep through the same second move it on by one second, not two).

    clock = FakeClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    clock()                            # the aware datetime: tamio's ``Clock``
    clock.epoch()                      # seconds since 1970: the Slack stand-in's clock, a pacer's
    await clock.sleep(1.5)             # returns at once, 1.5 s later
    clock.advance(timedelta(minutes=5))
    clock.advance_to(row.next_attempt_at)   # never backwards
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the start must be an aware datetime")
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, span: timedelta) -> datetime:
        if span < timedelta(0):
            raise ValueError("a clock does not go back")
        self.now += span
        return self.now

    def advance_to(self, moment: datetime) -> datetime:
        """Move on to ``moment`` if it is later; a moment already past changes nothing."""
        self.now = max(self.now, moment)
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)  # let the coroutines sleeping from this same moment set out too
        self.advance_to(until)
