"""What a detection rule returns: a Finding, a value the engine turns into (or matches to) an alert.

A finding names the problem in the business's words (``title``, ``explanation`` with the numbers
that made it fire), its severity, the entity it is about, an amount in the base currency, and a
``fingerprint`` that stays the same on every rerun while it is the same problem:

    late_payment:schedule:<schedule id>          one per unpaid invoice
    unexpected_revenue:payment:<payment id>      one per surprising payment
    unexpected_expense:payment:<payment id>
    client_churn:client:<client id>              one per client (either reason)
    revenue_variance:trailing_30_days            one per account
    payment_timing_conflict:day:<date>           the day of the cluster's largest outflow
    vendor_terms_expiring:schedule:<schedule id>
    statutory_deadline:schedule:<schedule id>
    buffer_breach:account                        one per account: a breach whose lowest week moves
    runway_threshold:account                     (or deepens) is the same alert, updated
    payroll_safety:schedule:<schedule id>        one per payroll run
    headcount_change:agreement:<id>:new          a new payroll agreement
    headcount_change:agreement:<id>:rise:<date>  a payroll amount that rose on that date

``context`` is JSON-safe (Decimals and dates as strings) and carries the ids the preparation agents
read (``schedule_id``, ``client_id``, ``vendor_id``, ``agreement_id``, ``expected_amount``,
``actual_amount``, ``currency``, ``reason``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from tamio.dates import day_text
from tamio.detection.models import AlertSeverity, DetectionType
from tamio.money import format_money, precision

EMERGENCY = AlertSeverity.EMERGENCY
THIS_WEEK = AlertSeverity.THIS_WEEK
UPCOMING = AlertSeverity.UPCOMING


@dataclass(frozen=True, slots=True)
class Finding:
    detection_type: DetectionType
    severity: AlertSeverity
    entity_type: str
    entity_id: str | None
    entity_name: str
    title: str
    explanation: str
    fingerprint: str
    amount: Decimal | None = None  # in ``currency``, the base currency
    currency: str | None = None
    due_date: date | None = None
    context: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


def context(**values: Any) -> Mapping[str, Any]:
    """A read-only, JSON-safe context: Decimals and dates become strings, None values are dropped."""
    safe: dict[str, Any] = {}
    for key, value in values.items():
        kind = type(value)
        if kind is str or kind is int or kind is bool:
            safe[key] = value
        elif value is not None:
            safe[key] = _jsonable(value)
    return MappingProxyType(safe)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@lru_cache(maxsize=64)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-precision(currency))


def to_minor_units(amount: Decimal, currency: str) -> Decimal:
    """``tamio.money.quantize`` with the currency's precision looked up once (babel's lookup is slow)."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_EVEN)


def money(amount: Decimal, currency: str) -> str:
    """``tamio.money.format_money``: findings write amounts as everything else does."""
    return format_money(amount, currency)


def day(value: date) -> str:
    """A date as people say it in a message: ``Tue 15 Dec`` (``tamio.dates.day_text``)."""
    return day_text(value)


def plural(count: int | Decimal, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def pct(value: Decimal) -> str:
    """A percentage without trailing zeros: 15, 12.5, 33.3."""
    rounded = value.quantize(Decimal("0.1"))
    return format(rounded.normalize() if rounded == rounded.to_integral_value() else rounded, "f").removesuffix(".0")
