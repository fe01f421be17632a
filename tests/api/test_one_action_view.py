"""Issue 17, item 3: one read model per action. The Slack card, the REST API and the CLI render the
core's ``ActionView`` (``tamio.execution.views``): the same figures, options, approvals, links,
status, who decided, the history line of its client or vendor and the forecast basis, whichever
edge a person reads it through."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.blocks.card import card_blocks
from bot.queries import load_cards
from tamio.cli import main
from tamio.config import Settings
from tamio.execution import views
from tamio.money import format_money
from tamio.preparation.models import ActionStatus, ActionType, PreparedAction
from tamio.scheduler.refresh import drain_refreshes
from tests.api.conftest import Api, api_settings
from tests.api.test_fresh_paths import buffer_action, demo_with_token
from tests.service.execution_factories import Mailbox, free_port

pytestmark = pytest.mark.backends("sqlite")  # the CLI opens the same database file


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox(free_port()) as box:
        yield box


@pytest.fixture
def settings(db_url: str, mailbox: Mailbox) -> Settings:
    return api_settings(db_url, smtp_host="127.0.0.1", smtp_port=mailbox.port)


def money(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).quantize(Decimal("0.01")), "f")


async def test_the_card_the_api_and_the_cli_show_one_view_of_each_action(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    account_id, token = await demo_with_token(api.sessions, api.settings)
    # Cloud Host's payment is delayed first, so the cards offering Cloud Host have a history to tell.
    async with api.sessions() as db:
        batch = (await db.execute(select(PreparedAction).where(
            PreparedAction.user_id == account_id, PreparedAction.action_type == ActionType.PAYMENT_BATCH,
            PreparedAction.title.startswith("Cloud Host")))).scalar_one()
    delay = (await api.get(f"/pipeline/actions/{batch.id}", token=token)).json()["options"][0]
    assert delay["kind"] == "delay_payment"
    done = await api.post(f"/pipeline/actions/{batch.id}/approve", token=token, json={"option_id": delay["id"]})
    assert done.json()["execution"]["status"] == "executed", done.text
    await drain_refreshes(api.sessions, now=api.clock(), settings=api.settings)
    buffer = await buffer_action(api.sessions, account_id)
    first = (await api.get(f"/pipeline/actions/{buffer.id}", token=token)).json()["options"][0]
    approved = await api.post(f"/pipeline/actions/{buffer.id}/approve", token=token, json={"option_id": first["id"]})
    assert approved.json()["outcome"] == "awaiting_second_approval", approved.text  # $26,000: one approval of two so far
    async with api.sessions() as db:
        ids = list((await db.execute(select(PreparedAction.id).where(
            PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING).order_by(PreparedAction.id))).scalars())
        ids.append(batch.id)  # carried out: "Delayed 1x, last ... by @..." is its vendor's history
        expected = await views.action_views(db, account_id=account_id, action_ids=ids)
        cards = await load_cards(db, account_id=account_id, action_ids=ids)
    assert any(v.history_line for v in expected) and any(v.links for v in expected) and any(v.approvals for v in expected)

    monkeypatch.setenv("TAMIO_DATABASE_URL", api.settings.database_url)

    def cli(*args: str) -> str:
        assert main(list(args), now=api.clock()) == 0
        return capsys.readouterr().out

    listed = {a["id"]: a for a in (await api.get("/pipeline/actions?limit=100", token=token)).json()["actions"]}
    for view, card in zip(expected, cards, strict=True):
        assert card == view  # the card is the view itself
        one = (await api.get(f"/pipeline/actions/{view.action.id}", token=token)).json()
        assert one == listed[view.action.id]
        shown = json.loads(await asyncio.to_thread(cli, "actions", "show", view.action.id, "--json"))
        for answer in (one, shown):
            assert (answer["title"], answer["status"], answer["decided_by"]) == (view.action.title, view.action.status.value, view.decider)
            assert (answer["history_line"], answer["forecast_basis"]) == (view.history_line, view.basis)
            assert [o["id"] for o in answer["options"]] == [o.id for o in view.options]
            assert [a["option_id"] for a in answer["approvals"]] == [a.option_id for a in view.approvals]
        assert [money(Decimal(o["forecast_lowest_balance"])) if o["forecast_lowest_balance"] else None for o in one["options"]] == [
            money(o.forecast_lowest_balance) for o in view.options]
        assert [a["member_id"] for a in one["approvals"]] == [a.member_id for a in view.approvals]
        assert [(link["id"], link["source_action_id"], link["target_action_id"]) for link in one["links"]] == [
            (link.id, link.source_action_id, link.target_action_id) for link in view.links]
        assert [a["member"] for a in shown["approvals"]] == [a.handle for a in view.approvals]
        text = json.dumps(card_blocks(card, today=api.clock().date(), base_currency="USD"))
        if view.history_line:
            assert json.dumps(view.history_line)[1:-1] in text
        text_out = await asyncio.to_thread(cli, "actions", "show", view.action.id)
        if view.history_line:
            assert view.history_line in text_out
        for option in view.options:  # each option's "lowest after", as its card shows it
            if option.forecast_lowest_balance is not None:
                assert f"lowest after {format_money(option.forecast_lowest_balance, 'USD')}" in text_out
