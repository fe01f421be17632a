"""Alerts reach the digest channel through the outbox; an unexpected failure gets an apology and saves nothing.

(Retries, 429s and dead letters of the delivery worker are tested with the worker, ``bot.delivery``.)"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from tamio.detection.models import AlertSeverity, DetectionAlert, DetectionType
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import enqueue
from tests.bot.conftest import ADMIN, CHANNEL, NOW, BotHarness
from tests.bot.prepared import account_of

pytestmark = pytest.mark.backends("sqlite")


async def outbox(bot: BotHarness) -> list[OutboxMessage]:
    async with bot.sessions() as db:
        return list((await db.execute(select(OutboxMessage).order_by(OutboxMessage.created_at))).scalars())


async def test_an_alert_without_a_card_is_announced_and_its_escalation_too(bot: BotHarness) -> None:
    await bot.command(ADMIN, "digest here")
    account = await account_of(bot.sessions)
    async with bot.sessions() as db, db.begin():
        alert = DetectionAlert(
            user_id=account.id, detection_type=DetectionType.STATUTORY_DEADLINE, severity=AlertSeverity.THIS_WEEK,
            fingerprint="vat:q4", entity_type="expense", entity_name="VAT", title="Quarterly VAT due in 2 days",
            explanation="VAT of $6,100.00 is due on Wed 9 Dec.", amount=Decimal("6100"), currency="USD", due_date=date(2026, 12, 9),
            first_detected_at=NOW, last_detected_at=NOW, escalated=True, escalation_count=1,
        )
        db.add(alert)
        await db.flush()
        for kind, key in (("alert_new", "new"), ("alert_escalated", "escalated:1")):
            await enqueue(db, account_id=account.id, kind=kind, channel=None, payload={"alert_id": alert.id},
                          idempotency_key=f"alert:{alert.id}:{key}", now=NOW)
    await bot.settle()
    posted = [m["text"] for m in bot.slack.messages(CHANNEL)][1:]
    assert len(posted) == 2 and all("Quarterly VAT due in 2 days" in t for t in posted)
    assert {m.status for m in await outbox(bot)} == {"delivered"}


async def test_an_unexpected_failure_gets_an_apology_with_a_reference_and_nothing_is_half_saved(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 100')
    async with bot.sessions() as db, db.begin():
        await db.execute(text("DROP TABLE audit_logs"))  # every write is audited: now every write fails
    with caplog.at_level(logging.ERROR, logger="tamio.bot"):
        reply = await bot.command(ADMIN, 'balance set "Operating" 45000')
    assert reply.status == 200
    shown = bot.ephemerals_for(ADMIN)[-1]["text"]
    assert "Sorry, something went wrong on our side and nothing was saved" in shown
    reference = shown.split("reference `")[1].split("`")[0]
    assert any(reference in record.getMessage() for record in caplog.records)
    async with bot.sessions() as db:
        balance = (await db.execute(text("SELECT balance FROM cash_accounts"))).scalar_one()
    assert balance == 100_000  # thousandths: still $100.00
