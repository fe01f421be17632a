"""Tokens as a real install has them: rotating tokens (refreshed, refresh tokens encrypted), org-wide installs
on Enterprise Grid, members' emails with users:read.email.

The old code stored refresh tokens in plain text and sent the outbox with the stored token as it
was (Bolt's rotator bypassed): once the 12 hours were up every card and digest failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.oauth import TokenCipher
from bot.oauth_tables import bots
from slack_sandbox.signed import SlackSender
from tamio.accounts.models import Account, Member
from tamio.outbox.service import enqueue
from tests.bot.conftest import ADMIN, CHANNEL, NOW, SIGNING_SECRET, BotHarness, start_bot, workspace
from tests.bot.test_oauth import FIRST_KEY

pytestmark = pytest.mark.backends("sqlite")


async def install(bot: BotHarness, installer: str, *, org_wide: bool = False) -> int:
    """Slack's install flow through the stand-in's authorize page (see tests/bot/test_oauth.py)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(bot.url + "slack/install") as page:
            html = await page.text()
            cookie = page.cookies["slack-app-oauth-state"].value
        start = html.index(bot.slack.base_url + "oauth/v2/authorize")
        authorize = html[start: html.index('"', start)].replace("&amp;", "&") + f"&user={installer}" + ("&org=1" if org_wide else "")
        async with http.get(authorize, allow_redirects=False) as approved:
            back = approved.headers["Location"]
        assert "code" in parse_qs(urlparse(back).query)
        async with http.get(back, headers={"Cookie": f"slack-app-oauth-state={cookie}"}) as done:
            return done.status


async def harness(session_factory: async_sessionmaker[AsyncSession], **standin: object) -> AsyncIterator[BotHarness]:
    async with workspace(**standin) as slack:
        async for bot in start_bot(slack, session_factory, slack_bot_token=None, slack_client_id=slack.client_id,
                                   slack_client_secret=slack.client_secret, secret_key=FIRST_KEY):
            yield bot


@pytest.fixture
async def rotating(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[BotHarness]:
    # Tokens of an hour: under the two hours left at which Tamio refreshes, so every use refreshes one.
    async for bot in harness(session_factory, token_rotation=True, token_lifetime_s=3600):
        yield bot


def expire_all_but_the_newest(bot: BotHarness) -> None:
    *older, _newest = [g for t, g in bot.slack.grants.by_token.items() if t.startswith("xoxe.xoxb-")]
    for grant in older:
        grant.expires_at = 0.0


async def test_rotating_tokens_are_refreshed_for_requests_and_for_the_outbox(rotating: BotHarness) -> None:
    assert await install(rotating, ADMIN) == 200
    async with rotating.sessions() as db:
        stored = (await db.execute(select(bots.c.bot_token, bots.c.bot_refresh_token))).first()
    assert stored is not None and all(value.startswith("gAAAAA") for value in stored)  # both encrypted at rest
    assert TokenCipher(FIRST_KEY).decrypt(stored.bot_refresh_token).startswith("xoxe-1-")

    await rotating.command(ADMIN, "digest here")
    assert "in this channel" in rotating.slack.messages(CHANNEL)[-1]["text"]
    expire_all_but_the_newest(rotating)
    async with rotating.sessions() as db, db.begin():
        account = (await db.execute(select(Account))).scalar_one()
        await enqueue(db, account_id=account.id, kind="slack_post", payload={"text": "from the outbox"},
                      idempotency_key="rotated", now=NOW)
    await rotating.settle()
    assert rotating.slack.messages(CHANNEL)[-1]["text"] == "from the outbox"
    refreshes = [c for c in rotating.slack.calls_to("oauth.v2.access") if c.get("grant_type") == "refresh_token"]
    assert len(refreshes) >= 2  # Bolt's authorize, and the outbox


async def test_an_org_wide_install_serves_each_workspace_of_the_org(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async for bot in harness(session_factory, enterprise=("E0ORG", "Acme Org")):
        assert await install(bot, ADMIN, org_wide=True) == 200
        async with bot.sessions() as db:
            stored = (await db.execute(select(bots.c.enterprise_id, bots.c.team_id, bots.c.is_enterprise_install))).first()
        assert tuple(stored or ()) == ("E0ORG", None, True)
        sender = SlackSender(bot.url + "slack/events", SIGNING_SECRET, bot.slack.workspace.team_id, bot.slack,
                             enterprise_id="E0ORG", is_enterprise_install=True)
        reply = await sender.slash_command(ADMIN, "digest here", CHANNEL)
        await bot.settle()
        assert reply.status == 200 and "in this channel" in bot.slack.messages(CHANNEL)[-1]["text"]
        async with bot.sessions() as db, db.begin():
            account = (await db.execute(select(Account))).scalar_one()
            await enqueue(db, account_id=account.id, kind="slack_post", payload={"text": "cards reach the org's workspaces"},
                          idempotency_key="org-wide", now=NOW)
        assert (account.slack_team_id, account.slack_enterprise_id) == (bot.slack.workspace.team_id, "E0ORG")
        await bot.settle()  # the outbox finds the org's bot token for this workspace
        assert bot.slack.messages(CHANNEL)[-1]["text"] == "cards reach the org's workspaces"


async def test_members_emails_come_with_users_read_email(bot: BotHarness) -> None:
    bot.slack.workspace.users[ADMIN]["email"] = "maria@acme.example"
    await bot.command(ADMIN, "help")
    async with bot.sessions() as db:
        assert (await db.execute(select(Member.email))).scalar_one() == "maria@acme.example"
