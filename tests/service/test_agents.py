"""Each detection type, from the business's books to the prepared action (and its drafted message)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import UserConfiguration
from tamio.detection.models import DetectionType
from tamio.obligations.counterparties import BillingLine
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, ObligationType
from tamio.obligations.payments import record_payment
from tamio.obligations.service import ObligationService
from tamio.pipeline import PipelineConfig, PipelineMode, run_detection_preparation_cycle
from tamio.preparation.models import ActionOption, PreparedAction
from tests.service.books import SCHEDULE_PATH, Books

MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def days(n: int) -> timedelta:
    return timedelta(days=n)


async def prepared(session: AsyncSession, books: Books, kind: DetectionType) -> tuple[PreparedAction, list[ActionOption]]:
    config = PipelineConfig(mode=PipelineMode.TARGETED, detection_types=(kind,))
    result = await run_detection_preparation_cycle(session, books.account.id, config, today=MONDAY, now=NOW, settings=SCHEDULE_PATH)
    assert result.errors == [], result.errors
    assert result.alerts_by_type.get(kind.value), result.alerts_by_type
    action = (await session.execute(select(PreparedAction).order_by(PreparedAction.created_at.desc()))).scalars().first()
    assert action is not None, f"no action for {kind.value}"
    options = list((await session.execute(select(ActionOption).where(ActionOption.action_id == action.id).order_by(ActionOption.rank))).scalars())
    assert 1 <= len(options) <= 3 and all(o.forecast_lowest_balance is not None for o in options)
    return action, options


async def schedule_of(session: AsyncSession, amount: str) -> ObligationSchedule:
    rows = await session.execute(select(ObligationSchedule).where(ObligationSchedule.estimated_amount == Decimal(amount)))
    return rows.scalars().first()  # type: ignore[return-value]


async def healthy(session: AsyncSession, cash: str = "90000") -> Books:
    books = await Books.open(session, today=MONDAY - days(40))
    books.today = MONDAY - days(40)
    await books.cash("Operating", cash)
    await books.cash("Savings", "5000", account_type="savings")
    return books


async def test_vendor_terms_expiring_prepares_a_payment_batch(session: AsyncSession) -> None:
    books = await healthy(session)
    await books.expense("Cloud Host", "2400", books.every("once", MONDAY + days(3)), flexibility_level="can_delay", criticality="flexible", contact_email="b@cloud.test")
    action, options = await prepared(session, books, DetectionType.VENDOR_TERMS_EXPIRING)
    assert action.action_type.value == "payment_batch"
    assert {o.kind for o in options} == {"queue_payments", "delay_payment"}
    delay = next(o for o in options if o.kind == "delay_payment")
    assert delay.draft_body and "$2,400.00" in delay.draft_body


async def test_statutory_deadline_prepares_the_payment(session: AsyncSession) -> None:
    books = await healthy(session)
    await books.expense("Sales tax", "6100", books.every("once", MONDAY + days(2)), category="tax")
    action, options = await prepared(session, books, DetectionType.STATUTORY_DEADLINE)
    assert action.action_type.value == "statutory_payment" and action.severity.value == "emergency"
    assert options[0].kind == "record_statutory_payment" and "Sales tax" in options[0].title


async def test_client_churn_prepares_a_check_in(session: AsyncSession) -> None:
    books = await healthy(session)
    client = await books.client("Northwind", "20000", books.every("monthly", MONDAY + days(5), day=12), relationship_type="strategic", contact_email="ceo@northwind.test")
    agreement = (await session.execute(select(ObligationAgreement).where(ObligationAgreement.client_id == client.id))).scalar_one()
    await ObligationService(session, account=books.account, settings=SCHEDULE_PATH, today=MONDAY, now=NOW).cancel_agreement(agreement)
    action, options = await prepared(session, books, DetectionType.CLIENT_CHURN)
    assert action.severity.value == "emergency"  # a strategic client
    email = next(o for o in options if o.kind == "send_email")
    assert email.recipient_email == "ceo@northwind.test" and "call" in (email.draft_body or "")


async def test_unexpected_expense_asks_the_vendor(session: AsyncSession) -> None:
    books = await healthy(session)
    await books.expense("Ads Platform", "1000", books.every("once", MONDAY - days(3)), contact_email="billing@ads.test")
    schedule = await schedule_of(session, "1000")
    await record_payment(session, account=books.account, amount=Decimal("1400"), currency="USD", payment_date=MONDAY - days(2), schedule=schedule)
    action, options = await prepared(session, books, DetectionType.UNEXPECTED_EXPENSE)
    query = next(o for o in options if o.kind == "send_email")
    assert "$1,400.00" in (query.draft_body or "") and "$1,000.00" in (query.draft_body or "")


async def test_revenue_variance_chases_what_is_short(session: AsyncSession) -> None:
    books = await healthy(session)
    await books.client("Acme", "10000", books.every("once", MONDAY - days(12)), contact_email="ap@acme.test")
    await books.client("Beta", "9000", books.every("once", MONDAY - days(20)), contact_email="ap@beta.test")
    paid = await schedule_of(session, "9000")
    await record_payment(session, account=books.account, amount=Decimal("9000"), currency="USD", payment_date=MONDAY - days(19), schedule=paid)
    action, options = await prepared(session, books, DetectionType.REVENUE_VARIANCE)
    assert action.action_type.value == "payment_reminder"
    assert any(o.kind == "send_email" and "Acme" in (o.draft_body or "") for o in options)


async def test_runway_threshold_offers_cost_and_credit_options(session: AsyncSession) -> None:
    books = await healthy(session, cash="30000")
    await books.cash("Credit line", "0", account_type="credit_line", credit_limit=Decimal("20000"))
    await books.expense("Contractors", "9000", books.every("monthly", MONDAY + days(4), day=11), flexibility_level="negotiable", criticality="important")
    action, options = await prepared(session, books, DetectionType.RUNWAY_THRESHOLD)
    assert {o.kind for o in options} <= {"delay_payment", "credit_draw"} and options


async def test_headcount_change_asks_to_confirm_payroll(session: AsyncSession) -> None:
    books = await healthy(session)
    bucket = await books.expense("Payroll", "20000", books.every("monthly", MONDAY + days(10), day=17), category="payroll")
    books.today = MONDAY
    line = BillingLine(Decimal("24000"), "USD", books.every("monthly", MONDAY + days(10), day=17), ObligationType.PAYROLL)
    await books.service.update_expense(bucket, billing=line)
    action, options = await prepared(session, books, DetectionType.HEADCOUNT_CHANGE)
    assert action.action_type.value == "payroll_confirmation" and action.requires_admin
    assert "$24,000.00" in options[0].title


async def test_unexpected_revenue_over_the_buffer_is_allocated(session: AsyncSession) -> None:
    books = await healthy(session)
    await books.client("Acme", "5000", books.every("once", MONDAY - days(2)))
    schedule = await schedule_of(session, "5000")
    await record_payment(session, account=books.account, amount=Decimal("8000"), currency="USD", payment_date=MONDAY - days(1), schedule=schedule)
    action, options = await prepared(session, books, DetectionType.UNEXPECTED_REVENUE)
    assert action.action_type.value == "excess_cash_allocation"
    assert any(o.kind == "transfer" and "Savings" in o.title for o in options)


async def test_an_underpayment_asks_for_the_balance(session: AsyncSession) -> None:
    books = await healthy(session)
    await books.client("Acme", "5000", books.every("once", MONDAY - days(2)), contact_email="ap@acme.test")
    schedule = await schedule_of(session, "5000")
    await record_payment(session, account=books.account, amount=Decimal("3000"), currency="USD", payment_date=MONDAY - days(1), schedule=schedule)
    action, options = await prepared(session, books, DetectionType.UNEXPECTED_REVENUE)
    assert action.action_type.value == "invoice_generation"
    assert options[0].kind == "send_email" and "$2,000.00" in (options[0].draft_body or "")


async def test_payment_timing_conflict_moves_flexible_payments(session: AsyncSession) -> None:
    books = await healthy(session)
    config = await session.get(UserConfiguration, books.account.id)
    assert config is not None
    await books.expense("Rent", "3000", books.every("monthly", MONDAY + days(1), day=8), criticality="critical", flexibility_level="cannot_delay")
    await books.expense("Agency", "30000", books.every("once", MONDAY + days(16)), flexibility_level="negotiable", criticality="important", contact_email="a@agency.test")
    await books.expense("Printers", "12000", books.every("once", MONDAY + days(17)), flexibility_level="can_delay", criticality="flexible", contact_email="p@print.test")
    action, options = await prepared(session, books, DetectionType.PAYMENT_TIMING_CONFLICT)
    assert action.action_type.value == "payment_prioritization"
    assert options[0].kind == "delay_payment" and "Rent" not in (options[0].counterparty_name or "")


async def test_a_late_strategic_client_gets_a_soft_email_and_a_firmer_alternative(session: AsyncSession) -> None:
    # 18 days late with a mixed record: professional by the table, softened to soft for a strategic
    # client; the alternative asks for professional explicitly, and gets it (not a second soft email).
    books = await healthy(session)
    await books.client("Northwind", "20000", books.every("once", MONDAY - days(18)), relationship_type="strategic",
                       avg_payment_delay_days=3, contact_email="ap@northwind.test")
    action, options = await prepared(session, books, DetectionType.LATE_PAYMENT)
    assert action.action_type.value == "invoice_follow_up"
    assert [o.draft_tone for o in options] == ["soft", "professional"]
    assert options[0].draft_subject != options[1].draft_subject
    assert all("$20,000.00" in (o.draft_body or "") for o in options)


async def test_a_payroll_note_says_the_true_cash_before_and_after(session: AsyncSession) -> None:
    # 500 in the bank, a 20,000 bill and a 4,000 payroll in the same days: cash is -19,500 before payroll
    books = await Books.open(session, today=MONDAY - days(40))
    books.today = MONDAY - days(40)
    await books.cash("Operating", "500")
    await books.expense("Equipment", "20000", books.every("once", MONDAY + days(1)))
    await books.expense("Payroll", "4000", books.every("once", MONDAY + days(2)), category="payroll")
    action, options = await prepared(session, books, DetectionType.PAYROLL_SAFETY)
    note = options[0].draft_body or ""
    assert "Cash before payroll: -$19,500.00" in note and "Cash after payroll: -$23,500.00" in note  # not clamped at $0.00
