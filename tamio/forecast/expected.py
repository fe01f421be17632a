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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, literal

from tamio.forecast.band import BandPrior
from tamio.forecast.behaviour import Spreader, spreader_for
from tamio.forecast.confidence import item_confidence
from tamio.forecast.engine import INFLOW, ForecastItem
from tamio.money import precision
from tamio.obligations.habits import GENERIC, Habits, unknown_share
from tamio.obligations.models import ObligationSchedule, ScheduleStatus

ZERO = Decimal(0)
THOUSAND = Decimal(1000)
_GENERIC = Spreader(GENERIC)
GENERATED = "generated"
# The origin a schedule counts under while a delay asked of its vendor is not agreed: on its own
# date, less certain (``tamio.forecast.confidence``), until the delay is agreed and the date moves.
DELAY_REQUESTED = "delay_requested"


class ExpectedKey(NamedTuple):
    due: date
    direction: str  # "inflow" | "outflow"
    amount_type: str
    origin: str
    client_id: str | None


Totals = dict[ExpectedKey, Decimal]


def key_of(due: date, direction: object, amount_type: object, origin: str, client_id: str | None) -> ExpectedKey:
    """The key of a schedule row or a billing line's occurrence (enums or their values alike)."""
    return ExpectedKey(
        due, direction if type(direction) is str else str(getattr(direction, "value", direction)),
        amount_type if type(amount_type) is str else str(getattr(amount_type, "value", amount_type)), origin, client_id,
    )


def add(totals: Totals, key: ExpectedKey, amount: Decimal) -> None:
    totals[key] = totals.get(key, ZERO) + amount


def is_plain(*, status: ScheduleStatus, paid_amount: Decimal, delayed_from: date | None, source: str, due: date, as_of: date,
             delay_requested_to: date | None = None) -> bool:
    return (
        status == ScheduleStatus.SCHEDULED and paid_amount == 0 and delayed_from is None and source == GENERATED and due >= as_of
        and delay_requested_to is None
    )


def origin_column() -> ColumnElement[str]:
    """A schedule's origin for the forecast: ``delay_requested`` while a delay asked of its vendor is pending."""
    os_ = ObligationSchedule
    return case((os_.delay_requested_to.is_not(None), literal(DELAY_REQUESTED)), else_=os_.origin)


def plain_clause(as_of: Any) -> ColumnElement[bool]:
    """``is_plain`` in SQL (``as_of``: a day, or a parameter standing for one)."""
    os_ = ObligationSchedule
    return and_(
        os_.status == ScheduleStatus.SCHEDULED, os_.paid_amount == 0, os_.delayed_from.is_(None), os_.source == GENERATED,
        os_.due_date >= as_of, os_.delay_requested_to.is_(None),
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


def items_of(totals: Mapping[ExpectedKey, Decimal], habits: Habits, *, as_of: date, weeks: int, currency: str) -> Expected:
    """Forecast items from the open amounts (a key whose amount is not positive expects nothing).

    Receivables are spread by their client's behaviour (``tamio.forecast.behaviour``), in whole
    minor units, the parts of each adding up to it exactly; parts landing on the same day with the
    same confidence become one item. Payments the business makes stay on their due date.
    """
    step = 10 ** (3 - precision(currency))  # thousandths in one minor unit
    horizon = 7 * weeks
    moved: dict[tuple[str, Decimal, bool], list[int]] = {}  # (direction, confidence, late) -> thousandths per day
    extra: dict[tuple[int, str, Decimal, bool], Decimal] = {}
    prior = BandPrior(weeks)
    clients: dict[str | None, tuple[Spreader, float, int, int]] = {}
    scores: dict[tuple[str, str, str, int, bool], tuple[str, Decimal, bool]] = {}
    days_to: dict[date, int] = {}
    for key, amount in sorted(totals.items(), key=lambda kv: (kv[0][:4], kv[0].client_id or "")):
        if amount <= 0:
            continue
        days_to_due = days_to.get(key.due)
        if days_to_due is None:
            days_to_due = days_to[key.due] = (key.due - as_of).days
        thousandths = amount * THOUSAND
        whole = int(thousandths)
        units, rest = divmod(whole, step)
        sd_share = AMOUNT_SPREAD.get(key.amount_type, AMOUNT_SPREAD["estimated"])
        if key.direction == INFLOW:
            found = clients.get(key.client_id)
            if found is None:
                behaviour = habits.of(key.client_id)
                found = clients[key.client_id] = (spreader_for(behaviour), unknown_share(behaviour), max(0, behaviour.median), len(clients))
            spreader, unknown, delay, slot = found
            offsets, parts, late = spreader.spread(units=units, days_to_due=days_to_due)
            prior.receivable(slot, float(amount), unknown, sd_share, spreader.arrived_by(days_to_due, weeks),
                             _GENERIC.arrived_by(days_to_due, weeks))
        else:
            delay, late = 0, days_to_due < 0
            offsets, parts = [max(0, days_to_due)], [units]
            prior.payment(offsets[0] // 7, float(amount), sd_share)
        group = scores.get((key.direction, key.amount_type, key.origin, delay, late))
        if group is None:
            score = item_confidence(amount_type=key.amount_type, source=key.origin, payment_delay_days=delay, overdue=late)
            group = scores[(key.direction, key.amount_type, key.origin, delay, late)] = (key.direction, score, late)
        days = moved.get(group)
        if days is None:
            days = moved[group] = [0] * horizon
        largest = parts.index(max(parts))
        if offsets[largest] < horizon:
            days[offsets[largest]] += rest
            if whole != thousandths:  # finer than thousandths: never from the database
                where = (offsets[largest], *group)
                extra[where] = extra.get(where, ZERO) + (thousandths - whole) / THOUSAND
        for offset, part in zip(offsets, parts, strict=True):
            if offset < horizon:
                days[offset] += part * step
    found_items = sorted(
        ((offset, direction, confidence, late), units)
        for (direction, confidence, late), days in moved.items() for offset, units in enumerate(days) if units
    )
    items = tuple(
        ForecastItem(
            date=as_of + timedelta(days=offset), amount=Decimal(units).scaleb(-3) + extra.get((offset, direction, confidence, late), ZERO),
            direction=direction, confidence=confidence, overdue=late,
        )
        for (offset, direction, confidence, late), units in sorted(found_items, key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2], kv[0][3]))
    )
    variance, lean = prior.totals()
    return Expected(items=items, variance=variance, lean=lean)
