"""The demo company's cards as `tamio sandbox` shows them after `/tamio run`, and again the next day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.card import card_blocks
from bot.blocks.home import queue_item
from bot.queries import CardData, load_cards, pending_action_ids
from tamio.demo import seed_demo
from tamio.pipeline import run_detection_preparation_cycle
from tamio.preparation.models import ActionType
from tests.service.books import SCHEDULE_PATH

TODAY = date(2026, 11, 28)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def shown(blocks: list[dict]) -> str:
    out = []
    for block in blocks:
        out += [block["text"]["text"]] if "text" in block else []
        out += [f["text"] for f in block.get("fields", [])] + [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(out)


def kind_of(params: dict) -> str:
    """The kind of a plan's first step ("credit_draw", "transfer", "delay_payment"...)."""
    return str((params.get("steps") or [{"kind": "none"}])[0]["kind"])


async def demo_cards(session: AsyncSession, *days: date) -> tuple[list[CardData], date]:
    account = await seed_demo(session, settings=SCHEDULE_PATH, today=days[0], now=at(days[0]))
    for day in days:
        result = await run_detection_preparation_cycle(session, account.id, today=day, now=at(day), settings=SCHEDULE_PATH)
        assert result.errors == []
    ids = await pending_action_ids(session, account_id=account.id, limit=50)
    return await load_cards(session, account_id=account.id, action_ids=ids), days[-1]


async def test_the_payroll_plans_are_internal_notes_listing_concrete_steps(session: AsyncSession) -> None:
    cards, today = await demo_cards(session, TODAY)
    [payroll] = [c for c in cards if c.action.action_type is ActionType.PAYROLL_CONTINGENCY]
    steps = {}
    for option in payroll.options:
        body = option.draft_body or ""
        listed = body.split("Proposed steps:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        assert listed and all(line.startswith("- ") for line in listed), body
        steps[kind_of(option.params)] = listed
    assert steps["credit_draw"][0].startswith("- Draw $") and " from Credit line into Operating, repaid by " in steps["credit_draw"][0]
    assert steps["transfer"] == ["- Move $3,000.00 from Savings to Operating"]
    assert steps["delay_payment"][0].startswith("- Delay Cloud Host's $2,400.00 payment from 1 December 2026 to ")
    text = shown(card_blocks(payroll, today=today, base_currency="USD"))
    assert "*Internal note for the approvers (not sent to anyone)*" in text and "to Credit line" not in text
    assert f"> {steps[kind_of(payroll.options[0].params)][0]}" in text  # the chosen plan's steps, on the card
    assert "> With these steps, cash after payroll would be" in text


async def test_every_card_states_its_explanation_once_after_the_next_days_run(session: AsyncSession) -> None:
    cards, today = await demo_cards(session, TODAY, TODAY + timedelta(days=1))
    assert len(cards) >= 6
    stale = 0
    for card in cards:
        assert card.alert is not None
        stale += card.alert.explanation != card.action.summary
        for text in (shown(card_blocks(card, today=today, base_currency="USD")), shown(queue_item(card, today))):
            assert text.count(card.alert.explanation) == 1, text
            assert card.action.summary == card.alert.explanation or card.action.summary not in text, text
    # The next day's run rewrote the explanations ("22 days late") and restated the cards from that day's
    # figures, so each card's summary is the day's explanation too (it used to keep the first day's).
    assert stale == 0
