"""When the money of an open schedule is expected to move, given that it has not moved yet.

One function, ``expected_arrivals``, places every open receivable of a client; both forecast paths
call it (``tamio.forecast.expected.items_of``), so they cannot disagree. For now it is simple:
a client usually pays ``usual_delay`` days after the due date (``Client.avg_payment_delay_days``,
learned from its payments), so a receivable is expected then. When that day has passed and the
money is still not in, the client is later than usual and the money is expected any day: on the
forecast's first day, with the "overdue" confidence penalty. A receivable 5 days past due from a
client who usually pays 20 days late is therefore expected in 15 days, not in week 1.

The learned distribution of payment behaviour (issue 16) replaces this one function: it may return
several arrivals, each with the share of the amount expected that day; ``split`` shares the amount
out exactly. (The preparation engine measures an option's effect by moving a schedule from its
``expected_date``, today's single-date rule: ``tamio.preparation.drafts.move_schedule`` must then
remove the schedule's arrivals as spread here.) Payments the business makes (outflows) are expected on their due date, or on the
forecast's first day once overdue (``expected_payment``).

    >>> expected_arrivals(due=date(2026, 12, 2), as_of=date(2026, 12, 7), usual_delay=20)
    (Arrival(date=datetime.date(2026, 12, 22), share=Decimal('1'), later_than_usual=False),)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

ONE = Decimal(1)


@dataclass(frozen=True)
class Arrival:
    date: date
    share: Decimal  # of the open amount; the shares of one receivable sum to 1
    later_than_usual: bool = False  # past when it was expected and still unpaid: it may never come


def expected_arrivals(*, due: date, as_of: date, usual_delay: int) -> tuple[Arrival, ...]:
    """When a receivable due on ``due``, still unpaid on ``as_of``, is expected to arrive."""
    expected = due + timedelta(days=usual_delay)
    if expected < as_of:
        return (Arrival(as_of, ONE, later_than_usual=True),)
    return (Arrival(expected, ONE),)


def expected_payment(*, due: date, as_of: date) -> tuple[Arrival, ...]:
    """When the business pays a schedule it owes: on its due date, or at once when overdue."""
    return (Arrival(as_of, ONE, later_than_usual=True),) if due < as_of else (Arrival(due, ONE),)


def split(amount: Decimal, arrivals: Sequence[Arrival]) -> list[tuple[Arrival, Decimal]]:
    """``amount`` shared out over ``arrivals`` to the thousandth; the last takes what rounding left,
    so the parts always add up to ``amount`` exactly."""
    parts: list[tuple[Arrival, Decimal]] = []
    left = amount
    for arrival in arrivals[:-1]:
        part = (amount * arrival.share).quantize(Decimal("0.001"))
        parts.append((arrival, part))
        left -= part
    parts.append((arrivals[-1], left))
    return parts
