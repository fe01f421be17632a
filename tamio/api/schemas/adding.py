"""The body of ``POST /api/v1/data/obligations``: one obligation, as ``/tamio add`` and the CLI say it.

The shape is checked here (types, lengths); the rules are the core's (``tamio.obligations.adding``),
so the API refuses what Slack and the CLI refuse, with the same words.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from tamio.api.schemas.counterparties import RecurrenceIn
from tamio.api.schemas.ledger import ObligationOut, ScheduleOut
from tamio.api.types import BODY_CONFIG, OUT_CONFIG, Currency, Email, Name, PositiveAmount

InvoiceNumber = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$", examples=["INV-1042"])]


class ObligationCreate(BaseModel):
    """A client's or vendor's amount: found by name, or created; an invoice is a one-off with its number."""

    model_config = BODY_CONFIG
    kind: Literal["client", "expense", "payroll", "tax"]
    name: Name = Field(description="the client's or vendor's name; a new name creates it")
    amount: PositiveAmount
    currency: Currency | None = Field(None, description="default: the account's base currency")
    recurrence: RecurrenceIn = Field(description="a start date in the past is owed from then: an overdue invoice, or arrears")
    invoice: InvoiceNumber | None = Field(None, description="for a one-off: the invoice number a payment names")
    contact_email: Email | None = Field(None, description="where follow-up emails go (replaces the one there)")
    allow_duplicate: bool = Field(False, description="add it even when the same amount and frequency is already there (else 409)")


class ObligationAddedOut(BaseModel):
    model_config = OUT_CONFIG
    counterparty_id: str
    counterparty_created: bool
    obligation: ObligationOut | None
    schedules: list[ScheduleOut]
    first_due: date | None
    overdue: str = Field(description='e.g. "already 16 days overdue"; empty when the first date is today or later')
