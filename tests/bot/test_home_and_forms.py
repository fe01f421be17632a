"""App Home, its chart URL, and the forms: Add (with autocomplete and field errors), Review, Settings."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from slack_sandbox.blockkit_limits import view_errors
from slack_sandbox.signed import find_element
from tamio.accounts.models import SafetyMode, UserConfiguration
from tamio.data.models import Client, ExpenseBucket
from tamio.preparation.models import ActionStatus
from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, VIEWER, BotHarness
from tests.bot.prepared import Option, account_of, prepare, reload

pytestmark = pytest.mark.backends("sqlite")


def state(**fields: dict) -> dict:
    return {"values": {name: {name: value} for name, value in fields.items()}}


def text(value: str) -> dict:
    return {"type": "plain_text_input", "value": value}


def select_option(value: str, kind: str = "static_select") -> dict:
    return {"type": kind, "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}}


def picked(day: str | None) -> dict:
    return {"type": "datepicker", "selected_date": day}


async def test_app_home_shows_cash_chart_alerts_and_the_queue(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 48250')
    await bot.command(ADMIN, 'add payroll "Payroll" 42000 semimonthly from 2026-12-08')
    await bot.command(ADMIN, "digest here")
    account = await account_of(bot.sessions)
    action = await prepare(bot.sessions, account.id, title="Acme Corp is 16 days late", options=[Option("Chase Acme Corp", subject="Overdue", body="Hi", email="ap@acme.example")])
    await bot.sender.app_home_opened(ADMIN)
    await bot.settle()
    home = bot.slack.home_views[ADMIN]
    assert view_errors({k: home[k] for k in ("type", "blocks")}) == []
    shown = str(home["blocks"])
    assert "Tamio · " in shown and "Today *$48,250.00*" in shown and "Runway" in shown
    assert "Open alerts" in shown and "Acme Corp is 16 days late" in shown and ":large_yellow_circle: *This week* (1)" in shown
    assert "Waiting for you (1)" in shown and f"<#{CHANNEL}>" in shown and "Settings" in shown
    chart = next(b for b in home["blocks"] if b["type"] == "image")
    async with aiohttp.ClientSession() as http, http.get(chart["image_url"]) as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert (await response.read()).startswith(b"\x89PNG")
    async with aiohttp.ClientSession() as http, http.get(chart["image_url"].replace(".png", "x.png")) as response:
        assert response.status == 404

    # Approve from Home: the recommended option, and Home is published again for every member.
    publishes = len(bot.slack.calls_to("views.publish"))
    await bot.sender.block_action(ADMIN, None, None, [{"action_id": "card_approve", "value": action.id}], view=home)
    await bot.settle()
    assert (await reload(bot.sessions, action.id)).status != ActionStatus.PENDING
    assert len(bot.slack.calls_to("views.publish")) > publishes
    assert "Waiting for you (0)" in str(bot.slack.home_views[ADMIN]["blocks"])

    await bot.sender.app_home_opened(VIEWER)
    await bot.settle()
    assert "home_settings" not in str(bot.slack.home_views[VIEWER]["blocks"])


async def test_review_opens_the_card_in_a_modal_and_approving_there_updates_it(bot: BotHarness) -> None:
    await bot.command(ADMIN, "help")
    account = await account_of(bot.sessions)
    action = await prepare(bot.sessions, account.id, title="Acme Corp is 16 days late",
                           options=[Option("Chase Acme Corp", subject="Overdue", body="Hi"), Option("Wait a week", kind="none")])
    await bot.sender.app_home_opened(ADMIN)
    await bot.settle()
    home = bot.slack.home_views[ADMIN]
    await bot.sender.block_action(ADMIN, None, None, [{"action_id": "card_review", "value": action.id}], view=home)
    await bot.settle()
    modal = next(iter(bot.slack.views.values()))
    assert modal["title"]["text"] == "Review action" and find_element(modal["blocks"], "card_option")[1] is not None
    await bot.sender.block_action(ADMIN, None, None, [{"action_id": "card_skip", "value": action.id}], view=modal)
    await bot.settle()
    assert (await reload(bot.sessions, action.id)).status == ActionStatus.SKIPPED
    assert "Skipped by <@UADMIN>" in str(bot.slack.views[modal["id"]]["blocks"])


async def test_add_opens_a_form_suggests_counterparties_and_returns_field_errors(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add client "Acme Corp" 5000 monthly on -1')
    reply = await bot.command(ADMIN, "add")
    assert reply.status == 200 and reply.body == ""
    view = next(iter(bot.slack.views.values()))
    assert view["title"]["text"] == "Add to Tamio" and view_errors({k: view[k] for k in ("type", "title", "submit", "close", "blocks", "callback_id")}) == []

    suggestions = await bot.sender._send_interaction(
        {"type": "block_suggestion", **bot.sender._who(ADMIN), "action_id": "counterparty", "block_id": "counterparty",
         "value": "ac", "view": view, "container": {"type": "view", "view_id": view["id"]}}, None, False, "", None)
    options = suggestions.json()["options"]
    assert options[0]["text"]["text"] == "New: ac" and options[1]["text"]["text"] == "Acme Corp"

    bad = state(kind=select_option("expense"), counterparty=select_option("new:AWS", "external_select"), amount=text("12,00.5"),
                currency=text("XYZ"), frequency=select_option("weekly"), day=text("15"), start_date=picked("2026-11-01"),
                end_date=picked(None), convention=select_option("none"))
    refused = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": bad})
    errors = refused.json()["errors"]
    assert refused.json()["response_action"] == "errors"
    # A first date in the past is fine (an invoice already overdue); a day of the month on a weekly amount is not.
    assert set(errors) == {"amount", "currency", "day"}
    assert "1,200.50" in errors["amount"] and "not a currency I know" in errors["currency"] and "monthly" in errors["day"]
    assert not any("`" in message for message in errors.values())  # plain text in Slack: no mrkdwn code marks

    day_wrong = {**bad["values"], **state(amount=text("1200"), currency=text("usd"), start_date=picked("2026-12-10"))["values"]}
    refused = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": day_wrong}})
    assert set(refused.json()["errors"]) == {"day"}

    wrong_kind = {**day_wrong, **state(counterparty=select_option(options[1]["value"], "external_select"), day=text(""))["values"]}
    refused = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": wrong_kind}})
    assert "Acme Corp is a client" in refused.json()["errors"]["counterparty"]

    good = {**day_wrong, **state(day=text(""))["values"]}
    accepted = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": good}})
    await bot.settle()
    assert accepted.status == 200 and accepted.body == ""
    async with bot.sessions() as db:
        aws = (await db.execute(select(ExpenseBucket).where(ExpenseBucket.name == "AWS"))).scalar_one()
        assert aws.amount == 1200 and aws.currency == "USD"
    assert "Added *AWS* (expense): $1,200.00 weekly on Thursday" in bot.ephemerals_for(ADMIN)[-1]["text"]


async def test_a_suggestion_never_offers_another_workspaces_counterparties(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add client "Acme Corp" 5000 monthly on -1')
    other = bot.sender_for("T0OTHER")
    reply = await other._send_interaction(
        {"type": "block_suggestion", **other._who(ADMIN), "action_id": "counterparty", "block_id": "counterparty", "value": "ac",
         "view": {"id": "V1", "type": "modal"}, "container": {"type": "view", "view_id": "V1"}}, None, False, "", None)
    assert [o["text"]["text"] for o in reply.json()["options"]] == ["New: ac"]
    async with bot.sessions() as db:
        assert len((await db.execute(select(Client))).scalars().all()) == 1


async def test_settings_form_for_admins(bot: BotHarness) -> None:
    await bot.command(ADMIN, "help")
    await bot.sender.app_home_opened(ADMIN)
    await bot.settle()
    await bot.sender.block_action(ADMIN, None, None, [{"action_id": "home_settings", "value": "settings"}], view=bot.slack.home_views[ADMIN])
    await bot.settle()
    view = next(iter(bot.slack.views.values()))
    values = {b["block_id"]: b["element"] for b in view["blocks"]}
    submitted = {}
    for key, element in values.items():
        if element["type"] == "static_select":
            submitted[key] = select_option("aggressive")
        else:
            submitted[key] = text(element["initial_value"])
    submitted["runway_buffer_months"] = text("many")
    refused = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": {k: {k: v} for k, v in submitted.items()}}})
    assert list(refused.json()["errors"]) == ["runway_buffer_months"]
    submitted["runway_buffer_months"] = text("4")
    await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": {k: {k: v} for k, v in submitted.items()}}})
    async with bot.sessions() as db:
        config = (await db.execute(select(UserConfiguration))).scalar_one()
    assert (config.safety_mode, config.runway_buffer_months) == (SafetyMode.AGGRESSIVE, 4)
    await bot.command(APPROVER, "help")
    await bot.sender.block_action(APPROVER, None, None, [{"action_id": "home_settings", "value": "settings"}], view=bot.slack.home_views[ADMIN])
    await bot.settle()
    assert len(bot.slack.views) == 1


async def test_the_add_form_takes_an_optional_contact_email(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add expense "Cloud Host" 300 monthly on 15')
    await bot.command(ADMIN, "add")
    view = next(iter(bot.slack.views.values()))
    field = next(b for b in view["blocks"] if b.get("block_id") == "contact_email")
    assert field["optional"] is True and field["element"]["type"] == "email_text_input"

    def filled(counterparty: str, kind: str, email: str) -> dict:
        values = state(kind=select_option(kind), counterparty=select_option(counterparty, "external_select"), amount=text("1200"),
                       currency=text("USD"), frequency=select_option("monthly"), day=text(""), start_date=picked("2026-12-10"),
                       end_date=picked(None), convention=select_option("none"))
        values["values"]["contact_email"] = {"contact_email": {"type": "email_text_input", "value": email}}
        return values

    refused = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": filled("new:Acme Corp", "client", "ap@acme")})
    assert refused.json() == {"response_action": "errors",
                              "errors": {"contact_email": "must be an email address such as ap@client.com"}}
    async with bot.sessions() as db:
        assert (await db.execute(select(Client))).scalars().all() == []

    accepted = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": filled("new:Acme Corp", "client", " ap@acme.example ")})
    await bot.settle()
    assert accepted.status == 200 and accepted.body == ""
    assert "Follow-up emails go to ap@acme.example." in bot.ephemerals_for(ADMIN)[-1]["text"]

    async with bot.sessions() as db, db.begin():  # Cloud Host's address now comes from an integration
        cloud = (await db.execute(select(ExpenseBucket).where(ExpenseBucket.name == "Cloud Host"))).scalar_one()
        cloud.contact_email, cloud.locked_fields, cloud.source = "ops@cloud.example", ["contact_email"], "xero"
        amount_before = cloud.billing_config
    refused = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": filled(f"expense:{cloud.id}", "expense", "new@cloud.example")})
    assert refused.json()["response_action"] == "errors"
    assert "contact_email of Cloud Host comes from Xero" in refused.json()["errors"]["contact_email"]
    async with bot.sessions() as db:
        acme = (await db.execute(select(Client).where(Client.name == "Acme Corp"))).scalar_one()
        cloud = (await db.execute(select(ExpenseBucket).where(ExpenseBucket.name == "Cloud Host"))).scalar_one()
    assert acme.contact_email == "ap@acme.example"
    assert cloud.contact_email == "ops@cloud.example" and cloud.billing_config == amount_before  # nothing half-written
