"""Getting started: the installer's welcome DM, help for plain words in Tamio's DM, and the two shortcuts.

The old code said nothing on install, ignored what people wrote to it (its Messages tab was read
only), and had no shortcuts.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tamio.accounts.models import Account
from tamio.data.models import CashAccount
from tamio.obligations.models import ObligationSchedule, ScheduleStatus
from tests.bot.conftest import ADMIN, CHANNEL, VIEWER, BotHarness
from tests.bot.test_home_and_forms import picked, select_option, state, text
from tests.bot.test_oauth import install
from tests.bot.test_uninstall import multi  # noqa: F401  (the several-workspaces harness)

pytestmark = pytest.mark.backends("sqlite")


def welcome_of(bot: BotHarness, user: str) -> dict:
    [welcome] = [m for m in bot.slack.messages(bot.slack.dm_channel(user)) if "Welcome to Tamio" in m["text"]]
    return welcome


async def test_the_first_admin_of_a_one_workspace_tamio_is_welcomed_once(bot: BotHarness) -> None:
    await bot.command(ADMIN, "help")
    await bot.command(ADMIN, "help")
    await bot.command(VIEWER, "help")
    welcome = str(welcome_of(bot, ADMIN)["blocks"])
    for step in ("/tamio digest here", "/invite @Tamio", "USD", "Europe/London", "$1,200.50", "Add an obligation"):
        assert step in welcome, step
    assert not [m for m in bot.slack.messages(bot.slack.dm_channel(VIEWER)) if "Welcome" in m["text"]]

    await bot.sender.block_action(ADMIN, bot.slack.dm_channel(ADMIN), welcome_of(bot, ADMIN)["ts"],
                                  [{"action_id": "onboarding_add", "value": "add"}])
    assert [v["title"]["text"] for v in bot.slack.views.values()] == ["Add to Tamio"]


async def test_the_oauth_installer_is_welcomed(multi: BotHarness) -> None:  # noqa: F811
    assert await install(multi, ADMIN) == 200
    await multi.settle()
    assert "Add an obligation" in str(welcome_of(multi, ADMIN)["blocks"])


async def test_plain_words_in_tamios_dm_get_the_help(bot: BotHarness) -> None:
    await bot.command(ADMIN, "help")
    reply = await bot.sender.direct_message(ADMIN, "how much cash do we have?")
    await bot.settle()
    assert reply.status == 200
    answer = bot.slack.messages(bot.slack.dm_channel(ADMIN))[-1]
    assert answer["user"] == bot.slack.workspace.bot_user_id and "/tamio balance" in str(answer["blocks"])


async def test_the_add_obligation_shortcut_opens_the_form(bot: BotHarness) -> None:
    await bot.command(ADMIN, "help")
    assert (await bot.sender.shortcut(ADMIN, "add_obligation")).status == 200
    assert [v["title"]["text"] for v in bot.slack.views.values()] == ["Add to Tamio"]
    await bot.sender.shortcut(VIEWER, "add_obligation")
    await bot.settle()
    assert len(bot.slack.views) == 1 and "Only approvers and admins" in bot.slack.messages(bot.slack.dm_channel(VIEWER))[-1]["text"]


async def test_record_a_payment_from_a_message(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 10000')
    await bot.command(ADMIN, 'add client "Acme Corp" 4200 once from 2026-12-07')
    said = bot.slack.post_as_user(CHANNEL, VIEWER, "Acme paid the $4,200 invoice this morning")
    assert (await bot.sender.message_shortcut(ADMIN, "record_payment", CHANNEL, said["ts"])).status == 200
    view = list(bot.slack.views.values())[-1]
    amount = next(b for b in view["blocks"] if b["block_id"] == "amount")["element"]
    assert view["title"]["text"] == "Record a payment" and amount["initial_value"] == "4,200"
    suggestions = await bot.sender._send_interaction(
        {"type": "block_suggestion", **bot.sender._who(ADMIN), "action_id": "counterparty", "block_id": "counterparty",
         "value": "acme", "view": view, "container": {"type": "view", "view_id": view["id"]}}, None, False, "", None)
    acme = next(o for o in suggestions.json()["options"] if o["text"]["text"] == "Acme Corp")
    filled = state(counterparty=select_option(acme["value"], "external_select"), amount=text("4,200"), currency=text("USD"),
                   paid_on=picked("2026-12-07"))
    await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": filled})
    await bot.settle()
    async with bot.sessions() as db:
        schedule = (await db.execute(select(ObligationSchedule))).scalar_one()
        cash = (await db.execute(select(CashAccount))).scalar_one()
    assert schedule.status == ScheduleStatus.PAID and cash.balance == Decimal("14200")
    assert "Recorded $4,200.00 from *Acme Corp*" in bot.ephemerals_for(ADMIN)[-1]["text"]  # where the message is


async def test_a_new_account_is_named_after_the_workspace_not_its_domain_slug(session_factory) -> None:  # type: ignore[no-untyped-def]
    # The old code took the request's team_domain: App Home read "Tamio · harbor---pine-studio".
    from tests.bot.conftest import start_bot, workspace

    async with workspace(team_name="Harbor & Pine Studio") as slack:
        async for bot in start_bot(slack, session_factory):
            await bot.sender.app_home_opened(ADMIN)
            await bot.settle()
            async with bot.sessions() as db:
                [account] = (await db.execute(select(Account))).scalars().all()
            assert account.name == "Harbor & Pine Studio"
            assert bot.slack.home_views[ADMIN]["blocks"][0]["text"]["text"] == "Tamio · Harbor & Pine Studio"
