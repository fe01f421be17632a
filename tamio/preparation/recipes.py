"""Drafts rendered when they are read: an option stores its draft's recipe, not its text.

Most options of most cards are never opened, and rendering a draft (babel's dates and currencies,
two jinja2 templates) is most of what preparing an option used to cost. So the collection emails
and final notices, the drafts of most options, are stored as the drafting function's name and its
arguments (``ActionOption.draft_recipe``) and rendered by whoever reads them: the card, the edit
modal, the API, the CLI and the executor, through ``ActionOption.draft_subject``/``draft_body``.
The text is the one rendering it at once gave (``tests/service/test_pipeline_unchanged.py``).

    recipe = collection_email_recipe(client_name="Acme Corp", invoice_number="INV-1", amount=Decimal(500),
                                     due_date=date(2026, 11, 20), days_overdue=17, currency="USD")
    recipe.tone, recipe.render()["subject"]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from tamio.errors import ValidationError
from tamio.preparation.draft_values import KNOWN_CURRENCIES
from tamio.preparation.message_drafting import (
    DraftedEmail,
    Tone,
    choose_tone,
    draft_collection_email,
    draft_collection_escalation,
)


@dataclass(frozen=True)
class DraftRecipe:
    """What a draft is rendered from: a drafting function's name and its arguments as JSON values.

    Preparation stores the recipe with the option instead of the text (most options of most cards
    are never opened); the card, the edit modal, the API and the executor render it when they read
    the draft (``ActionOption.draft_subject``/``draft_body``), the same text rendering it eagerly gave.
    The tone is chosen when the recipe is made (the option's title names it).
    """

    drafter: str
    args: tuple[tuple[str, Any], ...]
    tone: Tone

    @classmethod
    def of(cls, drafter: str, tone: Tone, /, **args: Any) -> DraftRecipe:
        if drafter not in DRAFTERS:
            raise ValueError(f"no drafter {drafter!r}")
        plain = {k: str(v) if isinstance(v, (Decimal, date)) else v for k, v in args.items()}
        return cls(drafter, tuple(sorted(plain.items())), tone)

    def render(self) -> DraftedEmail:
        return _rendered(self.drafter, self.args)

    def to_json(self) -> dict[str, Any]:
        return {"drafter": self.drafter, "args": dict(self.args), "tone": self.tone}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DraftRecipe:
        return cls(str(data["drafter"]), tuple(sorted(dict(data["args"]).items())), data["tone"])


@functools.lru_cache(maxsize=1024)
def _rendered(drafter: str, args: tuple[tuple[str, Any], ...]) -> DraftedEmail:
    drafted: DraftedEmail = DRAFTERS[drafter](**dict(args))
    return drafted


def collection_email_recipe(
    *, days_overdue: int, payment_record: str | None = None, relationship_type: str | None = None, tone: str | None = None,
    currency: str = "USD", **rest: Any,
) -> DraftRecipe:
    """``draft_collection_email``'s recipe: its tone chosen now (as the email would), the text later."""
    chosen = choose_tone(days_overdue, payment_record=payment_record, relationship_type=relationship_type, requested=tone)
    _renderable(currency, rest.get("client_name"))
    return DraftRecipe.of("collection_email", chosen, days_overdue=days_overdue, payment_record=payment_record,
                          relationship_type=relationship_type, tone=chosen, currency=currency, **rest)


def collection_escalation_recipe(*, currency: str = "USD", **args: Any) -> DraftRecipe:
    """``draft_collection_escalation``'s recipe (always firm)."""
    _renderable(currency, args.get("client_name"))
    return DraftRecipe.of("collection_escalation", "firm", currency=currency, **args)


def _renderable(currency: str, client_name: str | None) -> None:
    """What rendering would refuse of the data (the rest are the agent's own arguments), refused when
    the recipe is made: an agent's error, as it was when drafts were rendered at once."""
    if (currency or "").strip().upper() not in KNOWN_CURRENCIES:
        hint = "Use a three-letter ISO code such as USD, EUR or GBP."
        raise ValidationError(f"I don't know the currency `{currency}`.", field_errors={"currency": hint})
    if not " ".join((client_name or "").split()):
        raise ValidationError("`client_name` is empty.", field_errors={"client_name": "This cannot be blank."})


DRAFTERS: dict[str, Any] = {
    "collection_email": draft_collection_email,
    "collection_escalation": draft_collection_escalation,
}
