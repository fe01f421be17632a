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
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, case, literal

from tamio.forecast.behaviour import expected_arrivals, expected_payment, split
from tamio.forecast.confidence import item_confidence
from tamio.forecast.engine import INFLOW, ForecastItem
from tamio.obligations.models import ObligationSchedule, ScheduleStatus

ZERO = Decimal(0)
GENERATED = "generated"
# The origin a schedule counts under while a delay asked of its vendor is not agreed: on its own
# date, less certain (``tamio.forecast.confidence``), until the delay is agreed and the date moves.
DELAY_REQUESTED = "delay_requested"


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


def plain_clause(as_of: date) -> ColumnElement[bool]:
    """``is_plain`` in SQL."""
    os_ = ObligationSchedule
    return and_(
        os_.status == ScheduleStatus.SCHEDULED, os_.paid_amount == 0, os_.delayed_from.is_(None), os_.source == GENERATED,
        os_.due_date >= as_of, os_.delay_requested_to.is_(None),
    )


def items_of(totals: Mapping[ExpectedKey, Decimal], delays: Mapping[str, int], *, as_of: date) -> list[ForecastItem]:
    """Forecast items from the open amounts (a key whose amount is not positive expects nothing)."""
    items: list[ForecastItem] = []
    ordered = sorted(totals.items(), key=lambda kv: (kv[0].due, kv[0].direction, kv[0].amount_type, kv[0].origin, kv[0].client_id or ""))
    for key, amount in ordered:
        if amount <= 0:
            continue
        if key.direction == INFLOW:
            delay = int(delays.get(key.client_id, 0)) if key.client_id else 0
            arrivals = expected_arrivals(due=key.due, as_of=as_of, usual_delay=delay)
        else:
            delay = 0
            arrivals = expected_payment(due=key.due, as_of=as_of)
        for arrival, part in split(amount, arrivals):
            items.append(
                ForecastItem(
                    date=arrival.date, amount=part, direction=key.direction, overdue=arrival.later_than_usual,
                    confidence=item_confidence(
                        amount_type=key.amount_type, source=key.origin, payment_delay_days=delay, overdue=arrival.later_than_usual
                    ),
                )
            )
    return items
