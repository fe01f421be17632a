"""The slot grid: which slots are due, how long they can be caught up, and whose morning it is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tamio.scheduler.jobs import CRITICAL, ECB_DAILY, HOURLY, MORNING_GRID
from tamio.scheduler.slots import Cadence, morning_due


def at(hour: int, minute: int, second: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=UTC)


def test_a_slot_is_its_time_truncated_to_the_cadence() -> None:
    assert CRITICAL.slot_of(at(9, 7, 31)) == at(9, 5)
    assert CRITICAL.slot_of(at(9, 5)) == at(9, 5)
    assert HOURLY.slot_of(at(9, 59, 59)) == at(9, 0)
    assert ECB_DAILY.slot_of(at(16, 29)) == at(16, 30, day=6)
    assert ECB_DAILY.slot_of(at(16, 31)) == at(16, 30)


def test_a_slot_can_be_caught_up_within_its_grace_and_not_after() -> None:
    assert CRITICAL.due(at(9, 5)) == [at(9, 5)]
    assert CRITICAL.due(at(9, 9)) == [at(9, 5)]  # 4 minutes late: still runs
    assert CRITICAL.due(at(9, 9, 1)) == []  # later than the grace: the 9:10 slot is near
    assert HOURLY.due(at(9, 30)) == [at(9, 0)]
    assert HOURLY.due(at(9, 31)) == []
    morning = MORNING_GRID.due(at(9, 0))  # the daily job: three hours of 15-minute slots
    assert morning[0] == at(6, 0) and morning[-1] == at(9, 0) and len(morning) == 13


def test_a_cadence_refuses_what_cannot_work() -> None:
    with pytest.raises(ValueError):
        Cadence(every=timedelta(0), grace=timedelta(0))
    with pytest.raises(ValueError):
        CRITICAL.slot_of(datetime(2026, 12, 7, 9, 0))  # naive


@pytest.mark.parametrize(("zone", "slot", "day"), [
    ("UTC", at(6, 0), date(2026, 12, 7)),
    ("Europe/Paris", at(5, 0), date(2026, 12, 7)),  # 6 AM CET
    ("America/New_York", at(11, 0), date(2026, 12, 7)),  # 6 AM EST
    ("Asia/Kolkata", at(0, 30), date(2026, 12, 7)),  # +05:30
    ("Asia/Kathmandu", at(0, 15), date(2026, 12, 7)),  # +05:45
    ("Pacific/Auckland", at(17, 0, day=6), date(2026, 12, 7)),  # +13:00 in December: the next local day
    ("Europe/London", datetime(2026, 7, 1, 5, 0, tzinfo=UTC), date(2026, 7, 1)),  # BST
])
def test_each_time_zone_has_its_morning_in_exactly_one_slot_a_day(zone: str, slot: datetime, day: date) -> None:
    every = MORNING_GRID.every
    assert morning_due(timezone=zone, slot=slot, every=every) == day
    slots_in_a_day = [slot - timedelta(hours=12) + every * i for i in range(96)]
    assert [s for s in slots_in_a_day if morning_due(timezone=zone, slot=s, every=every)] == [slot]


def test_the_daylight_saving_change_does_not_skip_or_double_a_morning() -> None:
    every = MORNING_GRID.every
    day_start = datetime(2027, 3, 27, 0, 0, tzinfo=UTC)  # Europe/London springs forward on Sunday 28 March 2027
    mornings = [day_start + every * i for i in range(96 * 3)
                if morning_due(timezone="Europe/London", slot=day_start + every * i, every=every)]
    assert [m.isoformat() for m in mornings] == [
        "2027-03-27T06:00:00+00:00", "2027-03-28T05:00:00+00:00", "2027-03-29T05:00:00+00:00"]


@pytest.mark.parametrize("started", [at(9, 4, 30), at(9, 0, 0, day=8), at(17, 59, 59)])
def test_after_the_start_up_fire_every_job_fires_on_its_slots_and_runs_them(started: datetime) -> None:
    """What APScheduler asks the trigger after the start-up fire (off the grid), and after each slot's."""
    from tamio.scheduler.jobs import default_jobs
    from tamio.scheduler.setup import SlotTrigger

    for job in default_jobs().values():
        trigger = SlotTrigger(job.cadence)
        fire = trigger.get_next_fire_time(started, started)
        assert fire == job.cadence.next_after(started), job.name
        for _ in range(3):
            assert fire is not None and fire > started
            assert fire in job.cadence.due(fire), job.name  # each fire runs its own slot
            following = trigger.get_next_fire_time(fire, fire + timedelta(milliseconds=3))
            assert following == fire + job.cadence.every, job.name
            fire = following
        assert trigger.get_next_fire_time(None, started) == job.cadence.next_after(started - timedelta(microseconds=1))
