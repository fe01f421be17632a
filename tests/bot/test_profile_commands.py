"""``/tamio client``, ``vendor`` and ``detection`` (issue 19 item 7): the fields that drive preparation, set from Slack."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tamio.audit.models import AuditLog
from tamio.data.models import Client, Criticality, ExpenseBucket, FlexibilityLevel, RelationshipType
from tamio.detection.models import DetectionRule, DetectionType
from tests.bot.conftest import ADMIN, APPROVER, VIEWER, BotHarness

pytestmark = pytest.mark.backends("sqlite")


def last_text(bot: BotHarness, user: str) -> str:
    shown = bot.ephemerals_for(user)[-1]
    return shown["text"] + " " + str(shown.get("blocks") or "")


async def test_a_client_is_made_strategic_from_slack_and_shows_its_share_and_risk(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add client "Acme Corp" 6000 monthly on 1')
    await bot.command(ADMIN, 'add client "Beta LLC" 2000 monthly on 1')
    await bot.command(ADMIN, 'client "acme corp" strategic')
    assert "*Acme Corp* is now a strategic client: chases use the gentler tone" in last_text(bot, ADMIN)
    await bot.command(ADMIN, 'client "Acme Corp"')
    shown = last_text(bot, ADMIN)
    assert "strategic client" in shown and "75.0 % of what is expected in the next 12 months" in shown
    await bot.command(VIEWER, 'client "Beta LLC" strategic')
    assert "Only approvers and admins can set how a client is treated" in last_text(bot, VIEWER)
    await bot.command(ADMIN, 'client "Acme Corp" premium')
    assert "`premium` is not a kind of client I know" in last_text(bot, ADMIN)
    async with bot.sessions() as db:
        kinds = {c.name: c.relationship_type for c in (await db.execute(select(Client))).scalars()}
        audited = (await db.execute(select(AuditLog).where(AuditLog.entity_type == "client", AuditLog.action == "update"))).scalars().all()
    assert kinds == {"Acme Corp": RelationshipType.STRATEGIC, "Beta LLC": None}
    assert len(audited) == 1


async def test_a_vendor_becomes_a_delay_candidate_or_never_one(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add expense "Cloud Host" 900 monthly on 20')
    await bot.command(ADMIN, f"role <@{APPROVER}|sam> approver")
    await bot.command(APPROVER, 'vendor "Cloud Host" can-delay')
    assert "*Cloud Host*: can-delay. Tamio may offer to delay its payments" in last_text(bot, APPROVER)
    await bot.command(APPROVER, 'vendor "Cloud Host" critical')
    assert "can-delay · critical. Tamio never offers to delay its payments." in last_text(bot, APPROVER)
    await bot.command(APPROVER, 'vendor "Cloud Host" sometimes')
    assert "I can't read `sometimes` here" in last_text(bot, APPROVER)
    await bot.command(APPROVER, 'vendor "Nobody" can-delay')
    assert "There is no vendor called `Nobody`" in last_text(bot, APPROVER)
    async with bot.sessions() as db:
        bucket = (await db.execute(select(ExpenseBucket))).scalar_one()
    assert (bucket.flexibility_level, bucket.criticality) == (FlexibilityLevel.CAN_DELAY, Criticality.CRITICAL)


async def test_admins_switch_detection_rules_off_and_rethreshold_them(bot: BotHarness) -> None:
    await bot.command(ADMIN, "detection late_payment threshold 10")
    shown = last_text(bot, ADMIN)
    assert "`late_payment`: on · threshold 10 days (set here)" in shown and "Detection rules" in shown
    await bot.command(ADMIN, "detection unexpected_expense off")
    await bot.command(ADMIN, f"role <@{APPROVER}|sam> approver")
    await bot.command(APPROVER, "detection late_payment off")
    assert "Only admins can change detection rules" in last_text(bot, APPROVER)
    await bot.command(ADMIN, "detection late_payment threshold 2.5")
    assert "counts whole days" in last_text(bot, ADMIN)
    await bot.command(ADMIN, "detection lateness off")
    assert "There is no detection rule `lateness`. Rules: late_payment" in last_text(bot, ADMIN)
    await bot.command(ADMIN, "detection")
    listing = last_text(bot, ADMIN)
    assert "`unexpected_expense`: off" in listing and "`buffer_breach`: on · threshold $0.00 (from the configuration)" in listing
    async with bot.sessions() as db:
        rules = {r.detection_type: (r.enabled, r.threshold_override) for r in (await db.execute(select(DetectionRule))).scalars()}
    assert rules == {DetectionType.LATE_PAYMENT: (True, Decimal("10")), DetectionType.UNEXPECTED_EXPENSE: (False, None)}


async def test_the_add_form_sets_a_vendors_terms_and_a_clients_kind(bot: BotHarness) -> None:
    from tests.bot.test_home_and_forms import picked, select_option, state, text

    await bot.command(ADMIN, "add")
    view = next(iter(bot.slack.views.values()))
    blocks = {b.get("block_id") for b in view["blocks"]}
    assert {"relationship", "flexibility", "critical"} <= blocks
    base = state(kind=select_option("expense"), counterparty=select_option("new:Cloud Host", "external_select"), amount=text("900"),
                 currency=text("USD"), frequency=select_option("monthly"), day=text(""), start_date=picked("2026-12-20"),
                 end_date=picked(None), convention=select_option("none"))["values"]
    wrong = {**base, **state(relationship=select_option("strategic"))["values"]}
    refused = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": wrong}})
    assert set(refused.json()["errors"]) == {"relationship"}
    critical = {"type": "checkboxes", "selected_options": [{"text": {"type": "plain_text", "text": "x"}, "value": "critical"}]}
    good = {**base, **state(flexibility=select_option("negotiable"), critical=critical)["values"]}
    accepted = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": good}})
    await bot.settle()
    assert accepted.status == 200, accepted.text
    assert "Its payments: negotiable · critical." in bot.ephemerals_for(ADMIN)[-1]["text"]

    await bot.command(ADMIN, "add")
    view = list(bot.slack.views.values())[-1]
    client = {**base, **state(kind=select_option("client"), counterparty=select_option("new:Acme Corp", "external_select"),
                              relationship=select_option("strategic"))["values"]}
    accepted = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": client}})
    await bot.settle()
    assert "A strategic client." in bot.ephemerals_for(ADMIN)[-1]["text"]
    async with bot.sessions() as db:
        bucket = (await db.execute(select(ExpenseBucket))).scalar_one()
        acme = (await db.execute(select(Client))).scalar_one()
    assert (bucket.flexibility_level, bucket.criticality, acme.relationship_type) == (
        FlexibilityLevel.NEGOTIABLE, Criticality.CRITICAL, RelationshipType.STRATEGIC)


async def test_app_home_opens_clients_and_vendors_for_approvers_and_saves_through_the_core(bot: BotHarness) -> None:
    from tests.bot.test_home_and_forms import select_option

    await bot.command(ADMIN, 'add expense "Cloud Host" 900 monthly on 20')
    await bot.command(ADMIN, 'add client "Acme Corp" 5000 monthly on 1')
    await bot.sender.app_home_opened(ADMIN)
    await bot.sender.app_home_opened(VIEWER)
    await bot.settle()
    assert "home_terms" in str(bot.slack.home_views[ADMIN]["blocks"]) and "home_terms" not in str(bot.slack.home_views[VIEWER]["blocks"])
    await bot.sender.block_action(ADMIN, None, None, [{"action_id": "home_terms", "value": "terms"}], view=bot.slack.home_views[ADMIN])
    await bot.settle()
    view = next(iter(bot.slack.views.values()))
    assert view["title"]["text"] == "Clients and vendors"
    suggestions = await bot.sender._send_interaction(
        {"type": "block_suggestion", **bot.sender._who(ADMIN), "action_id": "counterparty", "block_id": "counterparty",
         "value": "clo", "view": view, "container": {"type": "view", "view_id": view["id"]}}, None, False, "", None)
    cloud = next(o for o in suggestions.json()["options"] if o["text"]["text"] == "Cloud Host")
    refused = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": {
        "counterparty": {"counterparty": select_option(cloud["value"], "external_select")},
        "relationship": {"relationship": select_option("strategic")}}}})
    assert "Cloud Host is a vendor" in refused.json()["errors"]["relationship"]
    saved = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": {
        "counterparty": {"counterparty": select_option(cloud["value"], "external_select")},
        "flexibility": {"flexibility": select_option("can-delay")}}}})
    await bot.settle()
    assert saved.status == 200 and saved.body == ""
    async with bot.sessions() as db:
        bucket = (await db.execute(select(ExpenseBucket))).scalar_one()
    assert bucket.flexibility_level == FlexibilityLevel.CAN_DELAY


async def test_a_client_that_never_paid_tells_one_story_of_how_it_pays(bot: BotHarness) -> None:
    """The finding: "no paid invoices yet" beside "payment risk medium (21 days late on average)", an average
    of nothing paid. The risk now says it comes from the open invoice, once, from the core summary."""
    await bot.command(ADMIN, 'add client "Late Payer Co" invoice 5000 due 2026-11-16 ref INV-7')
    await bot.command(ADMIN, 'client "Late Payer Co"')
    shown = last_text(bot, ADMIN)
    assert "no paid invoices yet" in shown and "on average" not in shown, shown
    assert shown.count("payment risk medium from its open invoice, 21 days overdue (no invoice paid in the last 12 months)") == 1, shown
    assert 'Change its kind with `/tamio client "Late Payer Co" strategic|standard`.' in shown, shown
