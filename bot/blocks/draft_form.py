"""The Edit draft modal: the drafted message's subject and body, saved on submit."""

from __future__ import annotations

from typing import Any

from bot.blocks.card import draft_recipient, is_internal_note
from bot.blocks.common import context, cut, escape, plain
from bot.queries import CardData
from tamio.preparation.models import ActionOption

DRAFT_CALLBACK = "edit_draft"
BODY_MAX = 3000  # a plain_text_input holds at most 3,000 characters
SUBJECT_MAX = 300


def draft_form(card: CardData, option: ActionOption, *, metadata: str) -> dict[str, Any]:
    subject, body, _ = card.draft_of(option)
    to = draft_recipient(option)
    return {
        "type": "modal",
        "callback_id": DRAFT_CALLBACK,
        "private_metadata": metadata[:3000],
        "title": plain("Edit draft", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            context(f"For “{escape(cut(card.action.title, 200))}”, option {option.rank}: {escape(cut(option.title, 200))}"
                    + (f"\n{to}" if is_internal_note(option) else f"\nTo: {to}" if to else "")),
            {"type": "input", "block_id": "edited_subject", "label": plain("Subject", 2000),
             "element": {"type": "plain_text_input", "action_id": "edited_subject", "initial_value": cut(subject, SUBJECT_MAX),
                         "max_length": SUBJECT_MAX}},
            {"type": "input", "block_id": "edited_body", "label": plain("Message", 2000),
             "element": {"type": "plain_text_input", "action_id": "edited_body", "multiline": True,
                         "initial_value": cut(body, BODY_MAX), "max_length": BODY_MAX}},
        ],
    }
