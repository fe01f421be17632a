"""Data synced from an accounting integration is more certain than what a person typed.

An invoice that Xero holds as AUTHORISED has an exact amount and due date agreed with the
counterparty; a manual entry is the business's own expectation. The forecast adds this bonus to
the confidence of schedules whose source is an integration.
"""

from __future__ import annotations

from decimal import Decimal

SOURCE_BONUS = {"xero": Decimal("0.04"), "quickbooks": Decimal("0.04")}


def source_bonus(source: str) -> Decimal:
    return SOURCE_BONUS.get(source, Decimal(0))
