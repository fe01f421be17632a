"""Read helpers for Slack surfaces: open alerts, pending actions and everything a card shows.

Everything is scoped by the account id of the verified request. A card is the core's view of an
action (``tamio.execution.views.ActionView``, the one the API and the CLI render too), loaded for
many actions in a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.detection.models import AlertSeverity, AlertStatus, DetectionAlert
from tamio.execution.queries import QUEUE_ORDER, count_pending
from tamio.execution.views import ActionView, Approval, Link, action_views
from tamio.preparation.models import ActionStatus, PreparedAction

CardData = ActionView  # what a card renders: the core's view of the action
__all__ = ["Approval", "CardData", "Link", "count_open_alerts", "count_pending", "load_card", "load_cards", "open_alerts",
           "pending_action_ids"]

OPEN_ALERTS = (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)
SEVERITY_ORDER = case(
    (DetectionAlert.severity == AlertSeverity.EMERGENCY, 0), (DetectionAlert.severity == AlertSeverity.THIS_WEEK, 1), else_=2
)


# One listing order: the most urgent first, then by due date; one run detects many at once, so the id
# keeps every listing in one order.
ALERT_ORDER = (DetectionAlert.due_date.is_(None), DetectionAlert.due_date, DetectionAlert.first_detected_at, DetectionAlert.id)


def _open(account_id: str) -> tuple[ColumnElement[bool], ...]:
    return DetectionAlert.user_id == account_id, DetectionAlert.status.in_(OPEN_ALERTS)


async def open_alerts(db: AsyncSession, *, account_id: str, per_severity: int = 15) -> list[DetectionAlert]:
    """The first ``per_severity`` open alerts of each severity, emergencies first: a list never shows
    more of a group than that, and a hundred emergencies do not push this week's alerts out of it
    (``count_open_alerts`` says how many each group has)."""
    rank = func.row_number().over(partition_by=DetectionAlert.severity, order_by=ALERT_ORDER).label("rank")
    ranked = select(DetectionAlert.id, rank).where(*_open(account_id)).subquery()
    stmt = (
        select(DetectionAlert)
        .join(ranked, ranked.c.id == DetectionAlert.id)
        .where(ranked.c.rank <= per_severity)
        .order_by(SEVERITY_ORDER, *ALERT_ORDER)
    )
    return list((await db.execute(stmt)).scalars().all())


async def count_open_alerts(db: AsyncSession, *, account_id: str) -> dict[str, int]:
    """How many open alerts the account has, by severity (``"emergency"``, ...; a severity with none is left out)."""
    stmt = select(DetectionAlert.severity, func.count()).where(*_open(account_id)).group_by(DetectionAlert.severity)
    return {str(getattr(severity, "value", severity)): int(count) for severity, count in (await db.execute(stmt)).all()}


async def pending_action_ids(db: AsyncSession, *, account_id: str, limit: int = 20) -> list[str]:
    stmt = (
        select(PreparedAction.id)
        .where(PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING)
        .order_by(*QUEUE_ORDER)
        .limit(limit)
    )
    return list((await db.execute(stmt)).scalars().all())


async def load_cards(db: AsyncSession, *, account_id: str, action_ids: Sequence[str]) -> list[CardData]:
    """Cards for these actions of this account, in the order given; ids of other accounts are left out."""
    return await action_views(db, account_id=account_id, action_ids=action_ids)


async def load_card(db: AsyncSession, *, account_id: str, action_id: str) -> CardData | None:
    cards = await load_cards(db, account_id=account_id, action_ids=[action_id])
    return cards[0] if cards else None
