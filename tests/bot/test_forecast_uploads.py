"""The forecast's chart against a Slack that processes uploads asynchronously, and Share where Tamio is not.

Slack refuses an image block naming a file it is still processing (``invalid slack file``); the
old code named the chart right after files_upload_v2, never checked the reply, and the forecast
never arrived. Share read the clicked message, which Slack leaves out of a click on an ephemeral.
"""

from __future__ import annotations

from typing import Any

from tests.bot.conftest import ADMIN, CHANNEL, BotHarness


async def books(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 48250')
    await bot.command(ADMIN, 'add payroll "Payroll" 42000 semimonthly from 2026-12-07')


def forecast_reply(bot: BotHarness) -> dict[str, Any]:
    return next(e for e in reversed(bot.ephemerals_for(ADMIN)) if e["blocks"] and e["blocks"][0]["type"] == "header")


async def test_the_chart_is_shown_once_slack_has_processed_it(bot: BotHarness) -> None:
    await books(bot)
    await bot.command(ADMIN, "forecast")
    [upload] = bot.slack.uploads.values()
    shown = forecast_reply(bot)
    assert any(b["type"] == "image" and b["slack_file"]["id"] == upload.file_id for b in shown["blocks"])
    assert len(bot.slack.calls_to("files.info")) == 2  # "processing", then ready
    share = next(b for b in shown["blocks"] if b["type"] == "actions")["elements"][0]
    assert share["value"].endswith(":" + upload.file_id)  # the caller's copy keeps its chart once shared


async def test_a_chart_slack_is_slow_with_leaves_the_forecast_arriving_without_it(bot: BotHarness) -> None:
    await books(bot)
    bot.slack.workspace.file_processing_polls = 100
    await bot.command(ADMIN, "forecast")
    shown = forecast_reply(bot)
    assert not any(b["type"] == "image" for b in shown["blocks"])
    assert "The chart is in your DM with Tamio." in str(shown["blocks"])
    dm = bot.slack.messages(bot.slack.dm_channel(ADMIN))
    assert dm[-1]["files"][0]["name"] == "cash-forecast.png"  # posted there as a file message


async def test_share_from_a_public_channel_tamio_is_not_in_joins_it(bot: BotHarness) -> None:
    bot.slack.add_channel("C0GENERAL", "general", bot=False)
    await books(bot)
    await bot.command(ADMIN, "forecast", channel="C0GENERAL")
    shown = forecast_reply(bot)
    assert shown["channel"] == "C0GENERAL"  # the response URL answers where Tamio is not a member
    await bot.sender.block_action(ADMIN, "C0GENERAL", shown["ts"], [{"action_id": "forecast_share"}], is_ephemeral=True)
    await bot.settle()
    posted, chart = bot.slack.messages("C0GENERAL")
    assert "Shared by <@UADMIN>" in str(posted["blocks"]) and chart["thread_ts"] == posted["ts"]
    assert len(bot.slack.calls_to("conversations.join")) == 1
    mine = forecast_reply(bot)
    assert "Shared in <#C0GENERAL>" in str(mine["blocks"]) and any(b["type"] == "image" for b in mine["blocks"])


async def test_share_from_a_private_channel_or_a_dm_explains_what_to_do(bot: BotHarness) -> None:
    bot.slack.add_channel("C0BOARD", "board", private=True, bot=False)
    dm = bot.slack.add_dm(ADMIN, "UAPPROVER")
    await books(bot)
    for channel, why in (("C0BOARD", "Invite me with `/invite @Tamio`"), (dm, "in a direct message")):
        await bot.command(ADMIN, "forecast", channel=channel)
        shown = forecast_reply(bot)
        await bot.sender.block_action(ADMIN, channel, shown["ts"], [{"action_id": "forecast_share"}], is_ephemeral=True)
        await bot.settle()
        assert why in bot.ephemerals_for(ADMIN)[-1]["text"], channel
        assert bot.slack.messages(channel) == []
    assert bot.slack.messages(CHANNEL) == []
