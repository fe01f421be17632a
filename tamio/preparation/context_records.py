"""What preparation knows of one client, vendor, cash account and open payment: the context's values.

Split from ``tamio.preparation.context`` (the run's context and how it is loaded) because these
are the plain values every agent, building block and basis reads, each built from the detection
snapshot's record of the same thing: a client with its standing filled in where people left it
blank, a vendor and whether it may be delayed, a cash account with what approved draws already
use of its credit line, and an open payment as a named tuple (a run makes thousands).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from tamio.detection.records import CashAccountRecord, ClientRecord, VendorRecord
from tamio.obligations.models import NEVER_DELAYED
from tamio.obligations.standing import ClientStanding

ZERO = Decimal(0)
PROTECTED_OBLIGATION_TYPES = frozenset(t.value for t in NEVER_DELAYED)  # whatever the vendor's category


@dataclass(frozen=True)
class ClientInfo:
    id: str
    name: str
    relationship_type: str | None
    avg_payment_delay_days: int
    revenue_percent: Decimal | None
    contact_name: str | None
    contact_email: str | None
    tags: tuple[str, ...]
    currency: str
    payment_risk: str | None = None  # from the lateness history (tamio.obligations.standing)


@dataclass(frozen=True)
class VendorInfo:
    id: str
    name: str
    category: str
    flexibility_level: str | None
    criticality: str | None
    payment_terms_days: int | None
    delay_count: int
    contact_name: str | None
    contact_email: str | None
    tags: tuple[str, ...]

    @property
    def can_be_delayed(self) -> bool:
        """Only vendors that can delay or negotiate, and never critical ones (nor payroll or tax).

        This is the vendor; a payment is delayable only through ``PreparationContext.can_delay``,
        which also refuses a payroll or tax obligation whatever its vendor's category.
        """
        return (
            self.flexibility_level in ("can_delay", "negotiable")
            and self.criticality != "critical"
            and self.category not in ("payroll", "tax", "statutory")
        )


@dataclass(frozen=True)
class CashInfo:
    id: str
    name: str
    account_type: str
    currency: str
    balance: Decimal
    base_balance: Decimal
    credit_limit: Decimal | None
    drawn_amount: Decimal
    interest_rate_pct: Decimal | None
    committed: Decimal = ZERO  # draws approved and not yet carried out

    @property
    def available_credit(self) -> Decimal:
        if self.account_type != "credit_line" or self.credit_limit is None:
            return ZERO
        return max(ZERO, self.credit_limit - self.drawn_amount - self.committed)


class ScheduleInfo(NamedTuple):
    """One open payment as preparation sees it (a named tuple: a run makes thousands of them)."""

    id: str
    agreement_id: str
    obligation_type: str
    direction: str
    due_date: date
    expected_date: date
    amount: Decimal  # remaining, in the schedule's currency
    base_amount: Decimal  # remaining, in the base currency
    currency: str
    status: str
    amount_type: str
    source: str
    client_id: str | None
    vendor_id: str | None
    counterparty_name: str
    invoice_number: str | None
    delayed_from: date | None = None  # the date it had before an executed action moved it
    delay_requested_to: date | None = None  # a delay asked of its vendor, not agreed yet
    # Where the forecast expects its remaining base amount (a receivable spread by its client's
    # behaviour); the parts add up to ``base_amount``. ``expected_date``: when half of it has come.
    arrivals: tuple[tuple[date, Decimal], ...] = ()

    def where_expected(self, today: date) -> tuple[tuple[date, Decimal], ...]:
        return self.arrivals or ((max(today, self.expected_date), self.base_amount),)

    @property
    def is_payroll_or_tax(self) -> bool:
        return self.obligation_type in PROTECTED_OBLIGATION_TYPES


def client_info(c: ClientRecord, standing: ClientStanding | None) -> ClientInfo:
    """The client as preparation sees it: what people set on it, else what the books say (its standing)."""
    computed = standing or ClientStanding(revenue_percent=None, basis="received", risk=None, avg_days_late=None)
    return ClientInfo(
        id=c.id, name=c.name, relationship_type=c.relationship_type,
        avg_payment_delay_days=c.avg_payment_delay_days or computed.avg_days_late or 0,
        revenue_percent=c.revenue_percent if c.revenue_percent is not None else computed.revenue_percent,
        contact_name=c.contact_name, contact_email=c.contact_email, tags=c.tags, currency=c.currency,
        payment_risk=computed.risk.value if computed.risk else None,
    )


def vendor_info(v: VendorRecord) -> VendorInfo:
    return VendorInfo(
        id=v.id, name=v.name, category=v.category, flexibility_level=v.flexibility_level, criticality=v.criticality,
        payment_terms_days=v.payment_terms_days, delay_count=v.delay_count, contact_name=v.contact_name,
        contact_email=v.contact_email, tags=v.tags,
    )


def cash_info(c: CashAccountRecord, committed: Decimal = ZERO) -> CashInfo:
    return CashInfo(
        id=c.id, name=c.name, account_type=c.account_type, currency=c.currency, balance=c.balance, base_balance=c.base_balance,
        credit_limit=c.credit_limit, drawn_amount=c.drawn_amount, interest_rate_pct=c.interest_rate_pct, committed=committed,
    )
