"""The core's one function for adding an obligation (``tamio.obligations.add``) on SQLite and PostgreSQL:
receivables as they are (an overdue invoice, arrears of a past start), an invoice number a payment matches,
and a refusal that leaves nothing behind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.audit.models import AuditLog
from tamio.data.models import Client, ExpenseBucket
from tamio.errors import Conflict, ValidationError
from tamio.obligations.add import add_obligation
from tamio.obligations.adding import AddObligation
from tamio.obligations.inline import parse_add, split_words
from tamio.obligations.models import ObligationSchedule, ScheduleStatus
from tamio.obligations.payments import record_payment
from tests.service.books import Books, at

TODAY = date(2026, 12, 6)


def said(line: str) -> AddObligation:
    return parse_add(split_words(line), today=TODAY, base_currency="USD")


async def add(session: AsyncSession, books: Books, line: str):  # type: ignore[no-untyped-def]
    return await add_obligation(session, account=books.account, settings=books.settings, today=TODAY, now=at(TODAY), actor="test",
                                obligation=said(line))


async def test_an_overdue_invoice_and_its_payment(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    added = await add(session, books, 'client "Late Payer Co" invoice 5000 due 2026-11-20 ref INV-1042')
    assert (added.created, added.first_due, added.overdue, added.arrears) == (True, date(2026, 11, 20), "already 16 days overdue", 1)
    schedule = (await session.execute(select(ObligationSchedule))).scalar_one()
    assert (schedule.status, schedule.invoice_number, schedule.estimated_amount) == (ScheduleStatus.OVERDUE, "INV-1042", Decimal("5000"))
    with pytest.raises(Conflict, match="already has invoice INV-1042"):
        await add(session, books, 'client "Late Payer Co" invoice 5000 due 2026-11-20 ref INV-1042')
    outcome = await record_payment(session, account=books.account, amount=Decimal("5000"), currency="USD", payment_date=TODAY,
                                   counterparty=added.counterparty, invoice="INV-1042", actor="test", now=at(TODAY))
    assert [part.schedule.id for part in outcome.parts if part.schedule] == [schedule.id]


async def test_a_past_start_schedules_its_arrears_once(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    added = await add(session, books, 'expense "Rent" 1000 monthly on 1 from 2026-09-01')
    assert added.arrears == 4 and isinstance(added.counterparty, ExpenseBucket)
    # A later refresh keeps them and adds none again.
    await books.service.obligations.generate_many([added.agreement])
    dues = (await session.execute(select(ObligationSchedule.due_date, ObligationSchedule.status).order_by(ObligationSchedule.due_date))).all()
    assert [d for d, s in dues if s == ScheduleStatus.OVERDUE] == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    assert len(dues) == len({d for d, _ in dues})


async def test_every_rule_is_in_the_input_and_a_refusal_writes_nothing(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    before = (await session.execute(select(func.count()).select_from(AuditLog))).scalar_one()
    with pytest.raises(ValidationError) as caught:
        AddObligation.read({"kind": "client", "name": "x" * 201, "amount": "99999999999999999", "currency": "XYZ",
                            "recurrence": said('client "A" 1 weekly').recurrence, "invoice": "INV-1"}, today=TODAY)
    assert set(caught.value.field_errors) == {"name", "amount", "currency"}
    built = AddObligation(kind="client", name="Old Co", amount=Decimal(10), currency="USD",
                          recurrence=said('client "A" 1 monthly').recurrence.with_start(date(2020, 1, 1)))
    with pytest.raises(ValidationError, match="more than 5 years ago"):  # held to today's rules even when built without them
        await add_obligation(session, account=books.account, settings=books.settings, today=TODAY, now=at(TODAY), actor="test",
                             obligation=built)
    assert (await session.execute(select(func.count()).select_from(Client))).scalar_one() == 0
    assert (await session.execute(select(func.count()).select_from(AuditLog))).scalar_one() == before
