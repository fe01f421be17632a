"""A requested delay on the card: shown as requested, "Vendor agreed" moves the payment (issue 19 item 6).

The executor's side (the request recorded, the forecast keeping the date) is in
tests/service/test_execution_effects.py; here the card says so and its button is the way on.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tamio.obligations.models import ObligationSchedule
from tamio.outbox.service import enqueue
from tamio.preparation.models import ActionStatus, ActionType, PreparedAction
from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, NOW, VIEWER, BotHarness
from tests.bot.prepared import Option, prepare
from tests.bot.test_cards import card_message, click, element, team_with_roles

pytestmark = pytest.mark.backends("sqlite")


async def test_vendor_agreed_on_the_card_moves_the_payment(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    await bot.command(ADMIN, 'add expense "Cloud Host" 8000 monthly on 16 from 2026-12-10')
    delay = Option("Ask Cloud Host to move $8,000.00 to 30 Dec", kind="delay_payment")
    action = await prepare(bot.sessions, account_id, title="Cash dips below your buffer", options=[delay], channel=CHANNEL,
                           action_type=ActionType.VENDOR_DELAY, counterparty="Cloud Host", amount="8000")
    await bot.settle()  # the card is in the channel
    async with bot.sessions() as db, db.begin():  # carried out: the vendor was asked (what the executor leaves)
        schedule = (await db.execute(select(ObligationSchedule).order_by(ObligationSchedule.due_date))).scalars().first()
        assert schedule is not None and schedule.due_date == date(2026, 12, 16)
        schedule.delay_requested_to, schedule.delay_requested_by = date(2026, 12, 30), action.id
        stored = await db.get(PreparedAction, action.id)
        assert stored is not None
        stored.status, stored.executed_at, stored.decided_at, stored.version = ActionStatus.EXECUTED, NOW, NOW, stored.version + 1
        stored.execution_result = {"effects": {"kind": "delay_payment", "moved": [], "requested": [
            {"schedule_id": schedule.id, "from": "2026-12-16", "to": "2026-12-30", "amount": "8000.00", "currency": "USD"}]}}
        await enqueue(db, account_id=account_id, kind="card_update", payload={"action_id": action.id},
                      idempotency_key=f"card_update:{action.id}:test", now=NOW)
        schedule_id = schedule.id
    await bot.settle()
    card = bot.slack.message(CHANNEL, card_message(bot)["ts"])
    shown = str(card["blocks"])
    assert "Asked the vendor to move $8,000.00 from Wed 16 Dec to Wed 30 Dec: the forecast keeps Wed 16 Dec (less certain)" in shown
    button = element(card, "card_vendor_agreed")
    assert button is not None and button["value"] == action.id

    await click(bot, VIEWER, card, "card_vendor_agreed", action.id)
    assert "Only approvers and admins can mark a delay agreed" in bot.ephemerals_for(VIEWER)[-1]["text"]
    await click(bot, APPROVER, card, "card_vendor_agreed", action.id)
    async with bot.sessions() as db:
        moved = await db.get(ObligationSchedule, schedule_id)
        assert moved is not None and (moved.due_date, moved.delayed_from, moved.delay_requested_to) == (date(2026, 12, 30), date(2026, 12, 16), None)
    updated = bot.slack.message(CHANNEL, card["ts"])
    assert "The vendor agreed; the payment moved." in str(updated["blocks"]) and element(updated, "card_vendor_agreed") is None
    await click(bot, APPROVER, card, "card_vendor_agreed", action.id)  # a second click: nothing waits
    assert "No delay of this action is waiting for the vendor's agreement (it was already marked agreed)." in bot.ephemerals_for(APPROVER)[-1]["text"]
