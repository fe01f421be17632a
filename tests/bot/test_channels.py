"""`/tamio digest here` only where Tamio can post, and a channel that stops taking Tamio's messages is noticed.

The old code accepted any conversation: a private channel Tamio was not in, a DM, a group DM. From
then on every card and digest failed (channel_not_found / not_in_channel), was dropped as permanent,
and nobody was told.
"""

from __future__ import annotations

from sqlalchemy import select

from tamio.accounts.models import Account
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import enqueue
from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, NOW, BotHarness


async def digest_channel(bot: BotHarness) -> str | None:
    async with bot.sessions() as db:
        return (await db.execute(select(Account.digest_channel_id))).scalar_one_or_none()


async def test_digest_here_joins_a_public_channel_tamio_is_not_in(bot: BotHarness) -> None:
    bot.slack.add_channel("C0MONEY", "money", bot=False)
    await bot.command(ADMIN, "digest here", channel="C0MONEY")
    assert await digest_channel(bot) == "C0MONEY"
    assert bot.slack.calls_to("conversations.join")[0]["channel"] == "C0MONEY"
    assert bot.slack.workspace.bot_user_id in bot.slack.workspace.conversations.by_id["C0MONEY"].members
    assert "in this channel" in bot.slack.messages("C0MONEY")[-1]["text"]


async def test_digest_here_in_a_private_channel_asks_to_invite_tamio_first(bot: BotHarness) -> None:
    bot.slack.add_channel("C0BOARD", "board", private=True, bot=False)
    await bot.command(ADMIN, "digest here", channel="C0BOARD")
    assert await digest_channel(bot) is None
    assert "`/invite @Tamio`" in bot.ephemerals_for(ADMIN)[-1]["text"]
    bot.slack.workspace.conversations.by_id["C0BOARD"].members.add(bot.slack.workspace.bot_user_id)  # /invite @Tamio
    await bot.command(ADMIN, "digest here", channel="C0BOARD")
    assert await digest_channel(bot) == "C0BOARD"


async def test_digest_here_in_a_dm_or_group_dm_is_refused_with_why(bot: BotHarness) -> None:
    dm, group = bot.slack.add_dm(ADMIN, APPROVER), bot.slack.add_dm(ADMIN, APPROVER, "UVIEWER")
    await bot.command(ADMIN, "digest here", channel=dm)
    assert "in a direct message" in bot.ephemerals_for(ADMIN)[-1]["text"]
    await bot.command(ADMIN, "digest here", channel=group)
    assert "group DM" in bot.ephemerals_for(ADMIN)[-1]["text"]
    assert await digest_channel(bot) is None and not bot.slack.calls_to("conversations.join")


async def test_a_viewer_cannot_make_tamio_join_a_channel(bot: BotHarness) -> None:
    bot.slack.add_channel("C0MONEY", "money", bot=False)
    await bot.command("UVIEWER", "digest here", channel="C0MONEY")
    assert "Only admins" in bot.ephemerals_for("UVIEWER")[-1]["text"]
    assert not bot.slack.calls_to("conversations.join")


async def test_messages_lost_in_a_channel_tamio_was_removed_from_reach_the_admins_and_app_home(bot: BotHarness) -> None:
    await bot.command(ADMIN, "digest here")
    bot.slack.remove_app_from(CHANNEL)
    bot.slack.workspace.conversations.by_id[CHANNEL].kind = "private"  # and made private: invisible to Tamio
    async with bot.sessions() as db, db.begin():
        account = (await db.execute(select(Account))).scalar_one()
        for n in range(3):
            await enqueue(db, account_id=account.id, kind="slack_post", payload={"text": f"card {n}"},
                          idempotency_key=f"lost:{n}", now=NOW)
    await bot.settle()
    async with bot.sessions() as db:
        statuses = {r.idempotency_key: (r.status, r.last_error, r.channel) for r in (await db.execute(select(OutboxMessage))).scalars()}
    assert all(statuses[f"lost:{n}"] == ("dead", "channel_not_found", CHANNEL) for n in range(3))
    told = [m for m in bot.slack.messages(bot.slack.dm_channel(ADMIN)) if "I couldn't post" in m["text"]]
    assert len(told) == 1 and f"<#{CHANNEL}>" in told[0]["text"] and "/invite @Tamio" in told[0]["text"]
    await bot.sender.app_home_opened(ADMIN)
    await bot.settle()
    home = str(bot.slack.home_views[ADMIN]["blocks"])
    assert "I couldn't post 3 messages" in home and "channel_not_found" in home
