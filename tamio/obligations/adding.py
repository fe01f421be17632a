"""Adding an obligation: one input, whichever edge it comes from.

``AddObligation`` is what the business is owed or owes, as a person says it: a kind, a
counterparty's name, an amount in a currency and how it recurs. ``/tamio add`` (through
``tamio.obligations.inline``), the add form, the CLI, the CSV import and the REST API all build one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tamio.obligations.schemas import RecurrenceSpec

Kind = Literal["client", "expense", "payroll", "tax"]


class AddObligation(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    name: str
    amount: Decimal
    currency: str
    recurrence: RecurrenceSpec
