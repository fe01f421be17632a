"""Where the money of an open receivable is expected, given how its client pays and that it is unpaid.

A receivable due on ``due`` and still unpaid on the forecast's first day ``as_of`` will be paid
``D`` days late, where ``D`` follows the client's learned behaviour (``tamio.obligations.habits``)
*given that* ``D >= as_of - due``: it is at least that late already. A receivable 5 days past due
from a client who usually pays 18-24 days late is expected 13-19 days from now, not this week; a
client who pays half on time and half 45 days late has a receivable 10 days overdue expected,
almost all of it, around day 45. Its amount is shared out over the weeks it may arrive, in whole
minor units of the currency by the largest-remainder method, so the parts add up to the amount
exactly; each week's part lands on the day of that week its chance is centred on.

When the behaviour gives no chance of being that late (the account has no payment history, so
every receivable is expected on its due date; or it is later than this client has ever paid) the
whole amount is expected on the forecast's first day, flagged as later than usual: it may never
come. Payments the business makes are expected on their due date, or at once when overdue.

``spread`` is the one function both forecast paths use (through ``tamio.forecast.expected``), and
the preparation engine uses it to move a receivable's money, so all of them agree. A ``Spreader``
caches the shares per day of the week a receivable falls due (and per day overdue), which is what
keeps a forecast of many receivables fast: each one is then a few integer operations.

    spreader = Spreader(behaviour)
    spreader.spread(units=500_000, days_to_due=-5)     # in minor units; days_to_due = due - as_of
    -> (Part(offset=13, units=312_480, late=False), Part(offset=18, units=187_520, late=False))
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tamio.money import precision
from tamio.obligations.habits import ON_DUE_DATE, PaymentBehaviour


@dataclass(frozen=True)
class Part:
    offset: int  # days after the forecast's first day
    units: int  # in minor units (cents)
    late: bool  # later than the client usually pays: less certain to come at all


# (week relative to the receivable's week, day of that week, weight): the shares of one receivable
Shares = tuple[tuple[int, int, int], ...]


class Spreader:
    """Spreads receivables for one behaviour; caches its shares (see the module docstring)."""

    def __init__(self, behaviour: PaymentBehaviour) -> None:
        self.behaviour = behaviour
        self.usual_high = behaviour.usual[1]
        self._by_weekday: dict[int, Shares] = {}
        self._by_days_open: dict[int, tuple[Shares, int]] = {}

    def shares(self, days_to_due: int) -> tuple[int, Shares, int]:
        """``(base week, shares, total weight)``: the weights of the weeks (counted from ``base week``)
        in which a receivable due ``days_to_due`` days after the forecast's first day arrives."""
        b = self.behaviour
        if days_to_due + b.first >= 0:  # not even its earliest payment is before the first day
            week, rest = divmod(days_to_due, 7)
            found = self._by_weekday.get(rest)
            if found is None:
                found = self._by_weekday[rest] = _group(b, start=rest, skip=0)
            return week, found, b.total
        cached = self._by_days_open.get(days_to_due)
        if cached is None:
            skip = -days_to_due - b.first  # weights of paying before the first day: it has not paid
            cached = self._by_days_open[days_to_due] = (_group(b, start=days_to_due, skip=skip), b.mass_from(-days_to_due))
        return 0, cached[0], cached[1]

    def spread(self, *, units: int, days_to_due: int) -> tuple[Part, ...]:
        """``units`` of a receivable due ``days_to_due`` days from the first day, shared out exactly."""
        late = -days_to_due > self.usual_high
        week, shares, total = self.shares(days_to_due)
        if total <= 0 or units <= 0:  # later than it has ever paid (or nothing to spread): any day now
            return (Part(max(0, days_to_due), units, True),)
        parts = largest_remainder(units, [w for _, _, w in shares], total)
        return tuple(
            Part(7 * (week + rel) + day, part, late) for (rel, day, _), part in zip(shares, parts, strict=True) if part
        )

    def arrived_by(self, days_to_due: int, weeks: int) -> list[float]:
        """The chance that a receivable due ``days_to_due`` days from the first day has arrived by
        the end of each of ``weeks`` weeks (the forecast's band uses it)."""
        week, shares, total = self.shares(days_to_due)
        if total <= 0:
            return [1.0] * weeks
        out, running, i = [], 0, 0
        for w in range(weeks):
            while i < len(shares) and week + shares[i][0] <= w:
                running += shares[i][2]
                i += 1
            out.append(running / total)
        return out


def _group(b: PaymentBehaviour, *, start: int, skip: int) -> Shares:
    """The behaviour's weights (from index ``skip``) by week, where paying ``d`` days late arrives
    ``start + d`` days after the first day of week 0; with the day each week's weight is centred on."""
    weeks: OrderedDict[int, list[int]] = OrderedDict()
    for i in range(skip, len(b.weights)):
        w = b.weights[i]
        if not w:
            continue
        week, day = divmod(start + b.first + i, 7)
        found = weeks.setdefault(week, [0, 0])
        found[0] += w
        found[1] += w * day
    return tuple((week, (moment + weight // 2) // weight, weight) for week, (weight, moment) in sorted(weeks.items()))


def largest_remainder(units: int, weights: list[int], total: int) -> list[int]:
    """``units`` shared in proportion to ``weights`` (of ``total``) in whole units, adding up to ``units``
    exactly: each gets its floor, and what is left goes one by one to the largest remainders (the
    earlier first on a tie)."""
    floors, remainders = [], []
    for w in weights:
        part, left = divmod(units * w, total)
        floors.append(part)
        remainders.append(left)
    short = units - sum(floors)
    if short:
        for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]:
            floors[i] += 1
    return floors


_SPREADERS: OrderedDict[tuple[int, tuple[int, ...], int], Spreader] = OrderedDict()
_CACHE_SIZE = 4096


def spreader_for(behaviour: PaymentBehaviour) -> Spreader:
    """The (cached) spreader of a behaviour: forecasts of the same account reuse its shares."""
    if behaviour is ON_DUE_DATE:
        return _DUE_DATE
    key = (behaviour.first, behaviour.weights, behaviour.usual[1])
    found = _SPREADERS.get(key)
    if found is None:
        found = _SPREADERS[key] = Spreader(behaviour)
        if len(_SPREADERS) > _CACHE_SIZE:
            _SPREADERS.popitem(last=False)
    return found


_DUE_DATE = Spreader(ON_DUE_DATE)


def payment_part(*, units: int, days_to_due: int) -> Part:
    """When the business pays what it owes: on the due date, or on the first day once overdue."""
    return Part(max(0, days_to_due), units, days_to_due < 0)


def arrivals(behaviour: PaymentBehaviour, *, amount: Decimal, due: date, as_of: date, currency: str) -> tuple[tuple[date, Decimal], ...]:
    """Where one receivable's ``amount`` is expected (the preparation engine moves it from there):
    the same spread as the forecast's, its parts adding up to ``amount`` exactly."""
    step = Decimal(1).scaleb(-precision(currency))
    units = int(amount // step)
    parts = spreader_for(behaviour).spread(units=units, days_to_due=(due - as_of).days)
    rest = amount - units * step
    largest = max(parts, key=lambda p: p.units)
    return tuple(
        (as_of + timedelta(days=p.offset), p.units * step + (rest if p is largest else Decimal(0))) for p in parts
    )


def expected_on(found: tuple[tuple[date, Decimal], ...]) -> date:
    """The day by which at least half of the money is expected."""
    total = sum((amount for _, amount in found), Decimal(0))
    running = Decimal(0)
    for day, amount in found:
        running += amount
        if running * 2 >= total:
            return day
    return found[-1][0]
