"""The Review modal (from App Home): the whole card, with its options and buttons, in a modal."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.blocks.card import card_blocks
from bot.blocks.common import plain
from bot.queries import CardData

REVIEW_CALLBACK = "review_action"


def review_form(card: CardData, *, today: date) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REVIEW_CALLBACK,
        "private_metadata": card.action.id,
        "title": plain("Review action", 24),
        "close": plain("Close", 24),
        "blocks": card_blocks(card, today=today)[:100],
    }
