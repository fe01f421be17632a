"""When a job is due: slots on a fixed grid and the grace to catch up.

A job's slot is its scheduled time truncated to its cadence (every 5 minutes, every hour, every
day at 16:30 UTC). A slot is still runnable while ``now - slot <= grace``; after that it is
skipped, because the next slot is near and would do the same work. Everything here is pure: the
time is an argument, so a test can step through a day on a fake clock.

    critical = Cadence(every=timedelta(minutes=5), grace=timedelta(minutes=4))
    critical.slot_of(datetime(2026, 12, 7, 9, 7, tzinfo=UTC))   # 09:05
    critical.due(now)                                            # the runnable slots, oldest first
    morning_due(timezone="Europe/Paris", slot=..., every=timedelta(minutes=15))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MORNING = clock_time(6, 0)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Cadence:
    """Slots at ``EPOCH + offset + k * every``; runnable for ``grace`` after their time."""

    every: timedelta
    grace: timedelta
    offset: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ValueError("a cadence needs a positive interval")
        if self.grace < timedelta(0):
            raise ValueError("a grace cannot be negative")

    def slot_of(self, moment: datetime) -> datetime:
        """The latest slot at or before ``moment``."""
        if moment.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        since = moment.astimezone(UTC) - EPOCH - self.offset
        steps = since // self.every
        return EPOCH + self.offset + steps * self.every

    def due(self, now: datetime) -> list[datetime]:
        """Slots whose time has come and whose grace has not run out, oldest first."""
        latest = self.slot_of(now)
        slots = []
        slot = latest
        while now - slot <= self.grace:
            slots.append(slot)
            slot -= self.every
        return sorted(slots)

    def next_after(self, moment: datetime) -> datetime:
        return self.slot_of(moment) + self.every


def local_morning(day: date, zone: ZoneInfo, at: clock_time = MORNING) -> datetime:
    """``at`` (6 AM) on ``day`` in ``zone``, as an aware UTC datetime."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def morning_due(*, timezone: str, slot: datetime, every: timedelta, at: clock_time = MORNING) -> date | None:
    """The local date whose morning (6 AM in ``timezone``) falls in ``[slot, slot + every)``, if any.

    Each local date has exactly one 6 AM, so an account is due in exactly one slot per day, whatever
    its UTC offset (half and quarter hours included, with a 15-minute grid).
    """
    zone = ZoneInfo(timezone)
    end = slot + every
    first, last = slot.astimezone(zone).date(), end.astimezone(zone).date()
    day = first
    while day <= last:
        moment = local_morning(day, zone, at)
        if slot <= moment < end:
            return day
        day += timedelta(days=1)
    return None

