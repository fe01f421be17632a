"""A client's or vendor's history: chases, delays and payments, who decided, when, what was sent (issue 15, item 6)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.execution import lifecycle
from tamio.execution.delays import agree_delay
from tamio.execution.history import counterparty_history, load_histories, summary_line
from tamio.execution.service import execute_action
from tamio.obligations.models import ObligationAgreement, ObligationSchedule
from tamio.obligations.payments import record_payment
from tests.service.execution_factories import (
    NOW,
    Mailbox,
    Team,
    first_option,
    later,
    make_action,
    option,
    settings_for,
)


async def test_chases_delays_and_payments_with_who_decided_and_what_was_sent(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        books = team.books
        await books.cash("Operating", "20000")
        acme = await books.client("Acme Corp", "4200", books.every("once", date(2026, 11, 21)), contact_email="ap@acme.test")
        host = await books.expense("Cloud Host", "2500", books.every("once", date(2026, 12, 20)), flexibility_level="can_delay",
                                   contact_email="billing@host.test")
        crew = await books.expense("Crew Co", "900", books.every("once", date(2026, 12, 21)), flexibility_level="can_delay")
        schedules = {agreement_of: s for s, agreement_of in (await session.execute(
            select(ObligationSchedule, ObligationAgreement.expense_bucket_id).join(
                ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id))).all()}
        invoice = (await session.execute(select(ObligationSchedule).join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
                                         .where(ObligationAgreement.client_id == acme.id))).scalar_one()
        chase = await make_action(session, team.account, options=[option(
            "send_email", {"schedule_id": invoice.id, "client_id": acme.id}, title="Chase Acme Corp's $4,200.00 with a firm email",
            recipient_email="ap@acme.test", draft_subject="Invoice INV-1 is 16 days late", draft_body="Please pay.", amount="4200")])
        # One delay for two vendors: the action names the first; the second is found in what was moved.
        delay = await make_action(session, team.account, "payment_prioritization", amount="3400", options=[option(
            "delay_payment", {"moves": [{"schedule_id": schedules[host.id].id, "new_date": "2027-01-19", "vendor_id": host.id},
                                        {"schedule_id": schedules[crew.id].id, "new_date": "2027-01-20", "vendor_id": crew.id}],
                              "notify_vendor": True,
                              "emails": [{"vendor_id": host.id, "subject": "Could we pay on 19 Jan?", "body": "Dear Cloud Host, ..."}]},
            title="Delay $3,400.00 of payments to Cloud Host, Crew Co", amount="3400", counterparty_type="expense_bucket",
            counterparty_id=host.id)])
        await lifecycle.approve(session, account=team.account, member=team.maria, action_id=chase.id,
                                option_id=(await first_option(session, chase)).id, now=NOW)
        await lifecycle.approve(session, account=team.account, member=team.li, action_id=delay.id,
                                option_id=(await first_option(session, delay)).id, now=NOW)
        await record_payment(session, account=team.account, amount=Decimal("1000"), currency="USD", payment_date=date(2026, 12, 8),
                             schedule=invoice, actor=team.ada.id, now=later(60 * 24))
        account = team.account
    with Mailbox() as mailbox:
        for action in (chase, delay):
            done = await execute_action(session_factory, account_id=account.id, action_id=action.id, now=later(1), settings=settings_for(mailbox.port))
            assert done.status == "executed", done.message
    async with session_factory() as session:
        asked = await load_histories(session, account=account, counterparty_ids=[host.id])
        assert [e.title for e in asked[host.id].entries] == ["Asked to delay $2,500.00 from 2026-12-20 to 2027-01-19 (not agreed yet)"]
    async with session_factory() as session, session.begin():  # the vendors agree (issue 19.6): then the payments move
        await agree_delay(session, account=account, member=team.li, action_id=delay.id, today=date(2026, 12, 7), now=later(2))
    async with session_factory() as session:
        client = await counterparty_history(session, account=account, counterparty_id=acme.id)
        assert [(e.kind, e.decided_by) for e in client.entries] == [("payment", "@ada"), ("chase", "@maria")]
        sent = client.entries[1].sent
        assert [(s.to, s.subject) for s in sent] == [("ap@acme.test", "Invoice INV-1 is 16 days late")]
        assert sent[0].message_id == mailbox.message_ids[0]
        assert summary_line(client) == "Chased 1x, last 7 Dec by @maria · Last paid 8 Dec ($1,000.00)"
        vendors = await load_histories(session, account=account, counterparty_ids=[host.id, crew.id])
        assert [(e.kind, e.title, e.decided_by) for e in vendors[host.id].entries] == [
            ("delay", "Delayed $2,500.00 from 2026-12-20 to 2027-01-19", "@li")]
        assert [s.to for s in vendors[host.id].entries[0].sent] == ["billing@host.test"]
        assert [(e.kind, e.details["to"]) for e in vendors[crew.id].entries] == [("delay", "2027-01-20")]
        assert vendors[crew.id].entries[0].sent == ()  # the notice went to Cloud Host only
        assert summary_line(vendors[crew.id]) == "Delayed 1x, last 7 Dec by @li"
