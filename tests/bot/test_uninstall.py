"""A workspace removing Tamio: the account is paused (no automation, no scheduler, no messages), its data
kept; installing again resumes it with everyone's roles; one workspace or several, Slack gets a 200.

The old code only deleted the stored installation (several workspaces) and answered 404 with one
workspace; the account stayed active, and detection and automation went on for a workspace that
had removed the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.oauth_tables import bots, installations
from slack_sandbox.standin import SlackStandIn
from tamio.accounts.models import Account, Member, Role
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import enqueue
from tests.bot.conftest import ADMIN, APPROVER, NOW, VIEWER, BotHarness, start_bot
from tests.bot.test_oauth import FIRST_KEY, install

pytestmark = pytest.mark.backends("sqlite")


async def account_row(bot: BotHarness) -> Account:
    async with bot.sessions() as db:
        return (await db.execute(select(Account))).scalar_one()


async def test_with_one_workspace_uninstalling_pauses_the_account_and_a_new_request_resumes_it(bot: BotHarness) -> None:
    await bot.command(ADMIN, "digest here")
    await bot.command(ADMIN, f"role <@{APPROVER}|sam> approver")
    reply = await bot.sender.app_uninstalled()
    assert reply.status == 200  # was 404: no listener without OAuth
    account = await account_row(bot)
    assert (account.is_active, account.deactivated_reason) == (False, "app_uninstalled")

    async with bot.sessions() as db, db.begin():
        await enqueue(db, account_id=account.id, kind="slack_post", payload={"text": "after removal"},
                      idempotency_key="after-removal", now=NOW)
    await bot.settle()
    async with bot.sessions() as db:
        row = (await db.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == "after-removal"))).scalar_one()
    assert row.result == {"skipped": "the workspace removed Tamio"}
    assert not any(call.get("text") == "after removal" for call in bot.slack.calls_to("chat.postMessage"))

    bot.slack.grants.set_state(team_id=bot.slack.workspace.team_id, state="active")  # the workspace installs Tamio again
    await bot.command(APPROVER, "help")
    account = await account_row(bot)
    assert account.is_active and account.deactivated_at is None
    async with bot.sessions() as db:
        roles = {m.slack_user_id: m.role for m in (await db.execute(select(Member))).scalars()}
    assert roles[APPROVER] == Role.APPROVER


async def test_a_revoked_user_token_alone_leaves_the_account_running(bot: BotHarness) -> None:
    await bot.command(ADMIN, "help")
    assert (await bot.sender.tokens_revoked(bot=False, users=(ADMIN,))).status == 200
    assert (await account_row(bot)).is_active
    assert (await bot.sender.tokens_revoked()).status == 200
    account = await account_row(bot)
    assert (account.is_active, account.deactivated_reason) == (False, "tokens_revoked")


@pytest.fixture
async def multi(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[BotHarness]:
    async for harness in start_bot(slack, session_factory, slack_bot_token=None, slack_client_id=slack.client_id,
                                   slack_client_secret=slack.client_secret, secret_key=FIRST_KEY):
        yield harness


async def test_with_several_workspaces_uninstall_deletes_the_token_and_reinstalling_keeps_roles(multi: BotHarness) -> None:
    assert await install(multi, ADMIN) == 200
    await multi.command(ADMIN, f"role <@{APPROVER}|sam> approver")
    await multi.command(VIEWER, "help")
    await multi.sender.app_uninstalled()
    await multi.settle()
    async with multi.sessions() as db:
        assert (await db.execute(select(installations.c.id))).first() is None
        assert (await db.execute(select(bots.c.id))).first() is None
    assert not (await account_row(multi)).is_active

    multi.slack.grants.set_state(team_id=multi.slack.workspace.team_id, state="active")
    assert await install(multi, VIEWER) == 200  # a viewer installs it again: nobody's role changes
    assert (await account_row(multi)).is_active
    async with multi.sessions() as db:
        roles = {m.slack_user_id: (m.role, m.is_installer) for m in (await db.execute(select(Member))).scalars()}
    assert roles[ADMIN] == (Role.ADMIN, True) and roles[APPROVER][0] == Role.APPROVER
    assert roles[VIEWER] == (Role.VIEWER, True)
