"""Block Kit builders stay within Slack's limits whatever the data (checked with the stand-in's rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from bot.blocks.add_form import add_form
from bot.blocks.alerts import alert_sections
from bot.blocks.card import card_blocks
from bot.blocks.draft_form import draft_form
from bot.blocks.home import home_view
from bot.blocks.review import review_form
from bot.commands.help import help_blocks
from bot.queries import Approval, CardData, Link
from bot.sandbox.blockkit_limits import message_block_errors, view_errors
from tamio.accounts.models import Account
from tamio.detection.models import AlertSeverity, AlertStatus, DetectionAlert, DetectionType
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
