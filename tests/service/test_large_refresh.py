"""A large account's refresh: the statements that look up alerts and actions by id take any number of
them (asyncpg refuses a statement of more than 32,767 parameters: a 100,000-row import raised 46,000
alerts, and its refresh failed on PostgreSQL, the request left asking forever)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.bulk import IN_LIST
from tamio.execution.closing import supersede_resolved
from tamio.pipeline import PipelineConfig, run_detection_preparation_cycle
from tamio.preparation.engine import _open_candidates, open_actions_of
from tamio.preparation.models import ActionStatus, PreparedAction
from tests.service.books import SCHEDULE_PATH
from tests.service.test_preparation import NOW, TODAY, tight_books

MANY = [f"unknown_{i:05d}" for i in range(40_000)]  # more than one statement may take on PostgreSQL


async def test_alerts_and_actions_are_looked_up_by_any_number_of_ids(session: AsyncSession) -> None:
    books = await tight_books(session)
    await run_detection_preparation_cycle(session, books.account.id, PipelineConfig(), today=TODAY, now=NOW, settings=SCHEDULE_PATH)
    actions = (await session.execute(select(PreparedAction).where(PreparedAction.user_id == books.account.id)
                                     .order_by(PreparedAction.id))).scalars().all()
    assert len(actions) >= 2 and len(MANY) > 2 * IN_LIST
    alert_ids = [a.alert_id or "" for a in actions]

    found = await open_actions_of(session, [*MANY[:20_000], *alert_ids, *MANY[20_000:]])
    assert {alert: [a.id for a in open_ones] for alert, open_ones in found.items()} == {a.alert_id: [a.id] for a in actions}

    others = await _open_candidates(session, account_id=books.account.id, exclude=[*MANY, actions[0].id])
    assert sorted(c.key for c in others) == [a.id for a in actions[1:]]

    await supersede_resolved(session, account=books.account, now=NOW, resolved=[*MANY, actions[0].alert_id])
    await session.refresh(actions[0])
    assert actions[0].status == ActionStatus.SUPERSEDED
