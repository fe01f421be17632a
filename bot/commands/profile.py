"""``/tamio client``, ``vendor`` and ``detection``: what drives preparation and detection, set from Slack.

Each function calls one core function (``tamio.obligations.profile``, ``tamio.obligations.standing``,
``tamio.detection.rule_settings``) and renders its answer; the boundary commits and turns errors
into ephemeral messages.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape, header, money, section
from bot.boundary import Reply
from bot.commands import data, parse
from bot.runtime import Scope
from tamio.accounts.permissions import Operation
from tamio.data.models import Criticality, FlexibilityLevel, RelationshipType
from tamio.detection.rule_settings import DetectionRuleView, list_detection_rules, update_detection_rule
from tamio.obligations.counterparties import find_client
from tamio.obligations.profile import RELATIONSHIP_WORD, describe_vendor, set_relationship, set_vendor_terms

TONE = {RelationshipType.STRATEGIC: "chases use the gentler tone, and it weighs more when an action is risky"}


async def show_client(scope: Scope, command: parse.ShowClient, client: AsyncWebClient) -> Reply:
    """How a client pays, what it owes, its kind, revenue share and payment risk (``bot.commands.data.show_client``,
    one core summary), and how to change its kind."""
    shown = await data.show_client(scope, command, client)
    found = await find_client(scope.db, account_id=scope.account.id, name=command.name)
    if found is None:
        return shown
    hint = f"Change its kind with `/tamio client \"{escape(found.name)}\" strategic|standard`."
    return Reply(shown.text, [*(shown.blocks or []), section(hint)])


async def set_client_relationship(scope: Scope, command: parse.SetClientRelationship, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.MANAGE_DATA, "set how a client is treated")
    found, old = await set_relationship(scope.db, account=scope.account, member=scope.member, name=command.name,
                                        relationship=command.relationship, settings=scope.settings, today=scope.today, now=scope.now)
    kind = found.relationship_type
    word = RELATIONSHIP_WORD[kind] if kind else "standard"
    if old == kind:
        text = f"*{escape(found.name)}* is already a {word} client; nothing changed."
    else:
        why = TONE.get(kind) if kind else None
        text = f":white_check_mark: *{escape(found.name)}* is now a {word} client" + (f": {why}." if why else ".")
    return Reply(text, [section(text)])


async def set_vendor(scope: Scope, command: parse.SetVendorTerms, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.MANAGE_DATA, "set how a vendor can be paid")
    bucket = await set_vendor_terms(scope.db, account=scope.account, member=scope.member, name=command.name,
                                    flexibility=command.flexibility, critical=command.critical, settings=scope.settings,
                                    today=scope.today, now=scope.now)
    movable = bucket.flexibility_level in (FlexibilityLevel.CAN_DELAY, FlexibilityLevel.NEGOTIABLE) and bucket.criticality != Criticality.CRITICAL
    effect = ("Tamio may offer to delay its payments when cash runs short." if movable
              else "Tamio never offers to delay its payments.")
    text = f":white_check_mark: *{escape(bucket.name)}*: {describe_vendor(bucket)}. {effect}"
    return Reply(text, [section(text)])


def _rule_line(view: DetectionRuleView, currency: str) -> str:
    return f"*{view.detection_type.value.replace('_', ' ')}* `{view.detection_type.value}`: {view.describe(lambda v: money(v, currency))}"


async def show_detection(scope: Scope, command: parse.ShowDetection, client: AsyncWebClient, note: str | None = None) -> Reply:
    views = await list_detection_rules(scope.db, account_id=scope.account.id)
    lines = [_rule_line(v, scope.account.base_currency) for v in views]
    blocks = [header("Detection rules"), section("\n".join(lines)),
              section("Change one with `/tamio detection RULE on|off|threshold N|threshold none` (admins).")]
    if note:
        blocks.insert(0, section(note))
    return Reply(note or "Detection rules", blocks)


async def set_detection(scope: Scope, command: parse.SetDetection, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.CHANGE_SETTINGS, "change detection rules")
    view = await update_detection_rule(scope.db, account=scope.account, member=scope.member, detection_type=command.rule,
                                       changes=dict(command.changes), now=scope.now)
    note = f":white_check_mark: {_rule_line(view, scope.account.base_currency)}."
    return await show_detection(scope, parse.ShowDetection(), client, note)
