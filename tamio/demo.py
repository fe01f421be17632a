"""A believable demo company for ``make run``: Harbor & Pine Studio, a small design agency.

Three clients (a strategic retainer, a studio that pays late, a German client billed in EUR),
vendors from flexible to critical, semi-monthly payroll, a quarterly sales tax, a credit line
and two cash accounts. Dates are relative to ``today`` and the balances are chosen so that the
first pipeline run raises a late payment, a payroll-safety risk and a buffer breach, with linked
actions between them.

    account = await seed_demo(db, settings=settings, today=today, now=now)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Role
from tamio.accounts.service import ensure_member, get_user_configuration
from tamio.config import Settings
from tamio.currency.service import add_rate
from tamio.data.models import CashAccount
from tamio.data.service import find_cash_account, set_balance
from tamio.obligations.counterparties import BillingLine, CounterpartyService
from tamio.obligations.models import ObligationType
from tamio.obligations.payments import record_payment
from tamio.obligations.recurrence import BusinessDayConvention, Frequency
from tamio.obligations.schemas import RecurrenceSpec
from tamio.opening import open_account


@dataclass(frozen=True)
class DemoPeople:
    """The sandbox's Slack users: one of each role."""

    admin: str = "U0ADMIN"
    approver: str = "U0APPROVER"
    approver_two: str = "U0APPROVER2"
    viewer: str = "U0VIEWER"


PEOPLE = DemoPeople()
DEMO_NAMES = {
    PEOPLE.admin: ("Maria Lopez", Role.ADMIN),
    PEOPLE.approver: ("Sam Okafor", Role.APPROVER),
    PEOPLE.approver_two: ("Priya Shah", Role.APPROVER),
    PEOPLE.viewer: ("Alex Kim", Role.VIEWER),
}


def _semimonthly_from(first: date) -> RecurrenceSpec:
    """Twice a month, half a month apart, the first run on ``first`` (or, from the 29th, the month's last day).

    No month ever misses a run: a day past 28 is written as the month's last day (``-1``).
    """
    d = first.day
    if d <= 13:
        days = f"{d},{d + 15}"
    elif d <= 15:
        days = f"{d},-1"
    elif d <= 28:
        days = f"{d - 15},{d}"
    else:
        days = f"{d - 15},-1"
    return RecurrenceSpec(
        Frequency.CUSTOM, start_date=first, custom_rrule=f"FREQ=MONTHLY;BYMONTHDAY={days}",
        convention=BusinessDayConvention.PRECEDING, calendar="US",
    )


def _monthly(first: date) -> RecurrenceSpec:
    """Monthly from ``first`` on (a 29th-31st is the last day of shorter months: none is skipped)."""
    return RecurrenceSpec(Frequency.MONTHLY, start_date=first, day=first.day)


async def seed_demo(
    db: AsyncSession,
    *,
    settings: Settings,
    today: date,
    now: datetime,
    slack_team_id: str | None = None,
    digest_channel_id: str | None = None,
) -> Account:
    account = await open_account(db, name="Harbor & Pine Studio", base_currency="USD", timezone=settings.timezone, slack_team_id=slack_team_id)
    account.digest_channel_id = digest_channel_id
    for slack_id, (name, role) in DEMO_NAMES.items():
        await ensure_member(db, account_id=account.id, slack_user_id=slack_id, display_name=name, role=role, is_installer=role == Role.ADMIN)
    config = await get_user_configuration(db, account_id=account.id)
    config.obligations_buffer_amount = Decimal("10000")
    await add_rate(db, base_currency="EUR", quote_currency="USD", rate=Decimal("1.0850"), rate_date=today - timedelta(days=30),
                   account_id=account.id, source="demo")

    await set_balance(db, account=account, name="Operating", amount=Decimal("10000"), currency="USD", on_date=today, now=now, account_type="bank")
    await set_balance(db, account=account, name="Savings", amount=Decimal("3000"), currency="USD", on_date=today, now=now, account_type="savings")
    await set_balance(
        db, account=account, name="Credit line", amount=Decimal("0"), currency="USD", on_date=today, now=now,
        account_type="credit_line", credit_limit=Decimal("40000"),
    )
    operating = await find_cash_account(db, account_id=account.id, name="Operating")
    credit = await find_cash_account(db, account_id=account.id, name="Credit line")
    assert isinstance(operating, CashAccount) and isinstance(credit, CashAccount)
    operating.is_primary = True
    credit.interest_rate_pct = Decimal("9.5")

    books = CounterpartyService(db, account=account, settings=settings, today=today, now=now)
    revenue = ObligationType.REVENUE
    northwind = await books.create_client(
        name="Northwind Traders", relationship_type="strategic", revenue_percent=Decimal("55"), contact_name="Dana Whitfield",
        contact_email="ap@northwind.example", tags=["retainer"],
        billing=BillingLine(Decimal("30000"), "USD", _monthly(today + timedelta(days=12)), revenue),
    )
    lumen = await books.create_client(
        name="Lumen Health", relationship_type="managed", revenue_percent=Decimal("25"), contact_name="Omar Haddad",
        contact_email="finance@lumenhealth.example",
        billing=BillingLine(Decimal("12000"), "USD", _monthly(today + timedelta(days=9)), revenue),
    )
    bluebird = await books.create_client(
        name="Bluebird Studio", relationship_type="transactional", avg_payment_delay_days=9, contact_name="Jonah Reyes",
        contact_email="accounts@bluebird.example",
        billing=BillingLine(Decimal("8500"), "USD", RecurrenceSpec(Frequency.ONCE, start_date=today - timedelta(days=21)), revenue),
    )
    mueller = await books.create_client(
        name="Müller Möbel GmbH", relationship_type="managed", contact_name="Katrin Müller", contact_email="buchhaltung@mueller.example",
        billing=BillingLine(Decimal("8000"), "EUR", _monthly(today + timedelta(days=16)), revenue),
    )
    # Last month's invoices, paid: the payment history the variance checks compare against.
    for client, amount, currency, due, paid in (
        (northwind, "30000", "USD", 25, 24), (lumen, "12000", "USD", 20, 18), (mueller, "8000", "EUR", 16, 15),
    ):
        agreement = await books.add_billing_line(
            client, BillingLine(Decimal(amount), currency, RecurrenceSpec(Frequency.ONCE, start_date=today - timedelta(days=due)), revenue)
        )
        schedule = (await books.obligations.schedules_of(agreement))[0] if agreement else None
        if schedule is not None:
            await record_payment(
                db, account=account, amount=Decimal(amount), currency=currency, payment_date=today - timedelta(days=paid),
                schedule=schedule, adjust_balance=False, reference="last month",
            )
    assert bluebird.id
    await books.create_expense(
        name="Cloud Host", category="software", flexibility_level="can_delay", criticality="flexible", payment_terms="net_30",
        payment_terms_days=30, contact_email="billing@cloudhost.example",
        billing=BillingLine(Decimal("2400"), "USD", _monthly(today + timedelta(days=3)), ObligationType.EXPENSE),
    )
    await books.create_expense(
        name="Design Freelancers Co", category="contractor", flexibility_level="negotiable", criticality="important",
        payment_terms="net_30", payment_terms_days=30, contact_email="invoices@freelancers.example",
        billing=BillingLine(Decimal("5200"), "USD", RecurrenceSpec(Frequency.ONCE, start_date=today + timedelta(days=6)), ObligationType.EXPENSE),
    )
    await books.create_expense(
        name="Office Landlord", category="rent", flexibility_level="cannot_delay", criticality="critical",
        contact_email="rent@harborproperties.example",
        billing=BillingLine(Decimal("7500"), "USD", _monthly(today + timedelta(days=17)), ObligationType.EXPENSE),
    )
    await books.create_expense(
        name="Payroll", category="payroll", flexibility_level="cannot_delay", criticality="critical",
        billing=BillingLine(Decimal("21000"), "USD", _semimonthly_from(today + timedelta(days=4)), ObligationType.PAYROLL),
    )
    tax_day = today + timedelta(days=10)
    await books.create_expense(
        name="State sales tax", category="tax", flexibility_level="cannot_delay", criticality="critical",
        billing=BillingLine(
            Decimal("6100"), "USD", RecurrenceSpec(Frequency.QUARTERLY, start_date=tax_day, day=tax_day.day), ObligationType.TAX,
        ),
    )
    await db.flush()
    return account
