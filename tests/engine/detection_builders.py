"""Build an AccountSnapshot by hand, the way a business's books read (no database).

    books = Books(today=MONDAY).cash("40000")
    acme = books.client("Acme Corp", usual_delay=3)
    books.invoice(acme, "8000", due=MONDAY - days(16), number="INV-12")
    payroll = books.vendor("Payroll", category="payroll")
    books.bill(payroll, "42000", due=MONDAY + days(8))
    snapshot = books.snapshot()

The forecast is built with ``build_forecast`` from the open schedules, the way the forecast service
does it: what remains of each, receivables moved by the client's usual delay, overdue ones today.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from tamio.accounts.models import SafetyMode
from tamio.detection.configuration import BaselineConfig, EffectiveConfig, apply_safety_mode
from tamio.detection.findings import Finding
from tamio.detection.rules import Rule
from tamio.detection.snapshot import (
    AccountSnapshot,
    AgreementRecord,
    CashAccountRecord,
    ClientRecord,
    PaymentRecord,
    ScheduleRecord,
    VendorRecord,
)
from tamio.forecast.engine import ForecastItem, build_forecast

MONDAY = date(2026, 12, 7)
D = Decimal
MODES = (SafetyMode.CONSERVATIVE, SafetyMode.NORMAL, SafetyMode.AGGRESSIVE)
_ids = itertools.count(1)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


def config(mode: SafetyMode = SafetyMode.NORMAL, **baseline: object) -> EffectiveConfig:
    """The effective configuration of a baseline (the design's defaults unless given) in ``mode``."""
    return apply_safety_mode(BaselineConfig(**baseline), mode)  # type: ignore[arg-type]


def _id(prefix: str, name: str) -> str:
    return f"{prefix}_{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}_{next(_ids)}"


def _obligation_type(vendor: VendorRecord) -> str:
    return {"payroll": "payroll", "tax": "tax", "statutory": "tax"}.get(vendor.category, "expense")


@dataclass
class Books:
    today: date = MONDAY
    base_currency: str = "USD"
    account_created_on: date = date(2025, 1, 6)
    cash_accounts: list[CashAccountRecord] = field(default_factory=list)
    clients: dict[str, ClientRecord] = field(default_factory=dict)
    vendors: dict[str, VendorRecord] = field(default_factory=dict)
    agreements: dict[str, AgreementRecord] = field(default_factory=dict)
    schedules: list[ScheduleRecord] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    forecast_items: list[ForecastItem] = field(default_factory=list)

    # -- what the business has and deals with -----------------------------------------------------

    def cash(self, amount: str, name: str = "Operating", account_type: str = "bank") -> Books:
        self.cash_accounts.append(
            CashAccountRecord(id=_id("cash", name), name=name, account_type=account_type, currency=self.base_currency,
                              balance=D(amount), base_balance=D(amount))
        )
        return self

    def client(self, name: str, *, usual_delay: int = 0, relationship: str | None = "transactional") -> ClientRecord:
        client = ClientRecord(id=_id("cli", name), name=name, relationship_type=relationship, avg_payment_delay_days=usual_delay,
                              currency=self.base_currency)
        self.clients[client.id] = client
        return client

    def vendor(self, name: str, *, category: str = "operating", terms: str | None = None, terms_days: int | None = None) -> VendorRecord:
        vendor = VendorRecord(id=_id("exp", name), name=name, category=category, payment_terms=terms, payment_terms_days=terms_days)
        self.vendors[vendor.id] = vendor
        return vendor

    def agreement(
        self, party: ClientRecord | VendorRecord, amount: str, *, frequency: str = "monthly", start: date | None = None,
        created_on: date | None = None, status: str = "active", cancelled_on: date | None = None, end: date | None = None,
        previous_amount: str | None = None, changed_on: date | None = None,
    ) -> AgreementRecord:
        is_client = isinstance(party, ClientRecord)
        agreement = AgreementRecord(
            id=_id("obl", party.name), obligation_type="revenue" if is_client else _obligation_type(party),  # type: ignore[arg-type]
            direction="inflow" if is_client else "outflow", amount=D(amount), currency=self.base_currency, base_amount=D(amount),
            frequency=frequency, start_date=start or self.account_created_on, created_at=at(created_on or self.account_created_on),
            client_id=party.id if is_client else None, vendor_id=None if is_client else party.id, description=party.name,
            end_date=end, status=status, cancelled_at=at(cancelled_on) if cancelled_on else None,
            previous_amount=D(previous_amount) if previous_amount else None, amount_changed_at=at(changed_on) if changed_on else None,
        )
        self.agreements[agreement.id] = agreement
        return agreement

    # -- what is expected ----------------------------------------------------------------------------

    def _schedule(self, party: ClientRecord | VendorRecord, amount: str, due: date, paid: str, status: str | None,
                  number: str | None, agreement: AgreementRecord | None) -> ScheduleRecord:
        agreement = agreement or self.agreement(party, amount, frequency="once", start=due)
        expected, paid_amount = D(amount), D(paid)
        if status is None:
            status = "paid" if paid_amount >= expected else "partially_paid" if paid_amount > 0 else "scheduled"
        schedule = ScheduleRecord(
            id=_id("sch", party.name), agreement_id=agreement.id, obligation_type=agreement.obligation_type,
            direction=agreement.direction, due_date=due, amount=expected, base_amount=expected, currency=self.base_currency,
            status=status, paid_amount=paid_amount, paid_base_amount=paid_amount, client_id=agreement.client_id,
            vendor_id=agreement.vendor_id, invoice_number=number, paid_at=due if status == "paid" else None,
        )
        self.schedules.append(schedule)
        return schedule

    def invoice(self, client: ClientRecord, amount: str, *, due: date, paid: str = "0", status: str | None = None,
                number: str | None = None, agreement: AgreementRecord | None = None) -> ScheduleRecord:
        """Money the client owes on ``due``."""
        return self._schedule(client, amount, due, paid, status, number, agreement)

    def bill(self, vendor: VendorRecord, amount: str, *, due: date, paid: str = "0", status: str | None = None,
             agreement: AgreementRecord | None = None) -> ScheduleRecord:
        """Money the business owes the vendor (or staff, or the tax office) on ``due``."""
        return self._schedule(vendor, amount, due, paid, status, None, agreement)

    def spend_evenly(self, per_week: str, *, weeks: int = 13) -> Books:
        """Extra forecast outflows, one a week from today (a steady burn)."""
        for week in range(weeks):
            self.forecast_items.append(ForecastItem(date=self.today + days(7 * week), amount=D(per_week), direction="outflow"))
        return self

    # -- what actually happened -----------------------------------------------------------------------

    def received(self, amount: str, *, on: date, invoice: ScheduleRecord | None = None, client: ClientRecord | None = None,
                 reference: str | None = None, schedule_status: str | None = None) -> PaymentRecord:
        return self._payment("inflow", amount, on, invoice, client.id if client else None, None, reference, schedule_status)

    def paid(self, amount: str, *, on: date, bill: ScheduleRecord | None = None, vendor: VendorRecord | None = None,
             schedule_status: str | None = None) -> PaymentRecord:
        return self._payment("outflow", amount, on, bill, None, vendor.id if vendor else None, None, schedule_status)

    def _payment(self, direction: str, amount: str, on: date, schedule: ScheduleRecord | None, client_id: str | None,
                 vendor_id: str | None, reference: str | None, schedule_status: str | None) -> PaymentRecord:
        value = D(amount)
        payment = PaymentRecord(
            id=_id("pay", direction), direction=direction, amount=value, currency=self.base_currency, base_amount=value,
            payment_date=on, schedule_id=schedule.id if schedule else None, agreement_id=schedule.agreement_id if schedule else None,
            client_id=(schedule.client_id if schedule else None) or client_id, vendor_id=(schedule.vendor_id if schedule else None) or vendor_id,
            variance_vs_expected=value - schedule.amount if schedule else None, reference=reference,
            schedule_amount=schedule.amount if schedule else None, schedule_currency=schedule.currency if schedule else None,
            schedule_status=(schedule_status or ("paid" if value >= schedule.amount else "partially_paid")) if schedule else None,
        )
        self.payments.append(payment)
        return payment

    # -- the snapshot ---------------------------------------------------------------------------------

    def snapshot(self, *, today: date | None = None, buffer: str = "0") -> AccountSnapshot:
        today = today or self.today
        items = list(self.forecast_items)
        for s in self.schedules:
            if not s.is_open or s.remaining_base <= 0:
                continue
            delay = self.clients[s.client_id].avg_payment_delay_days if s.client_id in self.clients else 0
            when = s.due_date + days(delay if s.direction == "inflow" else 0)
            items.append(ForecastItem(date=max(when, today), amount=s.remaining_base, direction=s.direction, overdue=when < today))
        opening = sum((c.base_balance for c in self.cash_accounts if c.account_type != "credit_line"), D(0))
        forecast = build_forecast(as_of=today, weeks=13, opening_balance=opening, items=items, buffer=D(buffer),
                                  base_currency=self.base_currency, keep_items=True)
        return AccountSnapshot(
            account_id="acct_books", base_currency=self.base_currency, today=today, forecast=forecast,
            cash_accounts=tuple(self.cash_accounts), clients=MappingProxyType(dict(self.clients)),
            vendors=MappingProxyType(dict(self.vendors)), agreements=MappingProxyType(dict(self.agreements)),
            schedules=tuple(sorted(self.schedules, key=lambda s: (s.due_date, s.id))),
            payments=tuple(sorted(self.payments, key=lambda p: (p.payment_date, p.id))),
            account_created_on=self.account_created_on,
        )


def check(rule: Rule, books: Books, *, mode: SafetyMode = SafetyMode.NORMAL, today: date | None = None,
          cfg: EffectiveConfig | None = None) -> list[Finding]:
    """Run one rule over the books as of ``today``."""
    snapshot = books.snapshot(today=today)
    return rule(snapshot, today=snapshot.today, config=cfg or config(mode))
