"""``/tamio token``, ``token list`` and ``token revoke ID``: REST API tokens, for admins.

A new token acts as the admin who created it (with their role) in this account only. Its secret is
in the ephemeral answer and nowhere else: the database keeps its SHA-256 and a short prefix, so a
lost token is revoked and replaced, never shown again.

    /tamio token                 -> the secret, once, with a curl example
    /tamio token list
    /tamio token revoke tok_1234
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import Block, context, day_label, escape, section
from bot.boundary import Reply
from bot.commands import parse
from bot.runtime import Scope
from tamio.accounts.models import ApiToken, Member
from tamio.accounts.permissions import Operation
from tamio.accounts.tokens import create_token, list_tokens, revoke_token
from tamio.errors import NotFound

SHOWN_IN_LIST = 20


async def _admin(scope: Scope, doing: str) -> Member:
    await scope.require(Operation.MANAGE_TOKENS, doing)
    assert scope.member is not None
    return scope.member


async def create_api_token(scope: Scope, command: parse.CreateToken, client: AsyncWebClient) -> Reply:
    member = await _admin(scope, "create API tokens")
    name = command.name or f"Slack, {scope.now:%Y-%m-%d}"
    issued = await create_token(scope.db, account=scope.account, actor=member, member_id=member.id, name=name, now=scope.now)
    api = scope.settings.public_url.rstrip("/") + "/api/v1/forecast"
    example = f'curl -H "Authorization: Bearer {issued.secret}" {api}'
    text = (
        f":key: Your API token *{escape(name)}* (`{issued.token.id}`). Copy it now: Tamio shows it only this once.\n"
        f"```{issued.secret}```\n"
        f"It acts as you ({member.role.value}) in this workspace's account. Try it:\n```{example}```"
    )
    blocks: list[Block] = [
        section(text),
        context("Lost it? `/tamio token revoke ID` and create another. `/tamio token list` shows every token, never its secret."),
    ]
    return Reply(f"Your API token (shown once): {issued.secret}", blocks)


async def list_api_tokens(scope: Scope, command: parse.ListTokens, client: AsyncWebClient) -> Reply:
    await _admin(scope, "see API tokens")
    tokens = await list_tokens(scope.db, account_id=scope.account.id)
    if not tokens:
        text = "No API tokens yet. Create one with `/tamio token`."
        return Reply(text, [section(text)])
    lines = []
    for token in tokens[-SHOWN_IN_LIST:]:
        state = (f"revoked {day_label(token.revoked_at.date())}" if token.revoked_at
                 else f"last used {day_label(token.last_used_at.date())}" if token.last_used_at else "never used")
        lines.append(f"• `{token.id}` {escape(token.name or '-')} · `{token.prefix}…` · created {day_label(token.created_at.date())} · {state}")
    more = f"\n…and {len(tokens) - SHOWN_IN_LIST} older ones." if len(tokens) > SHOWN_IN_LIST else ""
    text = f"*API tokens ({len(tokens)})*\n" + "\n".join(lines) + more
    return Reply(f"{len(tokens)} API tokens", [section(text[:2900]), context("Revoke one with `/tamio token revoke ID`.")])


async def revoke_api_token(scope: Scope, command: parse.RevokeToken, client: AsyncWebClient) -> Reply:
    member = await _admin(scope, "revoke API tokens")
    existing = await scope.db.get(ApiToken, command.token_id)
    if existing is None or existing.user_id != scope.account.id:
        raise NotFound(f"There is no API token `{command.token_id}` in this workspace.", hint="`/tamio token list` shows the ids.")
    already = existing.revoked_at is not None
    token = await revoke_token(scope.db, account=scope.account, actor=member, token_id=command.token_id, now=scope.now)
    if already:
        text = f"Token `{token.id}` ({escape(token.name or token.prefix)}) was already revoked."
    else:
        text = f":white_check_mark: Revoked token `{token.id}` ({escape(token.name or token.prefix)}). It stops working at once."
    return Reply(text, [section(text)])
