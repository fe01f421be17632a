"""How sure Tamio is of each expected movement, and so how wide the forecast's band is.

An item's confidence is a number in [0, 1]:

    contracted, fixed amount ............ 0.95
    variable amount ...................... 0.75
    estimated amount ..................... 0.60
    synced from an integration (Xero) .... +0.04 (the accounting system confirms it; see
                                           ``tamio.integrations.confidence``)
    late-paying client ................... -0.01 per day of usual delay, at most -0.30
    overdue and unpaid ................... halved (it may never come)

A week's confidence is the amount-weighted mean of its items (1 when it has none): high from
0.85, medium from 0.65, low below. The band around each closing balance is the running sum of
``amount x (1 - confidence)`` of every item so far, so it widens week by week and faster when
the amounts are less certain.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from tamio.integrations.confidence import source_bonus

BASE = {"fixed": Decimal("0.95"), "variable": Decimal("0.75"), "estimated": Decimal("0.60")}
INTEGRATION_BONUS = Decimal("0.04")
DELAY_PENALTY_PER_DAY = Decimal("0.01")
MAX_DELAY_PENALTY = Decimal("0.30")
FLOOR = Decimal("0.05")
# A payment whose delay was asked of the vendor and not agreed: it may go on its date or later.
UNCERTAIN_SOURCES = {"delay_requested": Decimal("0.35")}


@lru_cache(maxsize=4096)  # a pure function of a few small values, called for every forecast item
def item_confidence(*, amount_type: str, source: str, payment_delay_days: int = 0, overdue: bool = False) -> Decimal:
    score = BASE.get(amount_type, BASE["estimated"])
    score += source_bonus(source) if source not in ("manual", "csv", "generated", "tamio") else Decimal(0)
    score -= UNCERTAIN_SOURCES.get(source, Decimal(0))
    if payment_delay_days > 0:
        score -= min(MAX_DELAY_PENALTY, DELAY_PENALTY_PER_DAY * payment_delay_days)
    if overdue:
        score = score / 2
    return max(FLOOR, min(Decimal(1), score)).quantize(Decimal("0.0001"))


def confidence_label(score: Decimal) -> str:
    if score >= Decimal("0.85"):
        return "high"
    if score >= Decimal("0.65"):
        return "medium"
    return "low"
