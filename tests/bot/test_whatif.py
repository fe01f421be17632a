"""``/tamio whatif`` through the bot harness: the scenario beside today's forecast with a chart of both
lines, the weekly difference and one sentence; Save (approvers, audited) and Share; bad input gets
the same messages as ``/tamio add``; nothing stored changes."""

from __future__ import annotations

from sqlalchemy import func, select

from slack_sandbox.blockkit_limits import message_block_errors, view_errors
from tamio.audit.models import AuditLog
from tamio.obligations.models import ObligationAgreement, ObligationSchedule
from tamio.scenarios.models import SavedScenario
from tests.bot.conftest import ADMIN, CHANNEL, VIEWER, BotHarness


async def count(bot: BotHarness, model: type) -> int:
    async with bot.sessions() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


async def test_whatif_answers_with_both_lines_the_difference_and_the_change(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 48250')
    await bot.command(ADMIN, 'add payroll "Payroll" 21000 semimonthly from 2026-12-07')
    await bot.command(ADMIN, 'add client "Acme Corp" 12000 once from 2026-12-09')
    await bot.command(ADMIN, "forecast")
    stored = (await count(bot, ObligationSchedule), await count(bot, ObligationAgreement), await count(bot, AuditLog))
    reply = await bot.command(ADMIN, 'whatif hire "Engineer" 8000 monthly from 2027-01-01; late "Acme Corp" 30')
    assert reply.status == 200
    await bot.settle()
    shown = bot.ephemerals_for(ADMIN)[-1]
    blocks = shown["blocks"]
    assert message_block_errors(blocks) == []
    text = str(blocks)
    assert blocks[0]["type"] == "header" and "What if" in blocks[0]["text"]["text"]
    assert "Acme Corp pays 30 days later" in text and "add payroll Engineer" in text
    assert "The lowest point goes from" in text and "runway goes from" in text
    assert "Today" in text and "What if" in text and "Change" in text
    assert any(b["type"] == "image" for b in blocks)
    upload = list(bot.slack.uploads.values())[-1]
    assert upload.content is not None and upload.content.startswith(b"\x89PNG")
    buttons = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [e["text"]["text"] for e in buttons] == ["Save", "Share in channel", "Make it real"]
    assert (await count(bot, ObligationSchedule), await count(bot, ObligationAgreement), await count(bot, AuditLog)) == stored

    await bot.sender.block_action(VIEWER, CHANNEL, shown["ts"], [{"action_id": "whatif_save", "value": buttons[0]["value"]}], is_ephemeral=True)
    await bot.settle()
    assert await count(bot, SavedScenario) == 0
    await bot.sender.block_action(ADMIN, CHANNEL, shown["ts"], [{"action_id": "whatif_save", "value": buttons[0]["value"]}], is_ephemeral=True)
    await bot.settle()
    form = next(v for v in bot.slack.views.values() if v.get("callback_id") == "whatif_save_form")
    assert view_errors({k: form[k] for k in ("type", "title", "submit", "close", "blocks", "callback_id")}) == []
    name_input = form["blocks"][0]["element"]
    assert name_input["initial_value"] == 'hire "Engineer" 8000 monthly from 2027-01-01; late "Acme Corp" 30'  # suggested from the changes
    assert await count(bot, SavedScenario) == 0  # nothing saved until it is named
    blank = await bot.sender.view_submission(ADMIN, {"id": form["id"], "state": {"values": {
        "name": {"name": {"type": "plain_text_input", "value": "   "}}}}})
    assert blank.json()["response_action"] == "errors" and "name" in blank.json()["errors"]
    await bot.sender.view_submission(ADMIN, {"id": form["id"], "state": {"values": {
        "name": {"name": {"type": "plain_text_input", "value": "Hire in January"}}}}})
    await bot.settle()
    assert await count(bot, SavedScenario) == 1
    assert "Saved as scenario *Hire in January*" in str(bot.ephemerals_for(ADMIN)[-1])
    await bot.sender.block_action(ADMIN, CHANNEL, shown["ts"], [{"action_id": "whatif_save", "value": buttons[0]["value"]}], is_ephemeral=True)
    await bot.settle()
    again = [v for v in bot.slack.views.values() if v.get("callback_id") == "whatif_save_form"][-1]
    taken = await bot.sender.view_submission(ADMIN, {"id": again["id"], "state": {"values": {
        "name": {"name": {"type": "plain_text_input", "value": "hire in january"}}}}})
    assert taken.json()["response_action"] == "errors", taken.text
    assert "already exists" in taken.json()["errors"]["name"] and "another name" in taken.json()["errors"]["name"]
    assert await count(bot, SavedScenario) == 1  # a name is never silently overwritten from Slack
    await bot.sender.app_home_opened(ADMIN)
    await bot.settle()
    home = str(bot.slack.home_views[ADMIN]["blocks"])
    assert "Saved what-ifs, on today's figures" in home and "Hire in January" in home and "lowest -$65,750.00 → -$89,750.00" in home and "runway" in home

    await bot.sender.block_action(ADMIN, CHANNEL, shown["ts"], [{"action_id": "whatif_share", "value": buttons[1]["value"]}], is_ephemeral=True)
    await bot.settle()
    posted = [m for m in bot.slack.messages(CHANNEL) if "What if" in str(m.get("blocks"))]
    assert posted and "Shared by <@UADMIN>" in str(posted[-1]["blocks"])


async def test_bad_whatif_input_gets_the_add_messages(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add client "Acme Corp" 12000 once from 2026-12-09')
    await bot.command(ADMIN, 'whatif expense "AWS" 12,00.5')
    said = bot.ephemerals_for(ADMIN)[-1]["text"]
    assert "I couldn't read the amount `12,00.5`." in said
    await bot.command(ADMIN, 'add expense "AWS" 12,00.5')
    assert "I couldn't read the amount `12,00.5`." in bot.ephemerals_for(ADMIN)[-1]["text"]
    await bot.command(ADMIN, 'whatif late "Nobody Ltd" 30')
    await bot.settle()
    assert "There is no client called `Nobody Ltd`." in bot.ephemerals_for(ADMIN)[-1]["text"]


async def test_make_it_real_adds_the_obligations_for_approvers_only(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add client "Acme Corp" 12000 once from 2026-12-09')
    await bot.command(ADMIN, 'whatif expense "Rent" 1800 monthly on 28; late "Acme Corp" 30')
    await bot.settle()
    shown = bot.ephemerals_for(ADMIN)[-1]
    real = next(e for b in shown["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "whatif_make_real")
    agreements = await count(bot, ObligationAgreement)
    await bot.sender.block_action(VIEWER, CHANNEL, shown["ts"], [{"action_id": "whatif_make_real", "value": real["value"]}], is_ephemeral=True)
    await bot.settle()
    assert await count(bot, ObligationAgreement) == agreements
    await bot.sender.block_action(ADMIN, CHANNEL, shown["ts"], [{"action_id": "whatif_make_real", "value": real["value"]}], is_ephemeral=True)
    await bot.settle()
    assert await count(bot, ObligationAgreement) == agreements + 1
    said = bot.ephemerals_for(ADMIN)[-1]["text"]
    assert "Rent" in said and "The what-if's other change stays hypothetical." in said
    async with bot.sessions() as db:
        audited = (await db.execute(select(func.count()).select_from(AuditLog).where(AuditLog.entity_type == "obligation_agreement"))).scalar_one()
    assert audited >= 2


async def test_the_issue_example_hire_from_march_is_answered(bot: BotHarness) -> None:
    # Issue 21's own words: `hire` is payroll and "March" (on 7 Dec 2026) is the 1st of March 2027.
    await bot.command(ADMIN, 'balance set "Operating" 48250')
    await bot.command(ADMIN, 'add client "Acme Corp" 12000 once from 2026-12-09')
    stored = (await count(bot, ObligationSchedule), await count(bot, ObligationAgreement))
    reply = await bot.command(ADMIN, 'whatif hire "Engineer" 8000 monthly from March')
    assert reply.status == 200
    await bot.settle()
    blocks = bot.ephemerals_for(ADMIN)[-1]["blocks"]
    assert message_block_errors(blocks) == []
    text = str(blocks)
    assert blocks[0]["type"] == "header" and "What if" in blocks[0]["text"]["text"]
    assert "add payroll Engineer" in text and "The lowest point goes from" in text
    assert any(b["type"] == "image" for b in blocks)
    assert (await count(bot, ObligationSchedule), await count(bot, ObligationAgreement)) == stored
    same = await bot.command(ADMIN, 'whatif hire "Engineer" 8000 monthly from 2027-03-01')
    assert same.status == 200
    await bot.settle()
    def said(shown: list[dict[str, object]]) -> list[dict[str, object]]:  # the words, without the upload's id or the buttons' keys
        return [b for b in shown if b["type"] not in ("image", "actions")]
    assert said(bot.ephemerals_for(ADMIN)[-1]["blocks"]) == said(blocks)  # the same forecast as the ISO date

    await bot.command(ADMIN, 'whatif hire "Engineer" 8000 monthly from Marhc')
    refused = bot.ephemerals_for(ADMIN)[-1]["text"]
    assert "I couldn't read 'Marhc' as a date; write it as YYYY-MM-DD, like 2026-12-01, or a month, like March or 15 March." in refused
