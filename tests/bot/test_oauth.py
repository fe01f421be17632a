"""Installing in a workspace over OAuth: the installer becomes an admin, the bot token is stored encrypted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.oauth import BOT_SCOPES, EncryptedInstallationStore, TokenCipher, engine_of
from bot.oauth_tables import bots, installations
from slack_sandbox.standin import SlackStandIn
from tamio.accounts.models import Member, Role
from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, BotHarness, start_bot

pytestmark = pytest.mark.backends("sqlite")
FIRST_KEY = Fernet.generate_key().decode()


@pytest.fixture
async def multi(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[BotHarness]:
    async for harness in start_bot(slack, session_factory, slack_bot_token=None, slack_client_id=slack.client_id,
                                   slack_client_secret=slack.client_secret, secret_key=FIRST_KEY):
        yield harness


async def install(bot: BotHarness, installer: str) -> int:
    """Open /slack/install, approve on Slack's (the stand-in's) authorize page, come back to /slack/oauth_redirect.

    Bolt's state cookie is ``Secure`` (install pages are https in production), so over plain http on
    127.0.0.1 the test hands it back itself, as a browser on https would.
    """
    async with aiohttp.ClientSession() as http:
        async with http.get(bot.url + "slack/install") as page:
            html = await page.text()
            cookie = page.cookies["slack-app-oauth-state"].value
        start = html.index(bot.slack.base_url + "oauth/v2/authorize")
        authorize = html[start: html.index('"', start)].replace("&amp;", "&")
        assert parse_qs(urlparse(authorize).query)["scope"] == [",".join(BOT_SCOPES)]
        async with http.get(authorize + f"&user={installer}", allow_redirects=False) as approved:
            assert approved.status == 302
            back = approved.headers["Location"]
        async with http.get(back, headers={"Cookie": f"slack-app-oauth-state={cookie}"}) as done:
            return done.status


async def test_install_makes_the_installer_admin_and_stores_the_token_encrypted(multi: BotHarness) -> None:
    assert await install(multi, APPROVER) == 200
    engine = engine_of(multi.sessions)
    async with engine.connect() as conn:
        stored = [row.bot_token for row in (await conn.execute(select(installations.c.bot_token)))]
        stored += [row.bot_token for row in (await conn.execute(select(bots.c.bot_token)))]
    assert len(stored) == 2 and all(token != multi.slack.bot_token and token.startswith("gAAAAA") for token in stored)
    assert {TokenCipher(FIRST_KEY).decrypt(token) for token in stored} == {multi.slack.bot_token}
    async with multi.sessions() as db:
        installer = (await db.execute(select(Member).where(Member.slack_user_id == APPROVER))).scalar_one()
    assert installer.role == Role.ADMIN and installer.is_installer

    reply = await multi.command(APPROVER, "digest here")  # the stored (decrypted) token answers the workspace's requests
    assert reply.status == 200 and "in this channel" in multi.slack.messages(CHANNEL)[-1]["text"]
    await multi.command(ADMIN, "help")  # another person of the workspace is themselves, not the installer, nor an admin
    async with multi.sessions() as db:
        workspace_admin = (await db.execute(select(Member).where(Member.slack_user_id == ADMIN))).scalar_one()
    assert workspace_admin.role == Role.VIEWER and not workspace_admin.is_installer  # a Slack admin is no Tamio admin


async def test_keys_rotate_without_losing_tokens(multi: BotHarness) -> None:
    await install(multi, ADMIN)
    engine = engine_of(multi.sessions)
    new_key = Fernet.generate_key().decode()
    rotating = EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore(client_id=multi.slack.client_id, engine=engine),
                                          TokenCipher(f"{new_key},{FIRST_KEY}"))
    assert await rotating.rotate_keys() == 2
    only_new = EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore(client_id=multi.slack.client_id, engine=engine),
                                          TokenCipher(new_key))
    bot = await only_new.async_find_bot(enterprise_id=None, team_id=multi.slack.workspace.team_id)
    assert bot is not None and bot.bot_token == multi.slack.bot_token
    async with engine.connect() as conn:
        token = (await conn.execute(select(bots.c.bot_token))).scalar_one()
    with pytest.raises(InvalidToken):
        Fernet(FIRST_KEY.encode()).decrypt(token.encode())


async def test_single_workspace_mode_says_so_on_the_install_routes(bot: BotHarness) -> None:
    async with aiohttp.ClientSession() as http, http.get(bot.url + "slack/install") as page:
        assert page.status == 404 and "serves one Slack workspace" in await page.text()
