"""Runway: one definition, one function, one way to say it (the forecast, alerts, cards, App Home,
the digest, the CLI and the API all use these).

Runway is how long until a week's closing balance first falls below the effective buffer (the
buffer after safety mode, the one alerts use), interpolated inside that week, measured over the
first ``RUNWAY_WEEKS`` weeks whatever the forecast's length: ``None`` when cash stays above the
buffer for all of them ("more than 13 weeks"). A 4-week and a 13-week forecast of the same books
therefore give the same runway.

    >>> describe_runway(Decimal("4.9"))
    '4.9 weeks (1.1 months)'
    >>> describe_runway(None)
    'more than 13 weeks'
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

ZERO = Decimal(0)
TENTH = Decimal("0.1")
RUNWAY_WEEKS = 13
DAYS_PER_MONTH = Decimal("30.4375")


class _Week(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def closing_balance(self) -> Decimal: ...


def runway_weeks(opening: Decimal, weeks: Sequence[_Week], buffer: Decimal) -> Decimal | None:
    """Weeks (to 0.1) until a closing balance falls below ``buffer``; 0 when cash is already below
    it; ``None`` when it stays above for the first ``RUNWAY_WEEKS`` weeks."""
    if opening < buffer:
        return ZERO.quantize(TENTH)
    previous = opening
    for week in weeks[:RUNWAY_WEEKS]:
        if week.closing_balance < buffer:
            drop = previous - week.closing_balance
            fraction = (previous - buffer) / drop if drop > 0 else ZERO
            return (Decimal(week.index - 1) + fraction).quantize(TENTH, rounding=ROUND_HALF_EVEN)
        previous = week.closing_balance
    return None


def runway_months(weeks: Decimal | None) -> Decimal | None:
    if weeks is None:
        return None
    return (weeks * 7 / DAYS_PER_MONTH).quantize(TENTH, rounding=ROUND_HALF_EVEN)


def describe_runway(weeks: Decimal | None) -> str:
    """The runway in words, the same everywhere: "4.9 weeks (1.1 months)", "under a week",
    "none: cash is already below the buffer", "more than 13 weeks"."""
    if weeks is None:
        return f"more than {RUNWAY_WEEKS} weeks"
    if weeks <= 0:
        return "none: cash is already below the buffer"
    if weeks < 1:
        return "under a week"
    months = runway_months(weeks) or ZERO
    return f"{_number(weeks)} week{'' if weeks == 1 else 's'} ({_number(months)} month{'' if months == 1 else 's'})"


def _number(value: Decimal) -> str:
    text = format(value.quantize(TENTH), "f")
    return text[:-2] if text.endswith(".0") else text
