"""Acks within Slack's 3 seconds even while another writer holds SQLite's write lock.

The old listeners committed before acking, and SQLite waits up to 15 s for the write lock: with a
write held 4.5 s, `/tamio balance set` acked after 4.7 s (Slack had given up and shown an error)
and `/tamio add` found its trigger id expired. No clock is read here: a barrier holds the lock,
and the test checks what the app answered while it was held.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.boundary import WORKING_ON_IT
from tamio.data.models import CashAccount
from tamio.db import read_only
from tests.bot.conftest import ADMIN, BotHarness, write_lock_held

pytestmark = pytest.mark.backends("sqlite")  # the write lock is SQLite's; PostgreSQL locks rows


async def test_a_write_that_must_wait_acks_working_on_it_and_answers_when_done(bot: BotHarness) -> None:
    bot.app.runtime.ack_deadline_s = 0.2  # the production 2 s, shortened: the order of events is what counts
    await bot.command(ADMIN, 'balance set "Operating" 1000')
    async with write_lock_held(bot):
        reply = await bot.sender.slash_command(ADMIN, 'balance set "Operating" 48250', "C0FINANCE")
        assert (reply.status, reply.json()["text"]) == (200, WORKING_ON_IT)  # acked while the lock was still held
        async with bot.sessions() as db:
            read_only(db)  # a reader never waits for the writer
            assert (await db.execute(select(CashAccount.balance))).scalar_one() == 1000
    await bot.settle()
    async with bot.sessions() as db:
        assert (await db.execute(select(CashAccount.balance))).scalar_one() == 48250
    assert "48,250.00" in bot.ephemerals_for(ADMIN)[-1]["text"]  # the answer came through the response URL


async def test_a_command_answered_at_the_deadline_is_not_logged_as_unhandled(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    """Before: each such command logged Bolt's "Unhandled request ({'type': None, 'command': '/tamio'})"
    and its suggestion to add a /tamio listener (100 times in bench/ack_latency.py's contended run)."""
    bot.app.runtime.ack_deadline_s = 0.2
    await bot.command(ADMIN, 'balance set "Operating" 1000')
    caplog.clear()
    async with write_lock_held(bot):
        reply = await bot.sender.slash_command(ADMIN, 'balance set "Operating" 2000', "C0FINANCE")
        assert reply.json()["text"] == WORKING_ON_IT
    await bot.settle()
    assert "2,000.00" in bot.ephemerals_for(ADMIN)[-1]["text"]
    assert not [r.getMessage() for r in caplog.records if "Unhandled request" in r.getMessage()]


async def test_a_modal_opens_while_another_writer_holds_the_lock(bot: BotHarness) -> None:
    await bot.command(ADMIN, "help")
    async with write_lock_held(bot):
        reply = await asyncio.wait_for(bot.sender.slash_command(ADMIN, "add", "C0FINANCE"), timeout=30)
        assert reply.status == 200 and reply.body == ""
        assert [v["title"]["text"] for v in bot.slack.views.values()] == ["Add to Tamio"]
