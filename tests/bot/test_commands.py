"""``/tamio`` subcommands over real signed HTTP: what the stand-in shows and what the database holds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from slack_sandbox.blockkit_limits import message_block_errors
from tamio.accounts.models import Account, Member, Role, SafetyMode, UserConfiguration
from tamio.audit.models import AuditLog
from tamio.currency.service import add_rate
from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, PaymentEvent, ScheduleStatus
from tamio.obligations.payments import record_payment
from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, VIEWER, BotHarness
from tests.service.books import Books, at
from tests.service.test_payment_matching import invoice

pytestmark = pytest.mark.backends("sqlite")


def last_text(bot: BotHarness, user: str) -> str:
    shown = bot.ephemerals_for(user)[-1]
    return shown["text"] + " " + str(shown.get("blocks") or "")


async def count(bot: BotHarness, model: type) -> int:
    async with bot.sessions() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


async def test_add_with_arguments_as_the_issue_writes_them(bot: BotHarness) -> None:
    async with bot.sessions() as db, db.begin():
        await add_rate(db, base_currency="EUR", quote_currency="USD", rate=Decimal("1.08"), rate_date=date(2026, 12, 4), account_id=None)
    await bot.command(ADMIN, 'add expense "AWS" 1200 USD monthly on 15 from 2026-12-10')
    assert "Added *AWS* (expense): $1,200.00 monthly on the 15th, first due Tue 15 Dec" in last_text(bot, ADMIN)
    await bot.command(ADMIN, "add client “Acme Corp” 5000 EUR monthly on -1")  # curly quotes, as Slack's clients type them
    assert "Acme Corp" in last_text(bot, ADMIN) and "€5,000.00 ($5,400.00) monthly on the last day" in last_text(bot, ADMIN)
    await bot.command(ADMIN, 'add payroll "Payroll" 42000 semimonthly')
    assert "semi-monthly on the 15th and last day" in last_text(bot, ADMIN)
    async with bot.sessions() as db:
        aws = (await db.execute(select(ExpenseBucket).where(ExpenseBucket.name == "AWS"))).scalar_one()
        acme = (await db.execute(select(Client).where(Client.name == "Acme Corp"))).scalar_one()
        payroll = (await db.execute(select(ExpenseBucket).where(ExpenseBucket.name == "Payroll"))).scalar_one()
        assert (aws.currency, acme.currency, payroll.category.value) == ("USD", "EUR", "payroll")
        agreements = (await db.execute(select(ObligationAgreement).order_by(ObligationAgreement.created_at))).scalars().all()
        assert [a.rrule for a in agreements] == ["FREQ=MONTHLY;BYMONTHDAY=15", "FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=MONTHLY;BYMONTHDAY=15,-1"]
        assert agreements[0].start_date == date(2026, 12, 10)
        first_due = (await db.execute(select(func.min(ObligationSchedule.due_date)).where(
            ObligationSchedule.obligation_id == agreements[0].id))).scalar_one()
        assert first_due == date(2026, 12, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frobnicate", "I don't know `frobnicate`"),
        ('add expense "AWS" 12,00.5 USD monthly', "I couldn't read the amount `12,00.5`"),
        ('add expense "AWS" 1200 XYZ monthly', "`XYZ` is not a currency I know"),
        ('add expense "AWS" 1200 USD monthly from 2020-11-01', "The start date 2020-11-01 is more than 5 years ago"),
        ('add expense "AWS 1200 USD monthly', "a quote is not closed"),
        ('paid "Acme Corp" 5000 on 2026-12-31', "is in the future"),
        ("forecast 99", "is not a number of weeks"),
        ("role @vic approver", "is not a mention"),
    ],
)
async def test_bad_input_says_what_was_wrong_shows_the_right_form_and_writes_nothing(bot: BotHarness, text: str, expected: str) -> None:
    await bot.command(ADMIN, "help")  # the account and the admin exist
    audit_before = await count(bot, AuditLog)
    reply = await bot.command(ADMIN, text)
    assert reply.status == 200
    shown = last_text(bot, ADMIN)
    assert expected in shown and ":warning:" in shown
    assert "Example: `/tamio" in shown or "Write it as `/tamio" in shown
    assert await count(bot, AuditLog) == audit_before
    assert await count(bot, ExpenseBucket) == 0 and await count(bot, PaymentEvent) == 0


async def test_balance_set_and_list(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 45000 USD')
    assert "*Operating* now holds $45,000.00" in last_text(bot, ADMIN)
    await bot.command(ADMIN, "config set viewers_see_figures on")  # off by default: tests/bot/test_privacy.py
    await bot.command(ADMIN, 'balance set "Savings" 1,000.50')
    await bot.command(VIEWER, "balance")
    listing = last_text(bot, VIEWER)
    assert "Cash today: *$46,000.50*" in listing and "*Operating*: $45,000.00" in listing and "*Savings*: $1,000.50" in listing


async def test_a_viewer_cannot_write_and_is_told_how_to_get_the_role(bot: BotHarness) -> None:
    await bot.command(ADMIN, "help")
    await bot.command(VIEWER, 'balance set "Operating" 45000 USD')
    refusal = last_text(bot, VIEWER)
    assert "Only approvers and admins can set balances" in refusal and "/tamio role @you approver" in refusal
    assert await count(bot, CashAccount) == 0


async def test_paid_is_matched_to_the_open_schedule(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 10000')
    await bot.command(ADMIN, 'add client "Acme Corp" 5000 once from 2026-12-07')
    await bot.command(ADMIN, 'paid "acme corp" 5000 on 2026-12-07')
    assert "Recorded $5,000.00 from *Acme Corp* on Mon 7 Dec, matched to the payment due Mon 7 Dec (now paid)" in last_text(bot, ADMIN)
    async with bot.sessions() as db:
        schedule = (await db.execute(select(ObligationSchedule))).scalar_one()
        cash = (await db.execute(select(CashAccount))).scalar_one()
    assert schedule.status == ScheduleStatus.PAID and cash.balance == Decimal("15000")
    await bot.command(ADMIN, 'paid "Nobody Ltd" 10')
    assert "There is no client or vendor called `Nobody Ltd`" in last_text(bot, ADMIN)
    await bot.command(ADMIN, 'paid "Acme Crop" 10')
    assert "Did you mean `Acme Corp`?" in last_text(bot, ADMIN)


async def test_paid_for_an_invoice_pays_that_one_and_says_what_else_is_open(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 10000')
    await bot.command(ADMIN, 'add client "Acme Corp" 5000 once from 2026-12-09')
    await bot.command(ADMIN, 'add client "Acme Corp" 3000 once from 2026-12-16')
    await bot.command(ADMIN, 'paid "Acme Corp" 3000 for 2026-12-16')
    assert "matched to the payment due Wed 16 Dec (now paid)" in last_text(bot, ADMIN)
    await bot.command(ADMIN, 'paid "Acme Corp" 500 for INV-9')
    assert "Acme Corp has no open invoice `INV-9`. Open: 2026-12-09 (due Wed 9 Dec 2026, $5,000.00 open)." in last_text(bot, ADMIN)
    await bot.command(ADMIN, 'paid "Acme Corp" 5600')
    text = last_text(bot, ADMIN)
    assert "matched to the payment due Wed 9 Dec (now paid). $600.00 more than was owed is kept as an overpayment (unexpected revenue)." in text
    await bot.command(ADMIN, 'paid "Acme Corp" 40 on 2026-12-01')
    assert "Nothing of theirs was open to match it, so it is kept as an unmatched payment (unexpected revenue)." in last_text(bot, ADMIN)
    async with bot.sessions() as db:
        cash = (await db.execute(select(CashAccount))).scalar_one()
    assert cash.balance == Decimal("18640")


async def test_config_show_and_set_for_admins_only(bot: BotHarness) -> None:
    await bot.command(ADMIN, "config set safety_mode conservative")
    assert "Safety mode is now conservative (was normal)" in last_text(bot, ADMIN)
    await bot.command(ADMIN, "config set buffer 12,000")
    await bot.command(ADMIN, "config set payroll_buffer_percent 15%")
    await bot.command(VIEWER, "config set safety_mode aggressive")
    assert "Only admins can change settings" in last_text(bot, VIEWER)
    await bot.command(ADMIN, "config set viewers_see_figures on")
    await bot.command(VIEWER, "config")
    shown = last_text(bot, VIEWER)
    assert "conservative" in shown and "$12,000.00" in shown and "`payroll_buffer_percent`" in shown
    async with bot.sessions() as db:
        config = (await db.execute(select(UserConfiguration))).scalar_one()
    assert (config.safety_mode, config.obligations_buffer_amount, config.payroll_buffer_percent) == (
        SafetyMode.CONSERVATIVE, Decimal("12000"), Decimal("15"))


@pytest.mark.parametrize(
    ("key", "typed", "stored"),
    [
        ("obligations_buffer_amount", "15000", Decimal("15000")),
        ("runway_buffer_months", "4", 4),
        ("late_payment_threshold_days", "10", 10),
        ("unexpected_expense_threshold_pct", "25", Decimal("25")),
        ("payroll_check_days_before", "5", 5),
        ("payroll_buffer_percent", "12", Decimal("12")),
        ("payment_cluster_threshold_pct", "45", Decimal("45")),
        ("dual_approval_threshold", "20000", Decimal("20000")),
    ],
)
async def test_each_threshold_is_set_by_an_admin_and_setting_it_again_writes_nothing(
    bot: BotHarness, key: str, typed: str, stored: object
) -> None:
    await bot.command(ADMIN, f"config set {key} {typed}")
    assert "is now" in last_text(bot, ADMIN)
    async with bot.sessions() as db:
        config = (await db.execute(select(UserConfiguration))).scalar_one()
        account = (await db.execute(select(Account))).scalar_one()
    assert getattr(config if key != "dual_approval_threshold" else account, key) == stored
    audits = await count(bot, AuditLog)
    await bot.command(ADMIN, f"config set {key} {typed}")
    assert "is already" in last_text(bot, ADMIN) and "nothing changed" in last_text(bot, ADMIN)
    assert await count(bot, AuditLog) == audits


async def test_digest_here_and_role(bot: BotHarness) -> None:
    await bot.command(ADMIN, "digest here")
    posted = bot.slack.messages(CHANNEL)[-1]
    assert "alerts, action cards and the daily digest in this channel" in posted["text"]
    await bot.command(ADMIN, f"role <@{APPROVER}|sam> approver")
    assert f"<@{APPROVER}> is now an approver" in last_text(bot, ADMIN)
    await bot.command(APPROVER, f"role <@{VIEWER}|vic> admin")
    assert "Only admins can change roles" in last_text(bot, APPROVER)
    async with bot.sessions() as db:
        account = (await db.execute(select(Account))).scalar_one()
        roles = {m.slack_user_id: m.role for m in (await db.execute(select(Member))).scalars()}
    assert account.digest_channel_id == CHANNEL
    assert roles[APPROVER] == Role.APPROVER and roles[ADMIN] == Role.ADMIN


async def test_forecast_is_visible_to_the_caller_with_its_chart_and_shares_in_the_channel(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 48250')
    await bot.command(ADMIN, 'add payroll "Payroll" 42000 semimonthly from 2026-12-07')
    await bot.command(ADMIN, 'add client "Acme Corp" 12000 once from 2026-12-09')
    reply = await bot.command(ADMIN, "forecast")
    assert reply.status == 200
    dm = bot.slack.dm_channel(ADMIN)
    upload = next(iter(bot.slack.uploads.values()))
    assert upload.content is not None and upload.content.startswith(b"\x89PNG") and dm in upload.channels
    shown = bot.ephemerals_for(ADMIN)[-1]
    blocks = shown["blocks"]
    assert message_block_errors(blocks) == []
    assert blocks[0]["type"] == "header" and "13 weeks from Mon 7 Dec" in blocks[0]["text"]["text"]
    assert any(b["type"] == "image" and b["slack_file"]["id"] == upload.file_id for b in blocks)
    table = next(b["text"]["text"] for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("```"))
    assert "Week" in table and "7 Dec" in table and "07 Dec" not in table and "48,250" in str(blocks)
    share = next(b for b in blocks if b["type"] == "actions")
    assert [e["text"]["text"] for e in share["elements"]] == ["Share in channel", "Open App Home"]

    await bot.sender.block_action(ADMIN, CHANNEL, shown["ts"], [{"action_id": "forecast_share"}], is_ephemeral=True)
    await bot.settle()
    posted = bot.slack.messages(CHANNEL)[-2:]
    assert posted[0]["blocks"][0]["type"] == "header" and "Shared by <@UADMIN>" in str(posted[0]["blocks"])
    assert posted[1]["thread_ts"] == posted[0]["ts"] and posted[1]["files"][0]["name"] == "cash-forecast.png"
    assert "Shared in <#C0FINANCE>" in str(bot.ephemerals_for(ADMIN)[-1]["blocks"])


async def test_fifty_two_weeks_of_large_amounts_stay_within_block_kit_limits(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 9,999,999,999')
    await bot.command(ADMIN, 'add expense "Big" 123456789.12 weekly')
    await bot.command(ADMIN, "forecast 52")
    blocks = bot.ephemerals_for(ADMIN)[-1]["blocks"]
    assert message_block_errors(blocks) == []
    assert sum(b["text"]["text"].count("\n") for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("```")) >= 52


async def test_a_failure_halfway_leaves_nothing_behind(bot: BotHarness) -> None:
    # The client row is written before the missing EUR->USD rate stops its billing line: all of it rolls back.
    await bot.command(ADMIN, 'add client "Euro Client" 5000 EUR monthly on -1')
    shown = last_text(bot, ADMIN)
    assert "no exchange rate from EUR to USD" in shown and "nothing was saved" in shown
    assert await count(bot, Client) == 0 and await count(bot, ObligationAgreement) == 0


async def test_contact_sets_whom_follow_up_emails_go_to(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add client "Acme Corp" 5000 monthly on -1')
    await bot.command(ADMIN, 'add expense "Cloud Host" 300 monthly on 15')
    await bot.command(ADMIN, f"role <@{APPROVER}|sam> approver")
    audits = await count(bot, AuditLog)

    await bot.command(VIEWER, 'contact "Acme Corp" ap@acme.example')
    assert "Only approvers and admins can set contact emails" in last_text(bot, VIEWER)
    await bot.command(APPROVER, 'contact "Acme Corp" ap@acme')
    assert "`ap@acme` is not an email address; write it like ap@client.com." in last_text(bot, APPROVER)
    await bot.command(APPROVER, 'contact "Nobody" ap@nobody.example')
    assert "There is no client or expense called `Nobody`" in last_text(bot, APPROVER)
    assert await count(bot, AuditLog) == audits

    # As Slack sends it (should_escape): the address is a mailto link.
    await bot.command(APPROVER, 'contact "acme corp" <mailto:ap@acme.example|ap@acme.example> "Jane Doe"')
    assert "Follow-up emails to *Acme Corp* (client) now go to ap@acme.example (Jane Doe)." in last_text(bot, APPROVER)
    await bot.command(APPROVER, 'contact expense "Cloud Host" ops@cloud.example')
    assert "*Cloud Host* (expense) now go to ops@cloud.example." in last_text(bot, APPROVER)
    await bot.command(APPROVER, 'contact "Cloud Host" ops@cloud.example')
    assert "already go to ops@cloud.example; nothing changed" in last_text(bot, APPROVER)
    async with bot.sessions() as db:
        acme = (await db.execute(select(Client))).scalar_one()
        cloud = (await db.execute(select(ExpenseBucket))).scalar_one()
        changes = [a.changes["changes"] for a in (await db.execute(select(AuditLog).where(AuditLog.action == "update"))).scalars()]
    assert (acme.contact_email, acme.contact_name, cloud.contact_email) == ("ap@acme.example", "Jane Doe", "ops@cloud.example")
    assert {"contact_email": {"old": None, "new": "ap@acme.example"}, "contact_name": {"old": None, "new": "Jane Doe"}} in changes
    assert await count(bot, AuditLog) == audits + 2

    async with bot.sessions() as db, db.begin():
        cloud = (await db.execute(select(ExpenseBucket))).scalar_one()
        cloud.locked_fields, cloud.source = ["contact_email"], "xero"
    await bot.command(APPROVER, 'contact "Cloud Host" help@cloud.example')
    assert "`contact_email` of Cloud Host comes from Xero, which owns it; change it there and sync." in last_text(bot, APPROVER)
    await bot.command(VIEWER, "help")
    assert '/tamio contact "Acme Corp" ap@acme.example' in last_text(bot, VIEWER)


async def test_client_says_how_it_pays_and_what_it_owes(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 10000')
    async with bot.sessions() as db, db.begin():  # invoices from before today: entered as Xero would sync them
        account = (await db.execute(select(Account))).scalar_one()
        books = Books(db, account, date(2026, 12, 7))
        acme = await books.client("Acme & Sons", "5000", books.every("once", date(2026, 11, 1)))
        await invoice(books, acme, "3000", date(2026, 11, 20), "INV-7")
        await record_payment(db, account=account, amount=Decimal("5000"), currency="USD", payment_date=date(2026, 11, 21), counterparty=acme,
                             invoice="2026-11-01", now=at(date(2026, 11, 21)))
    await bot.command(VIEWER, 'client "acme & sons"')
    shown = bot.ephemerals_for(VIEWER)[-1]
    assert shown["text"].startswith("Acme & Sons: usually pays") and "(learned from 1 paid invoice)" in shown["text"]
    text = str(shown["blocks"])
    assert "*Acme &amp; Sons* usually pays" in text and "Open: $3,000.00 in 1 invoice" in text and "INV-7" in text and "17 days late" in text
    assert message_block_errors(shown["blocks"]) == []
    await bot.command(VIEWER, 'client "Nobody"')
    assert "There is no client called `Nobody`" in last_text(bot, VIEWER) and "Acme &amp; Sons" in last_text(bot, VIEWER)


async def test_forecast_accuracy_before_any_morning_says_how_to_get_one(bot: BotHarness) -> None:
    await bot.command(VIEWER, "forecast accuracy")
    shown = bot.ephemerals_for(VIEWER)[-1]
    assert shown["text"].startswith("No stored forecast has reached its week yet.")
    text = str(shown["blocks"])
    assert "Ahead" in text and "13 weeks" in text and message_block_errors(shown["blocks"]) == []
    await bot.command(VIEWER, "forecast accuracy 200")
    assert "is not a number of weeks to look back" in last_text(bot, VIEWER)
