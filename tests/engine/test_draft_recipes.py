"""Drafts stored as recipes render, after a trip through JSON, exactly what drafting at once gave;
what rendering would refuse is refused when the recipe is made (issue 20 item 2)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from tamio.errors import ValidationError
from tamio.preparation.message_drafting import draft_collection_email, draft_collection_escalation
from tamio.preparation.recipes import DraftRecipe, collection_email_recipe, collection_escalation_recipe

INVOICE = {"client_name": "Acme <Corp>", "invoice_number": "INV-7", "amount": Decimal("1234.5"), "due_date": date(2026, 11, 2),
           "currency": "EUR", "contact_name": "Sam", "company_name": "Harbour Design"}


def stored(recipe: DraftRecipe) -> DraftRecipe:
    return DraftRecipe.from_json(json.loads(json.dumps(recipe.to_json())))


@pytest.mark.parametrize("days", [3, 20, 45])
@pytest.mark.parametrize("record", [None, "good", "poor"])
@pytest.mark.parametrize("relationship", [None, "strategic"])
def test_a_collection_email_renders_what_drafting_it_at_once_gave(days: int, record: str | None, relationship: str | None) -> None:
    recipe = collection_email_recipe(days_overdue=days, payment_record=record, relationship_type=relationship, **INVOICE)
    eager = draft_collection_email(days_overdue=days, payment_record=record, relationship_type=relationship, **INVOICE)
    assert stored(recipe).render() == eager and recipe.tone == eager["tone"]


def test_a_final_notice_renders_what_drafting_it_at_once_gave() -> None:
    args = {**INVOICE, "days_overdue": 35, "pay_by": date(2026, 12, 14), "previous_reminders": 1}
    recipe = collection_escalation_recipe(**args)
    assert stored(recipe).render() == draft_collection_escalation(**args) and recipe.tone == "firm"


@pytest.mark.parametrize(("change", "field"), [({"currency": "XXQ"}, "currency"), ({"client_name": "  "}, "client_name")])
def test_what_rendering_would_refuse_is_refused_when_the_recipe_is_made(change: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        collection_email_recipe(days_overdue=3, **{**INVOICE, **change})  # type: ignore[arg-type]
    assert field in refused.value.field_errors
