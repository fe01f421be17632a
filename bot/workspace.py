"""Which Tamio account and member a verified Slack request belongs to.

The global middleware runs after Bolt has verified the signature and authorized the team. It maps
the request's team id (and enterprise id where present) to the account, creating it on first use
with TAMIO_BASE_CURRENCY and TAMIO_TIMEZONE, and the Slack user to a member: everyone starts as a
viewer; the OAuth installer of a new account is its first admin (with one workspace, the first
Slack admin who uses Tamio); a Slack admin is otherwise no Tamio admin until made one. Guests and
people from other organisations get no member and a clear refusal (``tamio.accounts.privacy``).
Every later query is scoped by this account; a button value never chooses it.

It also drops retried events (Slack resends an event it thinks was missed, with
``x-slack-retry-num``; Bolt does not deduplicate): the first receipt of an ``event_id`` wins.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import extract_user_id
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from bot.blocks.common import LOCALE
from bot.boundary import apology_text, error_text
from bot.gate import REQUEST_KEY_HEADER
from bot.onboarding import queue_welcome
from bot.people import from_payload_is_external, slack_person
from bot.replies import send_to_response_url
from bot.runtime import Caller, Runtime, Scope, first_receipt
from tamio.accounts.installation import adopt_installer_defaults, reactivate_account
from tamio.accounts.models import Account, Member, Role
from tamio.accounts.privacy import outsider_refusal
from tamio.accounts.service import account_for_team, count_admins, ensure_member, get_member
from tamio.config import Settings
from tamio.db import read_only
from tamio.errors import TamioError
from tamio.opening import open_account

log = logging.getLogger("tamio.bot")


REMOVAL_EVENTS = ("app_uninstalled", "tokens_revoked")


def removes_tamio(body: dict[str, Any]) -> bool:
    return body.get("type") == "event_callback" and (body.get("event") or {}).get("type") in REMOVAL_EVENTS


def channel_name_of(body: dict[str, Any]) -> str | None:
    """The conversation's name as the request gives it (a command's ``channel_name``, a click's ``channel.name``)."""
    channel = body.get("channel")
    name = body.get("channel_name") or (channel.get("name") if isinstance(channel, dict) else None)
    return str(name) if name else None


def team_name(body: dict[str, Any], team_id: str) -> str:
    """The request's idea of the workspace: only its domain slug ("harbor---pine-studio"), the fallback
    when Slack does not say the workspace's name (``workspace_name``)."""
    team = body.get("team")
    domain = body.get("team_domain") or (team.get("domain") if isinstance(team, dict) else None)
    return str(domain) if domain else f"Slack workspace {team_id}"


async def workspace_name(client: AsyncWebClient, *, team_id: str, fallback: str) -> str:
    """What a new account is called: the workspace's name from auth.test, which needs no scope (team.info
    would need team:read). An answer for another team (an org-wide token) or a refusal keeps the fallback."""
    try:
        answer = await client.auth_test()
    except SlackApiError as refused:
        log.info("auth.test refused, the account is named %r: %s", fallback, refused.response.get("error"))
        return fallback
    name = answer.get("team")
    return str(name) if name and answer.get("team_id") == team_id else fallback


async def find_or_create_account(
    db: AsyncSession, settings: Settings, *, team_id: str, enterprise_id: str | None, name: str, now: datetime
) -> Account:
    account = await account_for_team(db, team_id=team_id, enterprise_id=enterprise_id)
    if account is not None:
        return account
    if db.get_bind().dialect.name == "postgresql":
        # Two first requests at once must not make two accounts (NULL enterprise ids are never equal).
        await db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"slack-team:{team_id}"})
        account = await account_for_team(db, team_id=team_id, enterprise_id=enterprise_id)
        if account is not None:
            return account
    return await open_account(
        db, name=name, base_currency=settings.base_currency, timezone=settings.timezone,
        slack_team_id=team_id, slack_enterprise_id=enterprise_id, now=now,
    )


async def find_or_create_member(db: AsyncSession, client: AsyncWebClient, *, account: Account, user_id: str,
                                now: datetime) -> Member:
    """The member, made on first use: a viewer, unless the account has no admin yet and they are a Slack
    admin (how a single-workspace install gets its first admin). Guests and outsiders get no member."""
    member = await get_member(db, account_id=account.id, slack_user_id=user_id)
    if member is not None:
        return member
    await db.commit()  # no transaction stays open across the users.info call
    person = await slack_person(client, user_id, team_id=account.slack_team_id or "", enterprise_id=account.slack_enterprise_id)
    refusal = outsider_refusal(is_guest=person.is_guest, is_external=person.is_external)
    if refusal is not None:
        raise refusal
    new = await adopt_installer_defaults(db, account=account, timezone=person.tz, locale=person.locale)  # a new account only
    role = Role.ADMIN if person.is_slack_admin and await count_admins(db, account_id=account.id) == 0 else Role.VIEWER
    try:
        async with db.begin_nested():
            member = await ensure_member(db, account_id=account.id, slack_user_id=user_id, display_name=person.name, role=role,
                                         email=person.email, now=now)
            if new and role == Role.ADMIN:  # a one-workspace Tamio's first admin: the welcome DM
                await queue_welcome(db, account=account, user_id=user_id, now=now)
            return member
    except IntegrityError:  # another request created them a moment ago
        found = await get_member(db, account_id=account.id, slack_user_id=user_id)
        assert found is not None
        return found


async def resolve(
    db: AsyncSession, client: AsyncWebClient, settings: Settings, *, team_id: str, enterprise_id: str | None, user_id: str | None,
    name: str, now: datetime,
) -> tuple[Account, Member | None]:
    """The account and member of a request: one query when both exist (every request but the first).

    With no transaction open, that query runs in a read-only one of its own (it never queues behind
    a writer) and the listener starts afresh; only a first request, which creates the account or
    the member, writes here, and its transaction stays open for the listener to commit.
    """
    stmt = select(Account, Member).outerjoin(
        Member, and_(Member.user_id == Account.id, Member.slack_user_id == (user_id or ""))
    ).where(Account.slack_team_id == team_id)
    if enterprise_id:
        stmt = stmt.where(Account.slack_enterprise_id == enterprise_id)
    reading = not db.in_transaction()
    if reading:
        read_only(db)
    try:
        row = (await db.execute(stmt.limit(1))).first()
        if reading:
            await db.commit()  # ends the read (a commit keeps the loaded rows; a rollback would expire them)
    finally:
        if reading:
            if db.in_transaction():
                await db.rollback()
            read_only(db, False)
    if row is not None and (row[1] is not None or not user_id):
        return row[0], row[1]
    if row is not None:
        account = row[0]
    else:
        if db.in_transaction():
            await db.commit()  # no transaction stays open across the auth.test call
        name = await workspace_name(client, team_id=team_id, fallback=name)
        account = await find_or_create_account(db, settings, team_id=team_id, enterprise_id=enterprise_id, name=name, now=now)
    member = await find_or_create_member(db, client, account=account, user_id=user_id, now=now) if user_id else None
    return account, member


def _attach(db: AsyncSession, model: type[Account] | type[Member], values: dict[str, Any]) -> Any:
    """A known row as a persistent object of this session, without a query."""
    row = model(**values)
    make_transient_to_detached(row)
    db.add(row)
    return row


async def _quietly(sending: Awaitable[str | None]) -> None:
    problem = await sending
    if problem is not None:
        log.info("could not tell a refused person why: %s", problem)


def build_middleware(runtime: Runtime) -> Callable[..., Awaitable[BoltResponse | None]]:
    async def tamio_workspace(
        req: AsyncBoltRequest, context: AsyncBoltContext, body: dict[str, Any], client: AsyncWebClient,
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        team_id = context.team_id
        actions = body.get("actions") if body.get("type") == "block_actions" else None
        if not team_id or (actions and all(a.get("action_id") in runtime.ack_only_actions for a in actions)):
            await next()
            return None
        # The user who acted, from the payload: Bolt replaces ``context.user_id`` with the installer's
        # when an installation carries a user token, which must never decide who is clicking.
        user_id = extract_user_id(body)
        now = runtime.clock()
        db = runtime.sessions()
        try:
            if body.get("type") == "event_callback" and body.get("event_id"):
                if not await first_receipt(db, event_id=str(body["event_id"]), team_id=team_id, now=now):
                    await db.commit()
                    await db.close()
                    log.info("dropping retried event %s (retry %s)", body["event_id"], req.headers.get("x-slack-retry-num"))
                    return BoltResponse(status=200, body="")
            if user_id and from_payload_is_external(body, team_id=team_id, enterprise_id=context.enterprise_id):
                raise outsider_refusal(is_guest=False, is_external=True) or TamioError("")
            key = (team_id, context.enterprise_id, user_id)
            known = runtime.workspaces.get(key)
            if known is not None:
                account = _attach(db, Account, known.account)
                member = _attach(db, Member, known.member) if known.member else None
            else:
                account, member = await resolve(db, client, runtime.settings, team_id=team_id, enterprise_id=context.enterprise_id,
                                                user_id=user_id, name=team_name(body, team_id), now=now)
            if not account.is_active and not removes_tamio(body):
                # Slack sends a workspace's requests only while Tamio is installed there: installed again.
                await reactivate_account(db, account=account, now=now)
                known = None
        except TamioError as refused:  # a guest, someone from another organisation: told why, nothing done
            await db.rollback()
            await db.close()
            if "command" in body:
                return BoltResponse(status=200, body=error_text(refused))
            if body.get("response_url"):
                runtime.spawn(_quietly(send_to_response_url(str(body["response_url"]), text=error_text(refused))), name="refusal")
            return BoltResponse(status=200, body="")
        except Exception:
            await db.rollback()
            await db.close()
            correlation = uuid.uuid4().hex[:12]
            log.exception("could not resolve the workspace of a request (correlation id %s)", correlation)
            return BoltResponse(status=200, body=apology_text(correlation) if "command" in body else "")
        LOCALE.set(account.locale)  # amounts and dates of this request are written the account's way
        caller = Caller(
            team_id=team_id, enterprise_id=context.enterprise_id, account_id=account.id, user_id=user_id,
            member_id=member.id if member else None, channel_id=context.channel_id,
            response_url=body.get("response_url") or None, trigger_id=body.get("trigger_id"), app_id=body.get("api_app_id"),
            channel_name=channel_name_of(body),
        )
        # The transaction stays open for the listener, which commits it before its ack leaves (or
        # before it calls Slack: no transaction stays open across a network call).
        scope = Scope(runtime, db, account, member, now, caller, client)
        scope.remember_as = None if known is not None else key  # remembered only once it is committed
        scope.request_key = (req.headers.get(REQUEST_KEY_HEADER.lower()) or [None])[0]
        context["scope"] = scope
        context["runtime"] = runtime
        await next()
        return None

    return tamio_workspace
