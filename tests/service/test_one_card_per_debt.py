"""A part payment on an overdue invoice is one debt, one alert, one card: the late-payment alert on the
rest, whose explanation says what was paid. Before, the part payment also raised a "paid less than
expected" alert (unexpected_revenue, variance "under") with a second chase of the same invoice. An
underpayment on an invoice that is not late keeps its own card until late_payment reports the rest.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.detection.models import AlertStatus, DetectionAlert, DetectionType
from tamio.obligations.models import ObligationSchedule
from tamio.obligations.payments import record_payment
from tamio.pipeline import PipelineConfig, run_detection_preparation_cycle
from tamio.preparation.models import ActionStatus, PreparedAction
from tests.service.books import SCHEDULE_PATH, Books, at

MONDAY = date(2026, 12, 7)
DEBT = (DetectionType.LATE_PAYMENT, DetectionType.UNEXPECTED_REVENUE)


async def invoice_of(session: AsyncSession, amount: str) -> ObligationSchedule:
    return (await session.execute(select(ObligationSchedule).where(ObligationSchedule.estimated_amount == Decimal(amount)))).scalar_one()


async def run(session: AsyncSession, books: Books, today: date, now: datetime) -> None:
    result = await run_detection_preparation_cycle(session, books.account.id, PipelineConfig(), today=today, now=now, settings=SCHEDULE_PATH)
    assert result.errors == []
    await session.commit()


async def debt_cards(session: AsyncSession, books: Books, schedule: ObligationSchedule) -> list[tuple[str, str, str]]:
    """The open alerts about ``schedule`` (late payment, unexpected revenue) with their pending actions."""
    rows = await session.execute(
        select(DetectionAlert, PreparedAction)
        .outerjoin(PreparedAction, (PreparedAction.alert_id == DetectionAlert.id) & (PreparedAction.status == ActionStatus.PENDING))
        .where(DetectionAlert.user_id == books.account.id, DetectionAlert.status == AlertStatus.ACTIVE, DetectionAlert.detection_type.in_(DEBT))
        .execution_options(populate_existing=True)
    )
    return sorted(
        (alert.detection_type.value, alert.explanation, action.title if action else "-")
        for alert, action in rows.all()
        if alert.context.get("schedule_id") == schedule.id
    )


async def test_a_part_payment_on_a_late_invoice_leaves_one_card_that_says_what_was_paid(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "30000")
    await books.client("Acme Corp", "8000", books.every("once", date(2026, 11, 20)), contact_email="ap@acme.test")
    await session.commit()
    await run(session, books, MONDAY, at(MONDAY))
    invoice = await invoice_of(session, "8000")
    [(kind, _, _)] = await debt_cards(session, books, invoice)
    assert kind == "late_payment"

    paid_on = date(2026, 11, 30)  # 10 days late: what Acme's habit is learned from (so 17 days is later than usual)
    await record_payment(session, account=books.account, amount=Decimal("2000"), currency="USD", payment_date=paid_on, schedule=invoice,
                         adjust_balance=False, now=at(MONDAY))
    await session.commit()
    await run(session, books, MONDAY, at(MONDAY) + timedelta(minutes=5))
    [(kind, explanation, card)] = await debt_cards(session, books, invoice)
    assert kind == "late_payment" and card == "Acme Corp is 17 days late"
    assert explanation.startswith("The invoice was due Fri 20 Nov: $2,000.00 of $8,000.00 paid on Mon 30 Nov, $6,000.00 is 17 days late;"), explanation


async def test_an_underpayment_keeps_its_card_until_the_rest_is_late(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "30000")
    await books.client("Initech", "5000", books.every("once", MONDAY - timedelta(days=3)), contact_email="ap@initech.test")
    await session.commit()
    invoice = await invoice_of(session, "5000")
    await record_payment(session, account=books.account, amount=Decimal("2000"), currency="USD", payment_date=MONDAY, schedule=invoice,
                         adjust_balance=False, now=at(MONDAY))
    await session.commit()
    await run(session, books, MONDAY, at(MONDAY))
    [(kind, _, card)] = await debt_cards(session, books, invoice)
    assert (kind, card) == ("unexpected_revenue", "Initech paid $3,000.00 less than expected")

    later = MONDAY + timedelta(days=6)  # 9 days late: late_payment reports the $3,000 left, and the underpayment's alert resolves
    await run(session, books, later, at(later))
    [(kind, explanation, card)] = await debt_cards(session, books, invoice)
    assert kind == "late_payment" and card == "Initech is 9 days late"
    assert "$2,000.00 of $5,000.00 paid on Mon 7 Dec, $3,000.00 is 9 days late" in explanation
    underpaid = (await session.execute(
        select(DetectionAlert.status).where(DetectionAlert.detection_type == DetectionType.UNEXPECTED_REVENUE)
    )).scalars().all()
    assert underpaid == [AlertStatus.RESOLVED]
