"""``/tamio run`` and ``/tamio alerts`` with the real detection and preparation pipeline."""

from __future__ import annotations

from decimal import Decimal

import pytest

from slack_sandbox.blockkit_limits import message_block_errors
from tamio.data.service import set_balance
from tests.bot.conftest import ADMIN, CHANNEL, NOW, VIEWER, BotHarness
from tests.bot.prepared import account_of
from tests.consistency import assert_figures_agree

pytestmark = pytest.mark.backends("sqlite")


async def test_run_finds_the_payroll_problem_and_posts_its_cards(bot: BotHarness) -> None:
    await bot.command(ADMIN, "digest here")
    await bot.command(ADMIN, 'balance set "Operating" 5000')
    account = await account_of(bot.sessions)
    async with bot.sessions() as db, db.begin():
        await set_balance(db, account=account, name="Credit line", amount=Decimal(0), currency="USD", on_date=NOW.date(), now=NOW,
                          account_type="credit_line", credit_limit=Decimal(100000))
        await set_balance(db, account=account, name="Savings", amount=Decimal(20000), currency="USD", on_date=NOW.date(), now=NOW,
                          account_type="savings")
    await bot.command(ADMIN, 'add payroll "Payroll" 42000 semimonthly from 2026-12-08')
    await assert_figures_agree(bot.sessions, account_id=account.id, now=NOW, settings=bot.settings)
    await bot.command(ADMIN, 'add client "Acme Corp" 8000 monthly on 20')
    await assert_figures_agree(bot.sessions, account_id=account.id, now=NOW, settings=bot.settings)
    reply = await bot.command(ADMIN, "run")
    await assert_figures_agree(bot.sessions, account_id=account.id, now=NOW, settings=bot.settings)
    assert "Checking the forecast" in reply.body
    report = bot.ephemerals_for(ADMIN)[-1]["text"]
    # The cards came already, with the refresh that followed each change (`/tamio run` finds nothing new to prepare).
    assert report.startswith(":white_check_mark: Checked.") and "emergency" in report
    cards = [m for m in bot.slack.messages(CHANNEL) if m.get("blocks") and m["blocks"][0]["type"] == "header"]
    assert cards and all(message_block_errors(m["blocks"]) == [] for m in cards)
    assert any("card_approve" in str(m["blocks"]) for m in cards)

    await bot.command(ADMIN, "config set viewers_see_figures on")
    await bot.command(VIEWER, "alerts")
    alerts = str(bot.ephemerals_for(VIEWER)[-1]["blocks"])
    assert ":red_circle: *Emergency*" in alerts
    await bot.command(VIEWER, "run")
    assert "Only approvers and admins can run the checks" in bot.ephemerals_for(VIEWER)[-1]["text"]
