"""One conversation end to end, on SQLite and PostgreSQL: signed requests in, Web API calls out."""

from __future__ import annotations

from sqlalchemy import select

from tamio.accounts.models import Account, Member, Role
from tests.bot.conftest import ADMIN, CHANNEL, VIEWER, BotHarness


async def test_help_creates_the_account_and_admin_and_answers_ephemerally(bot: BotHarness) -> None:
    reply = await bot.command(ADMIN, "help")
    assert reply.status == 200
    shown = bot.ephemerals_for(ADMIN)[-1]
    assert shown["channel"] == CHANNEL
    text = str(shown["blocks"])
    for sub in ("forecast", "add", "balance", "paid", "alerts", "actions", "run", "config", "digest", "role"):
        assert f"/tamio {sub}" in text
    await bot.command(VIEWER, "help")
    async with bot.sessions() as db:
        account = (await db.execute(select(Account))).scalar_one()
        # The installer's Slack time zone and locale (the stand-in's default person is in London, en-US).
        assert (account.slack_team_id, account.base_currency, account.timezone, account.locale) == (
            "T0001", "USD", "Europe/London", "en_US")
        roles = {m.slack_user_id: m.role for m in (await db.execute(select(Member))).scalars()}
    assert roles == {ADMIN: Role.ADMIN, VIEWER: Role.VIEWER}


async def test_a_card_is_posted_approved_and_updated_in_place(bot: BotHarness) -> None:
    from tamio.preparation.models import ActionStatus
    from tests.bot.prepared import Option, account_of, prepare, reload

    await bot.command(ADMIN, "digest here")
    await bot.command(ADMIN, 'balance set "Operating" 45000')
    account = await account_of(bot.sessions)
    action = await prepare(bot.sessions, account.id, title="Acme Corp is 16 days late", options=[Option("Chase Acme Corp", subject="Overdue", body="Hi", email="ap@acme.example")],
                           channel=CHANNEL)
    await bot.settle()
    card = bot.slack.messages(CHANNEL)[-1]
    await bot.sender.block_action(ADMIN, CHANNEL, card["ts"], [{"action_id": "card_approve", "value": action.id}])
    await bot.settle()
    assert (await reload(bot.sessions, action.id)).status != ActionStatus.PENDING
    assert f"Approved by <@{ADMIN}>" in str(bot.slack.message(CHANNEL, card["ts"])["blocks"])
