"""``/tamio token``: an admin's REST API token, shown once in Slack and working at once against the
REST API served by the same server; listed without its secret; revoked."""

from __future__ import annotations

import re

import aiohttp
import pytest
from sqlalchemy import select

from tamio.accounts.models import ApiToken, Member
from tamio.accounts.tokens import hash_secret
from tamio.audit.models import AuditLog
from tests.bot.conftest import ADMIN, APPROVER, VIEWER, BotHarness

pytestmark = pytest.mark.backends("sqlite", "pg")
SECRET = re.compile(r"```(tamio_[A-Za-z0-9_-]+)```")


def said(bot: BotHarness, user: str) -> str:
    shown = bot.ephemerals_for(user)[-1]
    return shown["text"] + " " + str(shown.get("blocks") or "")


async def forecast_status(bot: BotHarness, secret: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(bot.url + "api/v1/forecast",
                                                         headers={"Authorization": f"Bearer {secret}"}) as reply:
        return reply.status


async def test_an_admin_gets_a_token_once_with_a_curl_example_and_it_works(bot: BotHarness) -> None:
    await bot.command(ADMIN, "token")
    shown = said(bot, ADMIN)
    match = SECRET.search(shown)
    assert match is not None, shown
    secret = match.group(1)
    assert "Tamio shows it only this once" in shown
    assert f'curl -H "Authorization: Bearer {secret}" {bot.settings.public_url}/api/v1/forecast' in shown
    assert bot.ephemerals_for(ADMIN)[-1]["channel"] and not bot.slack.messages(bot.ephemerals_for(ADMIN)[-1]["channel"])

    async with bot.sessions() as db:
        token = (await db.execute(select(ApiToken))).scalar_one()
        admin = (await db.execute(select(Member).where(Member.slack_user_id == ADMIN))).scalar_one()
        audit = (await db.execute(select(AuditLog).where(AuditLog.entity_type == "api_token"))).scalars().all()
    assert (token.member_id, token.token_hash, token.prefix) == (admin.id, hash_secret(secret), secret[:14])
    assert all(secret not in str(a.changes) for a in audit) and len(audit) == 1
    assert await forecast_status(bot, secret) == 200

    await bot.command(ADMIN, 'token create "reporting"')
    second = SECRET.search(said(bot, ADMIN))
    assert second is not None and second.group(1) != secret and "*reporting*" in said(bot, ADMIN)

    await bot.command(ADMIN, "token list")
    listed = said(bot, ADMIN)
    assert "API tokens (2)" in listed and token.id in listed and f"`{token.prefix}…`" in listed and "reporting" in listed
    assert secret not in listed and second.group(1) not in listed

    await bot.command(ADMIN, f"token revoke {token.id}")
    assert f"Revoked token `{token.id}`" in said(bot, ADMIN)
    assert await forecast_status(bot, secret) == 401
    assert await forecast_status(bot, second.group(1)) == 200
    await bot.command(ADMIN, f"token revoke {token.id}")
    assert "was already revoked" in said(bot, ADMIN)
    await bot.command(ADMIN, "token list")
    assert "revoked" in said(bot, ADMIN)


async def test_only_admins_handle_tokens_and_bad_forms_are_explained(bot: BotHarness) -> None:
    await bot.command(ADMIN, f"role <@{APPROVER}> approver")
    for user in (VIEWER, APPROVER):
        for text, doing in (("token", "create API tokens"), ("token list", "see API tokens"), ("token revoke tok_x", "revoke API tokens")):
            await bot.command(user, text)
            assert f":warning: Only admins can {doing}." in said(bot, user)
    async with bot.sessions() as db:
        assert (await db.execute(select(ApiToken))).first() is None

    await bot.command(ADMIN, "token revoke tok_nope")
    assert "There is no API token `tok_nope` in this workspace." in said(bot, ADMIN)
    await bot.command(ADMIN, "token revoke")
    assert "I need the id of the token to revoke." in said(bot, ADMIN) and "Example: `/tamio token`" in said(bot, ADMIN)
    await bot.command(ADMIN, "token frobnicate")
    assert "I don't understand `frobnicate`" in said(bot, ADMIN)
    await bot.command(ADMIN, "token list")
    assert "No API tokens yet. Create one with `/tamio token`." in said(bot, ADMIN)


async def test_help_lists_the_new_subcommands_with_examples(bot: BotHarness) -> None:
    await bot.command(VIEWER, "help")
    shown = said(bot, VIEWER)
    for example in ("/tamio connect xero", "/tamio sync", "/tamio token", '/tamio rename client \\"Acme\\" \\"Acme Corp\\"'):
        assert example in shown or example.replace('\\"', '"') in shown
