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
    spreader.parts(units=500_000, days_to_due=-5)     # in minor units; days_to_due = due - as_of
    -> (Part(offset=12, units=110677, late=False), Part(offset=16, units=367532, late=False), ...)
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from tamio.money import quantum
from tamio.obligations.habits import ON_DUE_DATE, PaymentBehaviour


class Part(NamedTuple):
    offset: int  # days after the forecast's first day
    units: int  # in minor units (cents)
    late: bool  # later than the client usually pays: less certain to come at all


class Shares:
    """The weights of the weeks a receivable may arrive in (relative to a base week), the day of each
    week they are centred on, and the running share that has arrived by the end of each."""

    __slots__ = ("rels", "days", "weights", "total", "first", "arrived", "_offsets")

    def __init__(self, grouped: list[tuple[int, int, int]], total: int) -> None:
        self.rels = [rel for rel, _, _ in grouped]
        self.days = [day for _, day, _ in grouped]
        self.weights = [w for _, _, w in grouped]
        self.total = total
        self.first = self.rels[0] if self.rels else 0
        running, by_rel, arrived = 0, dict(zip(self.rels, self.weights, strict=True)), []
        for rel in range(self.first, (self.rels[-1] if self.rels else 0) + 1):
            running += by_rel.get(rel, 0)
            arrived.append(running / total if total > 0 else 1.0)
        self.arrived = arrived
        self._offsets: dict[int, list[int]] = {}

    def offsets(self, week: int) -> list[int]:
        """The day (after the forecast's first) each week's part lands on, from base week ``week``."""
        found = self._offsets.get(week)
        if found is None:
            found = self._offsets[week] = [7 * (week + rel) + day for rel, day in zip(self.rels, self.days, strict=True)]
        return found


class Spreader:
    """Spreads receivables for one behaviour; caches its shares (see the module docstring)."""

    def __init__(self, behaviour: PaymentBehaviour) -> None:
        self.behaviour = behaviour
        self.usual_high = behaviour.usual[1]
        self._by_weekday: dict[int, Shares] = {}
        self._by_days_open: dict[int, Shares] = {}
        self._arrived: dict[tuple[int, int], list[float]] = {}

    def shares(self, days_to_due: int) -> tuple[int, Shares]:
        """``(base week, shares)``: the weights of the weeks (counted from ``base week``) in which a
        receivable due ``days_to_due`` days after the forecast's first day arrives."""
        b = self.behaviour
        if days_to_due + b.first >= 0:  # not even its earliest payment is before the first day
            week, rest = divmod(days_to_due, 7)
            found = self._by_weekday.get(rest)
            if found is None:
                found = self._by_weekday[rest] = Shares(_group(b, start=rest, skip=0), b.total)
            return week, found
        cached = self._by_days_open.get(days_to_due)
        if cached is None:
            skip = -days_to_due - b.first  # weights of paying before the first day: it has not paid
            cached = self._by_days_open[days_to_due] = Shares(_group(b, start=days_to_due, skip=skip), b.mass_from(-days_to_due))
        return 0, cached

    def spread(self, *, units: int, days_to_due: int) -> tuple[list[int], list[int], bool]:
        """``units`` of a receivable due ``days_to_due`` days from the first day, shared out exactly:
        ``(offsets, units, late)``, the day (after the first) and units of each part, and whether it
        is later than the client usually pays (less certain to come at all)."""
        week, shares = self.shares(days_to_due)
        if shares.total <= 0 or units <= 0:  # later than it has ever paid (or nothing to spread): any day now
            return [max(0, days_to_due)], [units], True
        late = -days_to_due > self.usual_high
        offsets = shares.offsets(week)
        if len(offsets) == 1:
            return offsets, [units], late
        return offsets, largest_remainder(units, shares.weights, shares.total), late

    def parts(self, *, units: int, days_to_due: int) -> tuple[Part, ...]:
        """``spread`` as parts (the ones with some units)."""
        offsets, amounts, late = self.spread(units=units, days_to_due=days_to_due)
        return tuple(Part(offset, amount, late) for offset, amount in zip(offsets, amounts, strict=True) if amount)

    def arrived_by(self, days_to_due: int, weeks: int) -> list[float]:
        """The chance that a receivable due ``days_to_due`` days from the first day has arrived by
        the end of each of ``weeks`` weeks (the forecast's band uses it)."""
        found = self._arrived.get((days_to_due, weeks))
        if found is not None:
            return found
        week, shares = self.shares(days_to_due)
        if shares.total <= 0:
            found = [1.0] * weeks
        else:
            lead = week + shares.first  # the first week anything may have arrived by
            found = [0.0] * min(max(lead, 0), weeks) + shares.arrived[max(0, -lead) : max(0, weeks - lead)]
            found += [1.0] * (weeks - len(found))
        if len(self._arrived) < 20_000:
            self._arrived[(days_to_due, weeks)] = found
        return found


def _group(b: PaymentBehaviour, *, start: int, skip: int) -> list[tuple[int, int, int]]:
    """The behaviour's weights (from index ``skip``) by week, where paying ``d`` days late arrives
    ``start + d`` days after the first day of week 0; with the day each week's weight is centred on."""
    weeks: dict[int, list[int]] = {}
    for i in range(skip, len(b.weights)):
        w = b.weights[i]
        if not w:
            continue
        week, day = divmod(start + b.first + i, 7)
        found = weeks.setdefault(week, [0, 0])
        found[0] += w
        found[1] += w * day
    return [(week, (moment + weight // 2) // weight, weight) for week, (weight, moment) in sorted(weeks.items())]


def largest_remainder(units: int, weights: list[int], total: int) -> list[int]:
    """``units`` shared in proportion to ``weights`` (of ``total``) in whole units, adding up to ``units``
    exactly: each gets its floor, and what is left goes one by one to the largest remainders (the
    earlier first on a tie)."""
    scaled = [units * w for w in weights]
    floors = [x // total for x in scaled]
    short = units - sum(floors)
    if short:
        remainders = [x % total for x in scaled]
        for i in sorted(range(len(weights)), key=remainders.__getitem__, reverse=True)[:short]:  # stable: the earlier on a tie
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





def arrivals(behaviour: PaymentBehaviour, *, amount: Decimal, due: date, as_of: date, currency: str) -> tuple[tuple[date, Decimal], ...]:
    """Where one receivable's ``amount`` is expected (the preparation engine moves it from there):
    the same spread as the forecast's, its parts adding up to ``amount`` exactly."""
    step = quantum(currency)
    units = int(amount // step)
    offsets, shares, _ = spreader_for(behaviour).spread(units=units, days_to_due=(due - as_of).days)
    parts = [(offset, share) for offset, share in zip(offsets, shares, strict=True) if share]
    if not parts:  # under one minor unit (a receivable paid but for a rounding): where it is due, as the forecast counts it
        return ((max(as_of, due), amount),)
    rest = amount - units * step  # what is finer than a minor unit goes with the largest part (the first of equals)
    if len(parts) == 1:
        return ((as_of + timedelta(days=parts[0][0]), parts[0][1] * step + rest),)
    largest = max(range(len(parts)), key=lambda i: parts[i][1])
    return tuple(
        (as_of + timedelta(days=offset), share * step + rest if i == largest else share * step) for i, (offset, share) in enumerate(parts)
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
