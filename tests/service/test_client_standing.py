"""What is set from Slack and computed from the books reaches preparation (issue 19 item 7).

Before, relationship type and vendor flexibility could only be set in the database, and revenue
share and payment risk were never computed: no client was strategic, no vendor a delay candidate.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Role
from tamio.accounts.service import ensure_member
from tamio.data.models import RiskLevel
from tamio.detection.models import DetectionType
from tamio.obligations.client_summary import client_summary, summary_lines
from tamio.obligations.counterparties import BillingLine
from tamio.obligations.models import ObligationType
from tamio.obligations.payments import record_payment
from tamio.obligations.profile import set_relationship, set_vendor_terms
from tamio.obligations.standing import client_standings, describe_standing
from tamio.preparation.context import load_context
from tests.service.books import SCHEDULE_PATH
from tests.service.test_agents import MONDAY, NOW, days, healthy, prepared


async def test_a_client_made_strategic_through_the_core_gets_the_gentle_tone(session: AsyncSession) -> None:
    books = await healthy(session)
    await books.client("Northwind", "20000", books.every("once", MONDAY - days(18)), avg_payment_delay_days=3, contact_email="ap@northwind.test")
    admin = await ensure_member(session, account_id=books.account.id, slack_user_id="UADMIN", role=Role.ADMIN, now=NOW)
    await set_relationship(session, account=books.account, member=admin, name="northwind", relationship="strategic",
                           settings=SCHEDULE_PATH, today=MONDAY, now=NOW)
    action, options = await prepared(session, books, DetectionType.LATE_PAYMENT)
    assert [o.draft_tone for o in options] == ["soft", "professional"]


async def test_a_vendor_set_to_can_delay_is_offered_for_delay(session: AsyncSession) -> None:
    books = await healthy(session)
    await books.expense("Rent", "3000", books.every("monthly", MONDAY + days(1), day=8), criticality="critical", flexibility_level="cannot_delay")
    await books.expense("Agency", "30000", books.every("once", MONDAY + days(16)), contact_email="a@agency.test")
    admin = await ensure_member(session, account_id=books.account.id, slack_user_id="UADMIN", role=Role.ADMIN, now=NOW)
    context = await load_context(session, account_id=books.account.id, today=MONDAY, settings=SCHEDULE_PATH)
    assert not any(v.can_be_delayed for v in context.vendors.values())  # nothing set: no candidate
    await set_vendor_terms(session, account=books.account, member=admin, name="Agency", flexibility="negotiable", critical=None,
                           settings=SCHEDULE_PATH, today=MONDAY, now=NOW)
    action, options = await prepared(session, books, DetectionType.PAYMENT_TIMING_CONFLICT)
    assert options[0].kind == "delay_payment" and "Agency" in (options[0].counterparty_name or "")


async def test_share_and_risk_come_from_receipts_and_lateness(session: AsyncSession) -> None:
    books = await healthy(session)  # the books open 40 days before MONDAY
    slow = await books.client("Slowpay", "1000", books.every("once", MONDAY - days(39)))
    await books.service.add_billing_line(slow, BillingLine(Decimal("1000"), "USD", books.every("once", MONDAY - days(35)), ObligationType.REVENUE))
    prompt = await books.client("Prompt Co", "3000", books.every("once", MONDAY - days(39)))
    await books.service.add_billing_line(prompt, BillingLine(Decimal("3000"), "USD", books.every("once", MONDAY - days(35)), ObligationType.REVENUE))
    for client, amount, paid_on in ((slow, "1000", MONDAY - days(1)), (prompt, "3000", MONDAY - days(34))):
        for _ in range(2):  # oldest open invoice first: slow pays 38 and 34 days late, prompt 5 days and 1 day
            await record_payment(session, account=books.account, amount=Decimal(amount), currency="USD", payment_date=paid_on,
                                 counterparty=client, adjust_balance=False, now=NOW)
    found = (await client_standings(session, today={books.account.id: MONDAY}))[books.account.id]
    assert (found[slow.id].revenue_percent, found[prompt.id].revenue_percent) == (Decimal("25.0"), Decimal("75.0"))
    assert (found[slow.id].risk, found[slow.id].avg_days_late) == (RiskLevel.HIGH, 36)
    assert (found[prompt.id].risk, found[prompt.id].avg_days_late) == (RiskLevel.LOW, 3)
    context = await load_context(session, account_id=books.account.id, today=MONDAY, settings=SCHEDULE_PATH)
    assert context.clients[prompt.id].revenue_percent == Decimal("75.0")
    assert context.clients[slow.id].payment_risk == "high" and context.clients[slow.id].avg_payment_delay_days > 30  # learned, else computed


async def test_the_risk_of_a_client_that_never_paid_says_it_comes_from_its_open_invoices(session: AsyncSession) -> None:
    """The finding: with no paid invoices, the habit read "expected 9 days late (as entered; no paid invoices
    yet)" beside "payment risk medium (21 days late on average)": the average was the open invoice's days
    overdue, while the habit counts settled ones only. Each line now says what it comes from."""
    books = await healthy(session)
    await books.client("Late Payer Co", "5000", books.every("once", MONDAY - days(21)), avg_payment_delay_days=9)
    summary = await client_summary(session, account=books.account, name="Late Payer Co", today=MONDAY)
    lines = summary_lines(summary)
    assert lines[0] == "Late Payer Co: expected 9 days late (as entered; no paid invoices yet)."
    assert lines[-1] == ("Kind: standard (not set) client · 100.0 % of what is expected in the next 12 months · "
                         "payment risk medium from its open invoice, 21 days overdue (no invoice paid in the last 12 months)")
    assert "on average" not in "\n".join(lines)
    # Preparation reads the same figures as before: the wording changed, not the risk or the average.
    assert (summary.standing is not None and summary.standing.risk, summary.standing and summary.standing.avg_days_late) == (RiskLevel.MEDIUM, 21)


async def test_a_client_with_payments_and_an_open_late_invoice_names_both(session: AsyncSession) -> None:
    books = await healthy(session)  # the books open 40 days before MONDAY
    slow = await books.client("Slowpay", "1000", books.every("once", MONDAY - days(39)))
    await books.service.add_billing_line(slow, BillingLine(Decimal("1000"), "USD", books.every("once", MONDAY - days(20)), ObligationType.REVENUE))
    await record_payment(session, account=books.account, amount=Decimal("1000"), currency="USD", payment_date=MONDAY - days(9),
                         counterparty=slow, adjust_balance=False, now=NOW)  # the first, 30 days late; the second is 20 days overdue
    standing = (await client_standings(session, today={books.account.id: MONDAY}))[books.account.id][slow.id]
    assert (standing.payments, standing.overdue.times, standing.avg_days_late) == (1, 1, 25)
    assert describe_standing(standing).endswith("payment risk medium (25 days late on average over 1 payment and 1 open invoice past due)")
