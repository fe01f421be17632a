"""Read helpers for Slack surfaces: open alerts, pending actions and everything a card shows.

Everything is scoped by the account id of the verified request. A card is the core's view of an
action (``tamio.execution.views.ActionView``, the one the API and the CLI render too), loaded for
many actions in a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.detection.models import AlertSeverity, AlertStatus, DetectionAlert
from tamio.execution.queries import QUEUE_ORDER
from tamio.execution.views import ActionView, Approval, Link, action_views
from tamio.preparation.models import ActionStatus, PreparedAction

CardData = ActionView  # what a card renders: the core's view of the action
__all__ = ["Approval", "CardData", "Link", "count_pending", "load_card", "load_cards", "open_alerts", "pending_action_ids"]

OPEN_ALERTS = (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)
SEVERITY_ORDER = case(
    (DetectionAlert.severity == AlertSeverity.EMERGENCY, 0), (DetectionAlert.severity == AlertSeverity.THIS_WEEK, 1), else_=2
)


async def open_alerts(db: AsyncSession, *, account_id: str, limit: int = 100) -> list[DetectionAlert]:
    stmt = (
        select(DetectionAlert)
        .where(DetectionAlert.user_id == account_id, DetectionAlert.status.in_(OPEN_ALERTS))
        .order_by(SEVERITY_ORDER, DetectionAlert.due_date.is_(None), DetectionAlert.due_date, DetectionAlert.first_detected_at,
                  DetectionAlert.id)  # one run detects many at once: the id keeps every listing in one order
        .limit(limit)
    )
    return list((await db.execute(stmt)).scalars().all())


async def pending_action_ids(db: AsyncSession, *, account_id: str, limit: int = 20) -> list[str]:
    stmt = (
        select(PreparedAction.id)
        .where(PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING)
        .order_by(*QUEUE_ORDER)
        .limit(limit)
    )
    return list((await db.execute(stmt)).scalars().all())


async def count_pending(db: AsyncSession, *, account_id: str) -> int:
    stmt = select(func.count()).select_from(PreparedAction).where(
        PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING
    )
    return int((await db.execute(stmt)).scalar_one())


async def load_cards(db: AsyncSession, *, account_id: str, action_ids: Sequence[str]) -> list[CardData]:
    """Cards for these actions of this account, in the order given; ids of other accounts are left out."""
    return await action_views(db, account_id=account_id, action_ids=action_ids)


async def load_card(db: AsyncSession, *, account_id: str, action_id: str) -> CardData | None:
    cards = await load_cards(db, account_id=account_id, action_ids=[action_id])
    return cards[0] if cards else None
