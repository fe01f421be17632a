"""Block Kit builders stay within Slack's limits whatever the data (checked with the stand-in's rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from bot.blocks.add_form import add_form
from bot.blocks.alerts import alert_sections
from bot.blocks.card import card_blocks
from bot.blocks.draft_form import draft_form
from bot.blocks.home import home_view, queue_item
from bot.blocks.review import review_form
from bot.commands.help import help_blocks
from bot.queries import Approval, CardData, Link
from slack_sandbox.blockkit_limits import message_block_errors, view_errors
from tamio.accounts.models import Account
from tamio.detection.models import AlertSeverity, AlertStatus, DetectionAlert, DetectionType
from tamio.preparation.message_drafting import draft_payroll_contingency_summary
from tamio.preparation.models import ActionOption, ActionStatus, ActionType, LinkType, PreparedAction

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
TODAY = date(2026, 12, 7)
LONG = "Très long nom de fournisseur & <associés> " * 40


def huge_card(status: ActionStatus = ActionStatus.PENDING, action_id: str = "act_1") -> CardData:
    action = PreparedAction(id=action_id, user_id="acct_1", action_type=ActionType.PAYMENT_BATCH, status=status,
                            severity=AlertSeverity.EMERGENCY, title=LONG, summary=LONG * 3, amount=Decimal("123456789012.34"),
                            currency="USD", counterparty_name=LONG, deadline=TODAY, approvals_required=2, version=3,
                            created_at=NOW, decided_at=NOW, executed_at=NOW, execution_result={"summary": LONG * 5, "reason": LONG},
                            last_error=LONG * 5, chosen_option_id="opt_0")
    options = [ActionOption(id=f"opt_{i}", action_id="act_1", rank=i + 1, kind="send_email", title=LONG, description=LONG,
                            risk_level="high", forecast_lowest_balance=Decimal("-987654321.5"), forecast_lowest_week=TODAY,
                            draft_subject=LONG[:300], draft_body="\n".join([LONG] * 50), recipient_email="a@b.example",
                            counterparty_name=LONG) for i in range(14)]
    alert = DetectionAlert(id="alr_1", user_id="acct_1", detection_type=DetectionType.BUFFER_BREACH, severity=AlertSeverity.EMERGENCY,
                           fingerprint="f", entity_type="x", title=LONG, explanation=LONG * 10, amount=Decimal("5"), currency="USD",
                           due_date=TODAY, first_detected_at=NOW, last_detected_at=NOW)
    links = [Link(LinkType.CONFLICTS, i % 2 == 0, f"act_{i}", LONG, "") for i in range(30)]
    approvals = [Approval("U1", "maria", "opt_0", NOW)]
    return CardData(action, options, alert, links, approvals)


def test_cards_of_every_status_fit_in_a_message() -> None:
    for status in ActionStatus:
        blocks = card_blocks(huge_card(status), today=TODAY, base_currency="USD")
        assert message_block_errors(blocks) == [], status


def test_home_with_many_alerts_and_actions_fits_in_a_view() -> None:
    alerts = [DetectionAlert(id=f"alr_{i}", user_id="acct_1", detection_type=DetectionType.LATE_PAYMENT,
                             severity=list(AlertSeverity)[i % 3], status=AlertStatus.ACTIVE, fingerprint=str(i), entity_type="client",
                             title=LONG, amount=Decimal("1"), currency="USD", due_date=TODAY, escalated=True,
                             first_detected_at=NOW, last_detected_at=NOW) for i in range(300)]
    account = Account(id="acct_1", name=LONG[:200], base_currency="USD", timezone="UTC", digest_channel_id="C1")
    view = home_view(account=account, forecast=None, chart_url="https://t.example/charts/x.png", alerts=alerts,
                     cards=[huge_card(action_id=f"act_{i}") for i in range(40)], pending_total=40, safety_mode="normal", is_admin=True, today=TODAY)
    assert view_errors(view) == []
    assert len(alert_sections(alerts, today=TODAY)) == 3


def test_forms_and_help_fit() -> None:
    card = huge_card()
    assert view_errors(review_form(card, today=TODAY)) == []
    assert view_errors(draft_form(card, card.options[0], metadata="{}" * 2000)) == []
    assert view_errors(add_form(kind="tax", base_currency="USD", today=TODAY, channel_id="C1")) == []
    assert message_block_errors(help_blocks()) == []


def texts(blocks: list[dict]) -> str:
    """Every text a reader sees in these blocks, one string."""
    out = []
    for block in blocks:
        out += [block["text"]["text"]] if "text" in block else []
        out += [f["text"] for f in block.get("fields", [])] + [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(out)


def plain_card(*, summary: str, explanation: str | None, approvals: list[Approval] | None = None, required: int = 1) -> CardData:
    action = PreparedAction(id="act_9", user_id="acct_1", action_type=ActionType.INVOICE_FOLLOW_UP, status=ActionStatus.PENDING,
                            severity=AlertSeverity.THIS_WEEK, title="Bluebird Studio is 21 days late", summary=summary,
                            amount=Decimal("8500"), currency="USD", counterparty_name="Bluebird Studio", deadline=TODAY,
                            approvals_required=required, created_at=NOW)
    option = ActionOption(id="opt_9", action_id="act_9", rank=1, kind="send_email", title="Chase Bluebird Studio",
                          description="Send a reminder.", risk_level="low", counterparty_name="Bluebird Studio")
    alert = None
    if explanation is not None:
        alert = DetectionAlert(id="alr_9", user_id="acct_1", detection_type=DetectionType.LATE_PAYMENT, severity=AlertSeverity.THIS_WEEK,
                               fingerprint="late", entity_type="client", title="Bluebird Studio is 22 days late", explanation=explanation,
                               amount=Decimal("8500"), currency="USD", due_date=TODAY, first_detected_at=NOW, last_detected_at=NOW)
    return CardData(action, [option], alert, [], approvals or [])


def test_a_card_states_its_explanation_once_with_the_alerts_current_figures() -> None:
    # The action copied the alert's explanation when it was prepared; the next day's run rewrote the alert's.
    prepared = "The invoice for $8,500.00 was due Sat 14 Nov and is 21 days late."
    today = "The invoice for $8,500.00 was due Sat 14 Nov and is 22 days late."
    card = plain_card(summary=prepared, explanation=today)
    shown = texts(card_blocks(card, today=TODAY, base_currency="USD"))
    assert shown.count("The invoice for $8,500.00") == 1 and today in shown and prepared not in shown
    home = texts(queue_item(card, TODAY))
    assert today in home and prepared not in home
    # Without its alert (deleted), the card falls back on the action's own summary, still once.
    alone = texts(card_blocks(plain_card(summary=prepared, explanation=None), today=TODAY, base_currency="USD"))
    assert alone.count("The invoice for $8,500.00") == 1 and prepared in alone
    # A card no longer waiting keeps its own words with its own figures: the walk found a superseded late card
    # saying the alert's "$3,000.00 of $8,500.00 paid ..., $5,500.00 is 21 days late" above its "Owed $8,500.00".
    superseded = plain_card(summary=prepared, explanation="The invoice was due Sat 14 Nov: $3,000.00 of $8,500.00 paid on Mon 7 Dec, "
                                                           "$5,500.00 is 21 days late.")
    superseded.action.status = ActionStatus.SUPERSEDED
    old = texts(card_blocks(superseded, today=TODAY, base_currency="USD"))
    assert prepared in old and "$5,500.00 is 21 days late" not in old and "*Owed*\n$8,500.00" in old


def test_home_and_card_word_dual_control_the_same_way() -> None:
    waiting = plain_card(summary="s", explanation="e", required=2)
    for shown in (texts(card_blocks(waiting, today=TODAY, base_currency="USD")), texts(queue_item(waiting, TODAY))):
        assert "needs 2 approvals" in shown and "0 of 2" not in shown
    halfway = plain_card(summary="s", explanation="e", required=2, approvals=[Approval("U0ADMIN", "maria", "opt_9", NOW)])
    for shown in (texts(card_blocks(halfway, today=TODAY, base_currency="USD")), texts(queue_item(halfway, TODAY))):
        assert "1 of 2 approvals (<@U0ADMIN>)" in shown and "needs 2" not in shown
    single = plain_card(summary="s", explanation="e")
    assert "approvals" not in texts(queue_item(single, TODAY)) + texts(card_blocks(single, today=TODAY, base_currency="USD"))


def payroll_card() -> CardData:
    steps = [
        ("Draw $26,000.00 from Credit line into Operating, repaid by 28 March 2027", Decimal("26000")),
        ("Move $3,000.00 from Savings to Operating", Decimal("3000")),
        ("Delay Cloud Host's $2,400.00 payment from 1 December 2026 to 31 December 2026 (Cloud Host is asked first)", Decimal("2400")),
    ]
    note = draft_payroll_contingency_summary("2026-12-09", "21000", "USD", "19100", "-1900", "2100", steps, company_name="Harbor & Pine")
    action = PreparedAction(id="act_p", user_id="acct_1", action_type=ActionType.PAYROLL_CONTINGENCY, status=ActionStatus.PENDING,
                            severity=AlertSeverity.EMERGENCY, title="Payroll on Wed 9 Dec is at risk", summary="Payroll is short.",
                            amount=Decimal("21000"), currency="USD", counterparty_name="Payroll", deadline=TODAY, approvals_required=2,
                            created_at=NOW)
    option = ActionOption(id="opt_p", action_id="act_p", rank=1, kind="confirm_plan", title="Draw $26,000.00 on Credit line",
                          description="Covers payroll.", risk_level="medium", counterparty_type="cash_account", counterparty_name="Credit line",
                          draft_subject=note["subject"], draft_body=note["body"], params={"steps": [{"kind": "credit_draw"}]})
    return CardData(action, [option], None, [], [])


def test_a_payroll_plans_draft_is_an_internal_note_showing_every_step() -> None:
    card = payroll_card()
    blocks = card_blocks(card, today=TODAY, base_currency="USD")
    assert message_block_errors(blocks) == []
    [draft] = [b for b in blocks if b["type"] == "section" and "Payroll on 9 December 2026" in b.get("text", {}).get("text", "")]
    text = draft["text"]["text"]
    assert text.startswith("*Internal note for the approvers (not sent to anyone)*")
    assert "Credit line*" not in text and " to Credit line" not in text and "Draft message" not in text
    for line in ("> - Draw $26,000.00 from Credit line into Operating, repaid by 28 March 2027",
                 "> - Move $3,000.00 from Savings to Operating",
                 "> - Delay Cloud Host's $2,400.00 payment from 1 December 2026 to 31 December 2026",
                 "> Total: $31,400.00", "> With these steps, cash after payroll would be $29,500.00"):
        assert line in text, line
    assert not text.rstrip().endswith("Proposed steps:")
    form = draft_form(card, card.options[0], metadata="{}")
    assert view_errors(form) == []
    heading = form["blocks"][0]["elements"][0]["text"]
    assert "Internal note for the approvers" in heading and "To: Credit line" not in heading


def test_an_emails_draft_still_names_its_recipient_and_stays_a_preview() -> None:
    card = plain_card(summary="s", explanation="e")
    option = card.options[0]
    option.recipient_email, option.draft_subject = "accounts@bluebird.example", "Invoice overdue"
    option.draft_body = "\n".join(f"line {i}" for i in range(20))
    text = texts(card_blocks(card, today=TODAY, base_currency="USD"))
    assert "*Draft message to Bluebird Studio <accounts@bluebird.example>*" in text and "Internal note" not in text
    assert "> line 7" in text and "line 8" not in text
    heading = draft_form(card, option, metadata="{}")["blocks"][0]["elements"][0]["text"]
    assert heading.endswith("To: Bluebird Studio <accounts@bluebird.example>")


def test_a_cards_amount_says_what_it_is() -> None:
    """Issue 19: the runway card showed an unexplained "Amount $46,653.58"."""
    card = plain_card(summary="s", explanation="Runway is 9.9 weeks (2.3 months).")
    assert card.alert is not None
    card.alert.detection_type = DetectionType.RUNWAY_THRESHOLD
    shown = texts(card_blocks(card, today=TODAY, base_currency="USD"))
    assert "*To free up*\n$8,500.00" in shown and "*Amount*" not in shown
    card.alert.detection_type = DetectionType.LATE_PAYMENT
    assert "*Owed*\n$8,500.00" in texts(card_blocks(card, today=TODAY, base_currency="USD"))


def test_an_alerts_amount_says_what_it_is_in_alert_lines_and_announcements() -> None:
    """Issue 19: a bare amount beside a runway ("Runway is 12.1 weeks ... $9,532.62") says nothing."""
    from bot.blocks.alerts import alert_line
    from bot.digests import _alert_bit, alert_new_message
    from tamio.digest import _note

    runway = DetectionAlert(id="alr_r", user_id="acct_1", detection_type=DetectionType.RUNWAY_THRESHOLD,
                            severity=AlertSeverity.EMERGENCY, status=AlertStatus.ACTIVE, fingerprint="r", entity_type="account",
                            title="Runway is 12.1 weeks (2.8 months)", amount=Decimal("9532.62"), currency="USD",
                            due_date=date(2027, 2, 28), first_detected_at=NOW, last_detected_at=NOW)
    # A runway has no due date (the first walk found "due Sun 28 Feb"): the week cash gets short.
    # Its amount is the monthly burn (the walk found "to free up $2,160.73" on App Home beside a runway card saying
    # "To free up $25,637.18", the action's amount): said as what it is.
    assert alert_line(runway, TODAY).endswith("— by the week of Sun 28 Feb (in 83 days), burning $9,532.62 a month")
    _, blocks = alert_new_message(runway, today=TODAY)
    assert "burning $9,532.62 a month · by the week of Sun 28 Feb" in blocks[0]["text"]["text"]
    assert _alert_bit(_note(runway)).endswith(", by the week of Sun 28 Feb)")
    card = plain_card(summary="s", explanation="Runway is 12.1 weeks.")
    assert card.alert is not None
    card.alert.detection_type, card.alert.due_date, card.action.deadline = DetectionType.RUNWAY_THRESHOLD, date(2027, 2, 28), None
    shown = texts(card_blocks(card, today=TODAY, base_currency="USD"))
    assert "*By the week of*\nSun 28 Feb" in shown and "*Due*" not in shown
    late = DetectionAlert(id="alr_l", user_id="acct_1", detection_type=DetectionType.LATE_PAYMENT, severity=AlertSeverity.THIS_WEEK,
                          status=AlertStatus.ACTIVE, fingerprint="l", entity_type="client", title="Late Payer Co is 16 days late",
                          amount=Decimal("5000"), currency="USD", first_detected_at=NOW, last_detected_at=NOW)
    assert alert_line(late, TODAY).endswith("— owed $5,000.00")


def test_a_payroll_alerts_amount_is_its_shortfall_not_the_payroll() -> None:
    """The walk found App Home saying "Payroll on Fri 11 Dec is $4,000.00 short — ..., payroll $4,000.00" for a
    $21,000.00 payroll: the alert's amount is the shortfall. Its card, showing the action's $21,000.00, keeps "Payroll"."""
    from bot.blocks.alerts import alert_line
    from bot.digests import alert_new_message

    payroll = DetectionAlert(id="alr_p", user_id="acct_1", detection_type=DetectionType.PAYROLL_SAFETY,
                             severity=AlertSeverity.EMERGENCY, status=AlertStatus.ACTIVE, fingerprint="p", entity_type="schedule",
                             title="Payroll on Fri 11 Dec is $4,000.00 short", amount=Decimal("4000"), currency="USD",
                             due_date=date(2026, 12, 11), first_detected_at=NOW, last_detected_at=NOW)
    assert alert_line(payroll, TODAY).endswith(", short by $4,000.00")
    _, blocks = alert_new_message(payroll, today=TODAY)
    assert "short by $4,000.00" in blocks[0]["text"]["text"] and "payroll $4,000.00" not in blocks[0]["text"]["text"]
    card = plain_card(summary="s", explanation="The $21,000.00 payroll leaves -$1,900.00 in cash.")
    assert card.alert is not None
    card.alert.detection_type = DetectionType.PAYROLL_SAFETY
    assert "*Payroll*\n$8,500.00" in texts(card_blocks(card, today=TODAY, base_currency="USD"))
