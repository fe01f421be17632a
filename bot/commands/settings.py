"""``/tamio config``, ``config set``, ``digest here``, ``role`` and ``rules``: how the account is run (admins).

Every change is audited with the member who made it. Choosing the digest channel also sends the
cards of pending actions that could not be posted before there was a channel.
"""

from __future__ import annotations

from decimal import Decimal

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.blocks.common import escape, fields, header, money, section
from bot.boundary import Reply
from bot.channels import ChannelAccess, conversation_kind_from_name, make_postable
from bot.commands import parse
from bot.runtime import Scope
from tamio.accounts.permissions import Operation
from tamio.accounts.service import (
    ensure_member,
    get_member,
    get_user_configuration,
    set_role,
)
from tamio.data.settings import change_settings
from tamio.errors import ValidationError
from tamio.execution import automation
from tamio.outbox.service import enqueue
from tamio.preparation.models import ActionStatus, PreparedAction

ACCOUNT_KEYS = ("base_currency", "timezone", "locale", "dual_approval_threshold")
LABELS = {
    "safety_mode": "Safety mode",
    "obligations_buffer_amount": "Buffer",
    "runway_buffer_months": "Runway alert below (months)",
    "late_payment_threshold_days": "Late after (days)",
    "unexpected_expense_threshold_pct": "Unexpected expense above (%)",
    "payroll_check_days_before": "Payroll check (days before)",
    "payroll_buffer_percent": "Payroll buffer (%)",
    "payment_cluster_threshold_pct": "Payment cluster above (%)",
    "chase_cooloff_days": "No new chase for (days)",
    "dual_approval_threshold": "Two approvals from",
    "base_currency": "Base currency",
    "timezone": "Time zone",
    "locale": "Amounts and dates written as",
    "viewers_see_figures": "Viewers see figures",
}


def _shown(key: str, value: object, currency: str) -> str:
    if key in ("obligations_buffer_amount", "dual_approval_threshold") and isinstance(value, Decimal):
        return money(value, currency)
    if isinstance(value, bool):
        return "on" if value else "off"
    if hasattr(value, "value"):
        return str(value.value)
    return str(value)


async def show_config(scope: Scope, command: parse.ShowConfig, client: AsyncWebClient) -> Reply:
    config = await get_user_configuration(scope.db, account_id=scope.account.id)
    account = scope.account
    items = []
    for key, label in LABELS.items():
        owner = account if key in ACCOUNT_KEYS else config
        items.append(f"*{label}*\n{_shown(key, getattr(owner, key), account.base_currency)}  `{key}`")
    channel = f"<#{account.digest_channel_id}>" if account.digest_channel_id else "none yet (`/tamio digest here`)"
    blocks = [header(f"Settings of {account.name}"[:150]), fields(*items[:10])]  # a header is plain text
    if len(items) > 10:
        blocks.append(fields(*items[10:]))
    blocks.append(section(f"Alerts and digest: {channel}\nChange one with `/tamio config set KEY VALUE` (admins)."))
    return Reply(f"Settings of {escape(account.name)}", blocks)


async def set_config(scope: Scope, command: parse.SetConfig, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.CHANGE_SETTINGS, "change settings")
    account, key = scope.account, command.key
    changed = await change_settings(scope.db, account=account, member=scope.member, changes={key: command.value}, now=scope.now)
    if key not in changed:
        text = f":white_check_mark: {LABELS[key]} is already {_shown(key, command.value, account.base_currency)}; nothing changed."
        return Reply(text, [section(text)])
    scope.changed_workspace()
    old, value = changed[key]
    text = f":white_check_mark: {LABELS[key]} is now {_shown(key, value, account.base_currency)} (was {_shown(key, old, account.base_currency)})."
    return Reply(text, [section(text)])


DIGEST_DOING = "post alerts, action cards and the daily digest"


async def digest_here(scope: Scope, command: parse.DigestHere, client: AsyncWebClient) -> Reply:
    """Only where Tamio can post: a public channel it joins, a private one it was invited to; never a DM."""
    channel = scope.caller.channel_id
    if not channel:
        raise ValidationError("Run this in the channel that should get alerts and the digest.")
    kind = conversation_kind_from_name(channel, scope.caller.channel_name)
    if kind is not None:
        return Reply(ChannelAccess(channel, kind).explain(DIGEST_DOING))
    await scope.require(Operation.CHANGE_SETTINGS, "choose the digest channel")
    await scope.commit()  # no transaction across the call to Slack
    access = await make_postable(client, channel, channel_name=scope.caller.channel_name)
    if not access.postable:
        return Reply(access.explain(DIGEST_DOING))
    await scope.fresh()
    account = scope.account
    await change_settings(scope.db, account=account, member=scope.member, changes={"digest_channel_id": channel}, now=scope.now,
                          doing="choose the digest channel")
    scope.changed_workspace()
    waiting = (
        await scope.db.execute(
            select(PreparedAction.id).where(
                PreparedAction.user_id == account.id, PreparedAction.status == ActionStatus.PENDING,
                PreparedAction.slack_message_ts.is_(None),
            )
        )
    ).scalars().all()
    for action_id in waiting:
        await enqueue(scope.db, account_id=account.id, kind="action_card", channel=channel, payload={"action_id": action_id},
                      idempotency_key=f"card:{action_id}:channel:{channel}", now=scope.now)
    more = f" {len(waiting)} waiting action card{'s' if len(waiting) != 1 else ''} will follow." if waiting else ""
    text = f":mailbox_with_mail: Tamio will post alerts, action cards and the daily digest in this channel.{more}"
    return Reply(text, [section(text)], in_channel=True)


async def set_member_role(scope: Scope, command: parse.SetRole, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.CHANGE_ROLES, "change roles")
    assert scope.member is not None
    target = await get_member(scope.db, account_id=scope.account.id, slack_user_id=command.slack_user_id)
    if target is None:
        target = await ensure_member(scope.db, account_id=scope.account.id, slack_user_id=command.slack_user_id)
    await set_role(scope.db, account_id=scope.account.id, actor=scope.member, target=target, role=command.role)
    scope.changed_workspace()
    text = f":white_check_mark: <@{command.slack_user_id}> is now {'an' if command.role.value[0] in 'aeiou' else 'a'} {command.role.value}."
    return Reply(text, [section(text)])



async def _rules_reply(scope: Scope, note: str | None = None) -> Reply:
    rules = await automation.list_rules(scope.db, account_id=scope.account.id)
    lines = [f"*{r.action_type.replace('_', ' ')}* `{r.action_type}`: {automation.describe_rule(r, base_currency=scope.account.base_currency)}"
             for r in rules]
    blocks = [header("Automation rules"), section("\n".join(lines) or "No rules yet.")]
    blocks.append(section("Change one with `/tamio rules set RULE auto on|off [threshold AMOUNT|none]` (admins). "
                          "Nothing touching payroll or tax ever runs by itself."))
    if note:
        blocks.insert(0, section(note))
    return Reply(note or "Automation rules", blocks)


async def show_rules(scope: Scope, command: parse.ShowRules, client: AsyncWebClient) -> Reply:
    return await _rules_reply(scope)


async def set_rule(scope: Scope, command: parse.SetRule, client: AsyncWebClient) -> Reply:
    if scope.member is None:
        raise ValidationError("I couldn't tell who you are.")
    rule = await automation.update_rule(scope.db, account=scope.account, member=scope.member, action_type=command.rule, now=scope.now,
                                        **dict(command.changes))
    described = automation.describe_rule(rule, base_currency=scope.account.base_currency)
    return await _rules_reply(scope, f":white_check_mark: The {rule.action_type.replace('_', ' ')} rule is now: {described}.")
