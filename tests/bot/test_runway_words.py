"""One runway in Slack: `/tamio forecast` and `/tamio forecast 4` say the same thing, measured against
the buffer alerts use (the safety-mode buffer), and App Home says it too (issue 19, item 3)."""

from __future__ import annotations

import pytest

from tests.bot.conftest import ADMIN, BotHarness

pytestmark = pytest.mark.backends("sqlite")


def runway_line(bot: BotHarness) -> str:
    blocks = bot.ephemerals_for(ADMIN)[-1]["blocks"]
    return next(b["text"]["text"] for b in blocks if b["type"] == "section" and "Runway" in b["text"]["text"])


async def test_forecast_and_forecast_4_say_the_same_runway_against_the_safety_mode_buffer(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 49000')
    await bot.command(ADMIN, 'add expense "Agency" 10000 weekly from 2026-12-09')
    await bot.command(ADMIN, "config set buffer 4000")
    await bot.command(ADMIN, "config set safety_mode conservative")  # alerts keep 5,000
    await bot.command(ADMIN, "forecast")
    thirteen = runway_line(bot)
    await bot.command(ADMIN, "forecast 4")
    four = runway_line(bot)
    # 9,000 at the end of week 4, -1,000 at the end of week 5: under 5,000 four tenths into it
    assert "Runway *4.4 weeks (1 month)*" in thirteen
    assert "Runway *4.4 weeks (1 month)*" in four


async def test_a_business_above_its_buffer_for_13_weeks_reads_more_than_13_weeks(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 200000')
    await bot.command(ADMIN, 'add expense "Rent" 1000 monthly')
    for command in ("forecast", "forecast 4", "forecast 26"):
        await bot.command(ADMIN, command)
        assert "Runway *more than 13 weeks*" in runway_line(bot)


async def test_the_forecast_message_is_titled_once_and_writes_every_amount_with_cents(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 10360')
    await bot.command(ADMIN, 'add expense "Rent" 2500.50 monthly')
    await bot.command(ADMIN, "config set buffer 2000")
    await bot.command(ADMIN, "forecast")
    blocks = bot.ephemerals_for(ADMIN)[-1]["blocks"]
    chart = next(b for b in blocks if b["type"] == "image")
    assert "title" not in chart  # the header says it; the PNG is drawn without a title too
    assert sum("Cash forecast" in str(b) for b in blocks) == 1
    said = str(blocks)
    assert "Today *$10,360.00*" in said and "Buffer $2,000.00" in said and "$10,360*" not in said
