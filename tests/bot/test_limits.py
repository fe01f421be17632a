"""Issues 19 and 22 from Slack: past a limit is a clear ephemeral message, nothing is written, and the
account keeps working. Findings: ``balance set`` took 16 digits where the API caps 12;
``/tamio add expense "Rent" 99999999999999999 monthly`` answered "Sorry, something went wrong"; a
10,000-character name was stored; Arabic-Indic digits were read as an amount."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tamio.data.models import CashAccount, ExpenseBucket
from tests.bot.conftest import ADMIN, BotHarness

pytestmark = pytest.mark.backends("sqlite")


async def count(bot: BotHarness, model: type) -> int:
    async with bot.sessions() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('balance set "Operating" 9999999999999999', "is more than Tamio takes: at most 1,000,000,000,000 in any currency"),
        ('balance set "Operating" 5000000000000000', "is more than Tamio takes"),
        ('add expense "Rent" 99999999999999999 monthly', "is more than Tamio takes: at most 1,000,000,000,000 in any currency"),
        ('add expense "' + "R" * 10_000 + '" 1200 monthly', "has 10,000 characters; use at most 200"),
        ('balance set "Operating" ١٢٠٠', "I couldn't read the amount"),
        ('paid "Rent" ٥', "I couldn't read the amount"),
        ('add expense "Rent" 1200 XTS monthly', "`XTS` is not a currency I know"),
        ('config set dual_approval_threshold 99999999999999999', "is not a valid dual_approval_threshold"),
    ],
)
async def test_past_a_limit_is_a_clear_message_and_nothing_is_written(bot: BotHarness, text: str, says: str) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 1000')
    reply = await bot.command(ADMIN, text)
    shown = bot.ephemerals_for(ADMIN)[-1]["text"]
    assert reply.status == 200 and says in shown and shown.startswith(":warning:"), shown
    assert "Sorry, something went wrong" not in shown
    assert await count(bot, CashAccount) == 1 and await count(bot, ExpenseBucket) == 0
    await bot.command(ADMIN, "balance")  # the account keeps working
    assert "Cash today: *$1,000.00*" in str(bot.ephemerals_for(ADMIN)[-1]["blocks"])
