"""What both forecast paths produce before the engine: open amounts per expected-payment key.

Each path sums the money still expected per ``ExpectedKey`` (due date, direction, amount type,
origin, client); ``items_of`` turns those sums into forecast items the same way for both, placing
receivables with ``tamio.forecast.behaviour`` and scoring each with ``item_confidence``. Because
both paths hand over the same sums, they give the same weeks to the cent.

A *plain* schedule is one that its agreement's recurrence describes exactly: generated, scheduled,
nothing paid, never moved, and not yet due on the forecast's first day. Everything else (paid or
partly paid, queued, moved by a delay, overdue, from Xero) is the ledger's news, which the legacy
path reads beside the billing lines (see ``tamio.forecast.legacy``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_

from tamio.forecast.behaviour import Spreader, payment_part, spreader_for
from tamio.forecast.confidence import item_confidence
from tamio.forecast.engine import INFLOW, ForecastItem
from tamio.money import precision
from tamio.obligations.habits import GENERIC, Habits, unknown_share
from tamio.obligations.models import ObligationSchedule, ScheduleStatus

ZERO = Decimal(0)
_GENERIC = Spreader(GENERIC)
GENERATED = "generated"


@dataclass(frozen=True)
class ExpectedKey:
    due: date
    direction: str  # "inflow" | "outflow"
    amount_type: str
    origin: str
    client_id: str | None


Totals = dict[ExpectedKey, Decimal]


def key_of(due: date, direction: object, amount_type: object, origin: str, client_id: str | None) -> ExpectedKey:
    """The key of a schedule row or a billing line's occurrence (enums or their values alike)."""
    return ExpectedKey(due, str(getattr(direction, "value", direction)), str(getattr(amount_type, "value", amount_type)), origin, client_id)


def add(totals: Totals, key: ExpectedKey, amount: Decimal) -> None:
    totals[key] = totals.get(key, ZERO) + amount


def is_plain(*, status: ScheduleStatus, paid_amount: Decimal, delayed_from: date | None, source: str, due: date, as_of: date) -> bool:
    return (
        status == ScheduleStatus.SCHEDULED and paid_amount == 0 and delayed_from is None and source == GENERATED and due >= as_of
    )


def plain_clause(as_of: date) -> ColumnElement[bool]:
    """``is_plain`` in SQL."""
    os_ = ObligationSchedule
    return and_(
        os_.status == ScheduleStatus.SCHEDULED, os_.paid_amount == 0, os_.delayed_from.is_(None), os_.source == GENERATED,
        os_.due_date >= as_of,
    )


@dataclass(frozen=True)
class Expected:
    """The forecast's items, and the band's prior for each week's closing balance: where it more
    likely lands than the items say (``lean``: receivables of clients with little history tend to
    come later than their due date) and its variance (when receivables arrive, and how far amounts
    of each type stray)."""

    items: tuple[ForecastItem, ...]
    variance: tuple[float, ...]
    lean: tuple[float, ...] = ()


# How far an amount may stray from what was expected, by amount type (a standard deviation, as a
# share of the amount): the band's prior before the account's own forecast errors calibrate it.
AMOUNT_SPREAD = {"fixed": 0.02, "variable": 0.12, "estimated": 0.25}
# How much an unknown client's receivables move together (1: all with its habit; 0: each on its own).
TOGETHER = 1.0


def items_of(totals: Mapping[ExpectedKey, Decimal], habits: Habits, *, as_of: date, weeks: int, currency: str) -> Expected:
    """Forecast items from the open amounts (a key whose amount is not positive expects nothing).

    Receivables are spread by their client's behaviour (``tamio.forecast.behaviour``), in whole
    minor units, the parts of each adding up to it exactly; parts landing on the same day with the
    same confidence become one item. Payments the business makes stay on their due date.
    """
    step = 10 ** (3 - precision(currency))  # thousandths in one minor unit
    horizon = 7 * weeks
    moved: dict[tuple[int, str, Decimal, bool], int] = {}
    extra: dict[tuple[int, str, Decimal, bool], Decimal] = {}
    prior = BandPrior(weeks)
    amounts = [0.0] * weeks
    spreaders: dict[str | None, tuple[Spreader, float, int]] = {}
    ordered = sorted(totals.items(), key=lambda kv: (kv[0].due, kv[0].direction, kv[0].amount_type, kv[0].origin, kv[0].client_id or ""))
    for key, amount in ordered:
        if amount <= 0:
            continue
        days_to_due = (key.due - as_of).days
        thousandths = amount.scaleb(3)
        whole = int(thousandths)
        units, rest = divmod(whole, step)
        if key.direction == INFLOW:
            found = spreaders.get(key.client_id)
            if found is None:
                behaviour = habits.of(key.client_id)
                found = spreaders[key.client_id] = (spreader_for(behaviour), unknown_share(behaviour), max(0, behaviour.median))
            spreader, unknown, delay = found
            parts = spreader.spread(units=units, days_to_due=days_to_due)
            prior.add(key.client_id, unknown, float(amount), spreader.arrived_by(days_to_due, weeks), _GENERIC.arrived_by(days_to_due, weeks))
        else:
            delay = 0
            parts = (payment_part(units=units, days_to_due=days_to_due),)
        spread_share = AMOUNT_SPREAD.get(key.amount_type, AMOUNT_SPREAD["estimated"])
        largest = max(parts, key=lambda p: p.units)
        for part in parts:
            if part.offset >= horizon:
                continue
            confidence = item_confidence(amount_type=key.amount_type, source=key.origin, payment_delay_days=delay, overdue=part.late)
            slot = (part.offset, key.direction, confidence, part.late)
            moved[slot] = moved.get(slot, 0) + part.units * step + (rest if part is largest else 0)
            if part is largest and whole != thousandths:
                extra[slot] = extra.get(slot, ZERO) + (thousandths - whole).scaleb(-3)
            amounts[part.offset // 7] += (float(part.units * step) / 1000 * spread_share) ** 2
    items = tuple(
        ForecastItem(
            date=as_of + timedelta(days=offset), amount=Decimal(units).scaleb(-3) + extra.get((offset, direction, confidence, late), ZERO),
            direction=direction, confidence=confidence, overdue=late,
        )
        for (offset, direction, confidence, late), units in sorted(moved.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2], kv[0][3]))
    )
    timing, lean = prior.totals()
    variance, running = [], 0.0
    for w in range(weeks):
        running += amounts[w]
        variance.append(running + timing[w])
    return Expected(items=items, variance=tuple(variance), lean=tuple(lean))


class BandPrior:
    """The band's prior for the receivables. Each receivable arrives as its client has paid, or with
    the chance ``unknown`` (1 for a client that has not paid, falling the more it has) as small
    businesses' clients do (``GENERIC``). Per week, from the chance it has arrived by then, the
    closing balance's expected shift from the forecast (``lean``) and its variance; while a client is
    unknown its receivables also move together (``TOGETHER``: they share a habit not yet seen)."""

    def __init__(self, weeks: int) -> None:
        self.weeks = weeks
        self.variance = [0.0] * weeks
        self.lean = [0.0] * weeks
        self.clients: dict[str | None, tuple[float, list[float], list[float]]] = {}

    def add(self, client_id: str | None, unknown: float, amount: float, learned: list[float], generic: list[float]) -> None:
        found = self.clients.get(client_id)
        if found is None:
            found = self.clients[client_id] = (unknown, [0.0] * self.weeks, [0.0] * self.weeks)
        _, alone, together = found
        square = amount * amount
        for w in range(self.weeks):
            p, g = learned[w], generic[w]
            either = unknown * g + (1.0 - unknown) * p
            self.variance[w] += square * either * (1.0 - either)
            self.lean[w] += amount * (either - p)
            if unknown > 0.0:
                alone[w] += square * g * (1.0 - g)
                together[w] += amount * math.sqrt(g * (1.0 - g))

    def totals(self) -> tuple[list[float], list[float]]:
        variance = list(self.variance)
        for unknown, alone, together in self.clients.values():
            shared = TOGETHER * unknown * unknown
            for w in range(self.weeks):
                variance[w] += shared * (together[w] ** 2 - alone[w])
        return variance, list(self.lean)
