"""Payment matching a bookkeeper would accept (issue 16, item 1), on SQLite and PostgreSQL.

The findings this answers: payments recorded by client went to the invoice with the nearest due
date and gave up past 45 days, so a client 20 days late was learned as paying on time.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import CashAccount, Client
from tamio.detection.configuration import EffectiveConfig
from tamio.detection.rules_payments import unexpected_revenue
from tamio.detection.snapshot import load_snapshot
from tamio.errors import NotFound, ValidationError
from tamio.forecast.service import calculate_forecast
from tamio.obligations.counterparties import BillingLine
from tamio.obligations.habits import PaymentBehaviour
from tamio.obligations.matching import allocate, find_payer
from tamio.obligations.models import (
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
    PaymentEvent,
    ScheduleStatus,
)
from tamio.obligations.payments import record_payment
from tamio.obligations.service import ObligationService
from tests.service.books import SCHEDULE_PATH, Books, at

TODAY = date(2026, 12, 7)


async def invoice(books: Books, client: Client, amount: str, due: date, number: str | None = None) -> ObligationSchedule:
    """A one-off invoice of ``client`` (numbered as an accounting system numbers it)."""
    agreement = await books.service.add_billing_line(client, BillingLine(Decimal(amount), "USD", books.every("once", due), ObligationType.REVENUE))
    assert agreement is not None
    schedule = (await books.session.execute(select(ObligationSchedule).where(ObligationSchedule.obligation_id == agreement.id))).scalar_one()
    schedule.invoice_number = number
    await books.session.flush()
    return schedule


async def cash(session: AsyncSession) -> Decimal:
    return (await session.execute(select(CashAccount.balance))).scalar_one()


def test_allocation_is_oldest_first_and_the_rest_is_an_overpayment_on_the_last() -> None:
    d = Decimal
    assert allocate(d("7000"), [d("5000"), d("5000")]) == allocate(d("7000"), [d("5000"), d("5000"), d("1")])
    assert allocate(d("7000"), [d("5000"), d("5000")]).portions == (d("5000"), d("2000"))
    assert allocate(d("12000"), [d("5000"), d("5000")]).portions == (d("5000"), d("7000"))
    assert allocate(d("12000"), [d("5000"), d("5000")]).overpaid == d("2000")
    assert allocate(d("300"), []).portions == () and allocate(d("300"), [d("0")]).portions == ()


async def test_a_payment_by_client_pays_the_oldest_open_invoice_first_and_leaves_the_rest_open(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    await books.cash("Operating", "10000")
    acme = await books.client("Acme Corp", "5000", books.every("once", date(2026, 12, 21)))  # not yet due
    october = await invoice(books, acme, "5000", date(2026, 10, 1), "INV-1041")
    november = await invoice(books, acme, "5000", date(2026, 11, 1), "INV-1042")
    outcome = await record_payment(session, account=books.account, amount=Decimal("7000"), currency="USD", payment_date=TODAY, counterparty=acme, now=at(TODAY))
    assert [(p.schedule.id if p.schedule else None, p.amount) for p in outcome.parts] == [(october.id, Decimal("5000")), (november.id, Decimal("2000"))]
    assert (october.status, november.status, november.paid_amount) == (ScheduleStatus.PAID, ScheduleStatus.PARTIALLY_PAID, Decimal("2000"))
    assert [p.variance_vs_expected for p in outcome.payments] == [Decimal("0"), Decimal("-3000")] and outcome.overpaid == 0
    assert await cash(session) == Decimal("17000")  # moved once, by the whole payment
    # A client that paid INV-1041 67 days late (INV-1042, part paid, is 36 days late and counting): its rest and December's
    # are expected within half a year.
    forecast = await calculate_forecast(session, books.account.id, as_of=TODAY, weeks=26, settings=SCHEDULE_PATH)
    assert forecast.opening_balance == Decimal("17000")
    assert sum(w.inflows for w in forecast.weeks) == Decimal("3000") + Decimal("5000")  # INV-1042's rest, and December's


async def test_a_client_who_pays_20_days_late_is_learned_as_20_days_late(session: AsyncSession) -> None:
    start = date(2026, 1, 5)
    books = await Books.open(session, today=start)
    await books.cash("Operating", "0")
    acme = await books.client("Acme Corp", "5000", books.every("monthly", start, day=5))
    for month in range(1, 7):
        due = date(2026, month, 5)
        paid_on = due + timedelta(days=20)
        await ObligationService(session, account=books.account, settings=SCHEDULE_PATH, today=paid_on, now=at(paid_on)).extend_horizon()
        await record_payment(session, account=books.account, amount=Decimal("5000"), currency="USD", payment_date=paid_on, counterparty=acme, now=at(paid_on))
        await session.refresh(acme)
        # One payment counts for little against the due date (the account's only history): then 20.
        assert (17 if month == 1 else 19) <= acme.avg_payment_delay_days <= 20, (month, acme.avg_payment_delay_days)
    assert acme.payment_behaviour is not None
    assert PaymentBehaviour.from_json(acme.payment_behaviour).describe() == "usually pays 19-21 days late"
    july = date(2026, 7, 6)  # July's invoice (due Sun 5 Jul) is expected about Sat 25 Jul, in the week of 20 Jul
    forecast = await calculate_forecast(session, books.account.id, as_of=july, settings=SCHEDULE_PATH)
    assert sum(w.inflows for w in forecast.weeks[:4]) == Decimal("5000")
    assert max(forecast.weeks[:4], key=lambda w: w.inflows).index == 3  # "about 20 days": most of it that week


async def test_a_payment_two_months_late_still_pays_its_invoice(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    await books.cash("Operating", "0")
    slow = await books.client("Slow Co", "8000", books.every("once", date(2026, 10, 1)))
    outcome = await record_payment(session, account=books.account, amount=Decimal("8000"), currency="USD", payment_date=TODAY, counterparty=slow, now=at(TODAY))
    assert outcome.matched and outcome.schedule is not None and outcome.schedule.status == ScheduleStatus.PAID
    await session.refresh(slow)
    # No day cut-off: one payment 67 days late is learned as that (shrunk a little toward the due date).
    assert slow.payment_behaviour is not None and PaymentBehaviour.from_json(slow.payment_behaviour).usual[1] >= 60
    assert slow.avg_payment_delay_days >= 55


async def test_an_invoice_reference_pays_that_invoice_whichever_is_older(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    await books.cash("Operating", "0")
    acme = await books.client("Acme Corp", "1000", books.every("once", date(2026, 12, 1)))  # the oldest, unnumbered
    numbered = await invoice(books, acme, "5000", date(2026, 12, 3), "INV-1042")
    xero = await invoice(books, acme, "700", date(2026, 12, 4), "INV-1043")
    agreement = await session.get(ObligationAgreement, xero.obligation_id)
    assert agreement is not None
    agreement.import_key = "xero:9b1e6c4a-0001"
    by_number = await record_payment(session, account=books.account, amount=Decimal("5000"), currency="USD", payment_date=TODAY,
                                     counterparty=acme, invoice="inv-1042", now=at(TODAY))
    assert by_number.schedule is numbered and numbered.status == ScheduleStatus.PAID
    by_xero_id = await record_payment(session, account=books.account, amount=Decimal("700"), currency="USD", payment_date=TODAY,
                                      counterparty=acme, invoice="9B1E6C4A-0001", now=at(TODAY))
    assert by_xero_id.schedule is xero
    by_due_date = await record_payment(session, account=books.account, amount=Decimal("400"), currency="USD", payment_date=TODAY,
                                       counterparty=acme, invoice="2026-12-01", now=at(TODAY))
    assert by_due_date.schedule is not None and by_due_date.schedule.due_date == date(2026, 12, 1)
    assert by_due_date.schedule.status == ScheduleStatus.PARTIALLY_PAID and by_due_date.payment.variance_vs_expected == Decimal("-600")
    # A payment larger than the invoice it names is an overpayment on that invoice, not on the others.
    over = await record_payment(session, account=books.account, amount=Decimal("900"), currency="USD", payment_date=TODAY,
                                counterparty=acme, invoice="2026-12-01", now=at(TODAY))
    assert (over.overpaid, over.payment.variance_vs_expected, len(over.parts)) == (Decimal("300"), Decimal("300"), 1)


async def test_an_unknown_or_settled_reference_says_which_invoices_are_open(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    acme = await books.client("Acme Corp", "1000", books.every("once", date(2026, 12, 1)))
    await invoice(books, acme, "5000", date(2026, 12, 3), "INV-1042")
    with pytest.raises(NotFound) as missing:
        await record_payment(session, account=books.account, amount=Decimal("10"), currency="USD", payment_date=TODAY, counterparty=acme, invoice="INV-9", now=at(TODAY))
    assert str(missing.value).startswith("Acme Corp has no open invoice `INV-9`. Open: 2026-12-01 (due Tue 1 Dec 2026, $1,000.00 open) and "
                                         "INV-1042 (due Thu 3 Dec 2026, $5,000.00 open).")
    await record_payment(session, account=books.account, amount=Decimal("5000"), currency="USD", payment_date=TODAY, counterparty=acme, invoice="INV-1042", now=at(TODAY))
    with pytest.raises(ValidationError, match="INV-1042 of Acme Corp is already paid"):
        await record_payment(session, account=books.account, amount=Decimal("10"), currency="USD", payment_date=TODAY, counterparty=acme, invoice="INV-1042", now=at(TODAY))
    assert (await session.execute(select(PaymentEvent.amount))).scalars().all() == [Decimal("5000")]  # nothing half-written


async def test_overpayments_and_payments_with_nothing_open_are_kept_and_reported(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    await books.cash("Operating", "0")
    acme = await books.client("Acme Corp", "5000", books.every("once", date(2026, 12, 1)))
    over = await record_payment(session, account=books.account, amount=Decimal("6500"), currency="USD", payment_date=TODAY, counterparty=acme, now=at(TODAY))
    assert (over.overpaid, over.payment.variance_vs_expected, over.schedule is not None) == (Decimal("1500"), Decimal("1500"), True)
    stray = await record_payment(session, account=books.account, amount=Decimal("77"), currency="USD", payment_date=TODAY, counterparty=acme, now=at(TODAY))
    assert not stray.matched and stray.payment.schedule_id is None and stray.payment.client_id == acme.id
    assert await cash(session) == Decimal("6577")  # nothing dropped
    snapshot = await load_snapshot(session, books.account.id, today=TODAY, settings=SCHEDULE_PATH)
    titles = sorted(f.title for f in unexpected_revenue(snapshot, today=TODAY, config=EffectiveConfig()))
    assert titles == ["$77.00 arrived from Acme Corp with no invoice to match", "Acme Corp paid $1,500.00 more than expected"]


async def test_a_payment_in_another_currency_settles_exactly_what_was_owed(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    await books.rate("EUR", "USD", "1.25", on=TODAY - timedelta(days=1))
    await books.cash("Operating", "0")
    acme = await books.client("Acme Corp", "1000", books.every("once", date(2026, 11, 20)))  # USD
    await invoice(books, acme, "333.33", date(2026, 11, 25))
    outcome = await record_payment(session, account=books.account, amount=Decimal("1066.66"), currency="EUR", payment_date=TODAY, counterparty=acme, now=at(TODAY))
    assert [p.amount for p in outcome.parts] == [Decimal("800.00"), Decimal("266.66")]
    assert [p.schedule.status for p in outcome.parts if p.schedule] == [ScheduleStatus.PAID, ScheduleStatus.PAID]
    assert outcome.overpaid == 0 and [p.variance_vs_expected for p in outcome.payments] == [Decimal("0"), Decimal("0")]


async def test_an_unknown_name_suggests_the_close_ones(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    await books.client("Acme Corp", "5000", books.every("once", date(2026, 12, 1)))
    await books.expense("Cloud Host", "900", books.every("once", date(2026, 12, 9)))
    assert (await find_payer(session, account_id=books.account.id, name="ACME corp")).name == "Acme Corp"
    with pytest.raises(NotFound, match=r"There is no client or vendor called `Acme Crop`. Did you mean `Acme Corp`\?"):
        await find_payer(session, account_id=books.account.id, name="Acme Crop")
    with pytest.raises(NotFound, match="Did you mean `Cloud Host`"):
        await find_payer(session, account_id=books.account.id, name="cloud")
    with pytest.raises(NotFound, match="There is no client or vendor called `Zeta`.") as nothing:
        await find_payer(session, account_id=books.account.id, name="Zeta")
    assert "Did you mean" not in str(nothing.value)
