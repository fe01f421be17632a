"""The action queue has one order (``tamio.execution.queries.QUEUE_ORDER``) whichever edge lists it:
what waits for a person first, the most urgent first (emergency, this week, upcoming, then the
nearest deadline), then what was already decided, the most recently changed first. The API once
listed upcoming actions before emergencies."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from bot.queries import pending_action_ids
from tamio.cli import main
from tamio.detection.models import AlertSeverity
from tamio.preparation.models import ActionStatus, ActionType, PreparedAction
from tests.api.conftest import Api
from tests.api.test_fresh_paths import demo_with_token

pytestmark = pytest.mark.backends("sqlite")  # the CLI opens the same database file

RANK = {AlertSeverity.EMERGENCY: 0, AlertSeverity.THIS_WEEK: 1, AlertSeverity.UPCOMING: 2}


async def test_slack_the_api_and_the_cli_list_the_queue_most_urgent_first(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    account_id, token = await demo_with_token(api.sessions, api.settings)
    async with api.sessions() as db:
        batch = (await db.execute(select(PreparedAction).where(
            PreparedAction.user_id == account_id, PreparedAction.action_type == ActionType.PAYMENT_BATCH,
            PreparedAction.status == ActionStatus.PENDING).limit(1))).scalar_one()
    skipped = await api.post(f"/pipeline/actions/{batch.id}/skip", token=token, json={"reason": "not now"})
    assert skipped.status == 200, skipped.text

    async with api.sessions() as db:
        actions = {a.id: a for a in (await db.execute(select(PreparedAction).where(PreparedAction.user_id == account_id))).scalars()}
        slack = await pending_action_ids(db, account_id=account_id, limit=100)
    pending = [a for a in actions.values() if a.status == ActionStatus.PENDING]
    assert AlertSeverity.EMERGENCY in {a.severity for a in pending} and len({a.severity for a in pending}) > 1, "urgent and later actions"

    listed = [a["id"] for a in (await api.get("/pipeline/actions?limit=100", token=token)).json()["actions"]]
    assert listed[: len(slack)] == slack
    assert actions[listed[-1]].status == ActionStatus.SKIPPED  # decided: after everything still waiting
    ranks = [RANK[actions[i].severity] for i in slack]
    assert ranks == sorted(ranks)
    for earlier, later in zip(slack, slack[1:], strict=False):  # within a severity, the nearest deadline first
        a, b = actions[earlier], actions[later]
        if a.severity == b.severity and a.deadline and b.deadline:
            assert a.deadline <= b.deadline

    monkeypatch.setenv("TAMIO_DATABASE_URL", api.settings.database_url)

    def cli(*args: str) -> list[str]:
        assert main(["actions", "list", "--limit", "100", "--json", *args], now=api.clock()) == 0
        return [a["id"] for a in json.loads(capsys.readouterr().out)]

    assert await asyncio.to_thread(cli) == slack
    assert await asyncio.to_thread(cli, "--status", "all") == listed
