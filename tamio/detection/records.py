"""The records an ``AccountSnapshot`` holds: one account's books as plain values.

Enum values as strings, money as Decimal, base-currency amounts converted at write time, so engine
tests can build them by hand (``tests/engine/detection_builders.py``). They are named tuples: as
immutable as a frozen dataclass, and the loader makes each from its row in one call
(``ScheduleRecord._make(row)``), the row's columns selected in the record's field order.

The last fields of some records are read by preparation only (contacts and tags, a credit line's
interest, a payment already moved or asked to move), loaded by the same queries so that the
preparation context of a run is built from its detection snapshot.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"scheduled", "queued", "partially_paid", "overdue"})


class CashAccountRecord(NamedTuple):
    id: str
    name: str
    account_type: str  # bank | savings | credit_line
    currency: str
    balance: Decimal
    base_balance: Decimal
    credit_limit: Decimal | None = None
    drawn_amount: Decimal = ZERO
    interest_rate_pct: Decimal | None = None


class ClientRecord(NamedTuple):
    id: str
    name: str
    status: str = "active"
    relationship_type: str | None = None  # strategic | transactional | managed
    avg_payment_delay_days: int = 0
    revenue_percent: Decimal | None = None
    risk_level: str | None = None
    currency: str = "USD"
    payment_habit: str | None = None  # how it pays, in words, once learned from its payments
    contact_name: str | None = None
    contact_email: str | None = None
    tags: tuple[str, ...] = ()


class VendorRecord(NamedTuple):
    id: str
    name: str
    category: str = "operating"  # ... payroll | tax | statutory
    status: str = "active"
    payment_terms: str | None = None
    payment_terms_days: int | None = None
    flexibility_level: str | None = None
    criticality: str | None = None
    delay_count: int = 0  # delays it agreed to before
    contact_name: str | None = None
    contact_email: str | None = None
    tags: tuple[str, ...] = ()


class AgreementRecord(NamedTuple):
    id: str
    obligation_type: str  # revenue | expense | payroll | tax | credit_repayment
    direction: str  # inflow | outflow
    amount: Decimal  # per occurrence, in ``currency``
    currency: str
    base_amount: Decimal  # per occurrence, in the base currency
    frequency: str
    start_date: date
    created_at: datetime
    client_id: str | None = None
    vendor_id: str | None = None
    description: str = ""
    end_date: date | None = None
    status: str = "active"  # active | cancelled | ended
    cancelled_at: datetime | None = None
    previous_amount: Decimal | None = None
    amount_changed_at: datetime | None = None
    amount_type: str = "fixed"  # fixed | variable | ...
    source: str = "manual"

    @property
    def is_recurring(self) -> bool:
        return self.frequency != "once"


class ScheduleRecord(NamedTuple):
    id: str
    agreement_id: str
    obligation_type: str
    direction: str
    due_date: date
    amount: Decimal  # expected, in ``currency``
    base_amount: Decimal  # expected, in the base currency
    currency: str
    status: str = "scheduled"
    paid_amount: Decimal = ZERO
    paid_base_amount: Decimal = ZERO
    client_id: str | None = None
    vendor_id: str | None = None
    invoice_number: str | None = None
    paid_at: date | None = None
    delayed_from: date | None = None  # the date it had before a carried-out action moved it
    delay_requested_to: date | None = None  # a delay asked of its vendor, not agreed yet
    converted: bool = True  # False: no base-currency amount stored (``base_amount`` is then ``amount``)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.amount - self.paid_amount)

    @property
    def remaining_base(self) -> Decimal:
        return max(ZERO, self.base_amount - self.paid_base_amount)


class PaymentRecord(NamedTuple):
    id: str
    direction: str
    amount: Decimal  # in ``currency``
    currency: str
    base_amount: Decimal
    payment_date: date
    status: str = "completed"  # completed | pending | reversed
    schedule_id: str | None = None  # None: unmatched
    agreement_id: str | None = None
    client_id: str | None = None
    vendor_id: str | None = None
    variance_vs_expected: Decimal | None = None  # actual - expected, in the schedule's currency
    reference: str | None = None
    schedule_amount: Decimal | None = None  # the schedule's expected amount, in its currency
    schedule_currency: str | None = None
    schedule_status: str | None = None
    schedule_rate: Decimal | None = None  # schedule currency -> base currency

    @property
    def expected_amount(self) -> Decimal | None:
        """What was expected when this payment arrived, in the schedule's currency."""
        if self.schedule_id is None:
            return None
        if self.variance_vs_expected is not None and self.currency == self.schedule_currency:
            return self.amount - self.variance_vs_expected
        return self.schedule_amount
