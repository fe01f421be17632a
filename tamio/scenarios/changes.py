"""What a scenario may change: each kind of hypothetical change is one pydantic model.

A scenario is an ordered list of these, layered over the live forecast and never written into the
real data (``tamio.scenarios.engine``). Each change names what it touches (a client, a vendor, a
credit line, a cash account) by name, so a saved scenario stays live: it is resolved against
today's data every time it is evaluated, and a name that no longer exists is an error naming it.

    late = Late(name="Acme Corp", days=30)          # Acme pays 30 days later than it usually does
    once = OneOff(direction="out", amount=Decimal("2500"), on=date(2027, 1, 15))
    Scenario(changes=[late, once]).model_dump(mode="json")   # what the scenarios table stores
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from tamio.dates import day_text
from tamio.limits import check_amount, check_name
from tamio.money import format_money
from tamio.obligations.schemas import RecurrenceSpec

MAX_CHANGES = 20
MAX_LATE_DAYS = 365
KINDS = ("client", "expense", "payroll", "tax")


class _Change(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Named(_Change):
    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)


def _positive(value: Decimal) -> Decimal:
    check_amount(value)
    if value <= 0:
        raise ValueError("the amount must be more than zero")
    return value


PositiveAmount = Annotated[Decimal, AfterValidator(_positive)]


class AddObligation(_Named):
    """A new amount owed or owing, in ``/tamio add``'s terms (the recurrence as its stored config)."""

    kind: Literal["add"] = "add"
    obligation_kind: Literal["client", "expense", "payroll", "tax"]
    amount: PositiveAmount
    currency: str
    recurrence: dict[str, Any]

    def spec(self) -> RecurrenceSpec:
        return RecurrenceSpec.from_config(self.recurrence)

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        from tamio.obligations.recurrence import describe

        return f"add {self.obligation_kind} {self.name}: {format_money(self.amount, self.currency)} {describe(self.spec().recurrence())}"


class Remove(_Named):
    """Cancel a client's or vendor's agreements: what they would still bring or cost from today."""

    kind: Literal["remove"] = "remove"

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        return f"remove {self.name}"


class Pause(_Named):
    """Pause a client or vendor: what its recurrence alone expects stops; what it already owes stays."""

    kind: Literal["pause"] = "pause"

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        return f"pause {self.name}"


class ChangeAmount(_Named):
    """A new amount (in the agreement's own currency) for a client's or vendor's future schedules."""

    kind: Literal["amount"] = "amount"
    amount: PositiveAmount

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        # ``currency``: the agreement's, once resolved (the amount is in it); unresolved, the bare figure.
        return f"{self.name} at {format_money(self.amount, currency) if currency else format(self.amount, ',f')} each time"


class Move(_Named):
    """The next open payment of a client or vendor moved to another date (as an agreed delay does)."""

    kind: Literal["move"] = "move"
    to: date

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        return f"move {self.name}'s next payment to {day_text(self.to, year=True)}"


class Late(_Named):
    """A client paying ``days`` later than it usually does, every open receivable."""

    kind: Literal["late"] = "late"
    days: int = Field(ge=1, le=MAX_LATE_DAYS)

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        return f"{self.name} pays {self.days} days later"


class Lose(_Named):
    """A client that never pays again: none of its open receivables arrives."""

    kind: Literal["lose"] = "lose"

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        return f"lose {self.name}"


class OneOff(_Change):
    """Money in or out once, in the base currency."""

    kind: Literal["once"] = "once"
    direction: Literal["in", "out"]
    amount: PositiveAmount
    on: date

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        return f"one-off {'inflow' if self.direction == 'in' else 'outflow'} of {format_money(self.amount, base_currency)} on {day_text(self.on, year=True)}"


class Draw(_Change):
    """A draw on a credit line, repaid with interest like the credit-draw action plans it."""

    kind: Literal["draw"] = "draw"
    credit_line: str
    amount: PositiveAmount
    on: date

    @field_validator("credit_line")
    @classmethod
    def _line(cls, value: str) -> str:
        return check_name(value, what="The credit line's name")

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        return f"draw {format_money(self.amount, base_currency)} on {self.credit_line} on {day_text(self.on, year=True)}"


class Balance(_Change):
    """A cash account's balance set to ``amount`` in its own currency (as ``/tamio balance set`` does)."""

    kind: Literal["balance"] = "balance"
    cash_account: str
    amount: Decimal

    @field_validator("cash_account")
    @classmethod
    def _account(cls, value: str) -> str:
        return check_name(value, what="The cash account's name")

    @field_validator("amount")
    @classmethod
    def _balance(cls, value: Decimal) -> Decimal:
        return check_amount(value)

    def describe(self, base_currency: str, currency: str | None = None) -> str:
        return f"{self.cash_account} holds {format_money(self.amount, currency) if currency else format(self.amount, ',f')}"


Change = Annotated[
    AddObligation | Remove | Pause | ChangeAmount | Move | Late | Lose | OneOff | Draw | Balance,
    Field(discriminator="kind"),
]


class Scenario(BaseModel):
    """An ordered list of changes (what the scenarios table stores as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    changes: list[Change] = Field(default_factory=list, max_length=MAX_CHANGES)
