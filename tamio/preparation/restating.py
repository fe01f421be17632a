"""Restating prepared actions whose figures moved (``tamio.preparation.freshness`` says when).

``check_basis`` runs before an approval: when the action's basis no longer holds, the action is
prepared again (``prepare_actions(..., restate=True)``), in place or by a fresh one. ``announce``
queues the card updates of what a restating run changed.

    run = await check_basis(db, account=account, action=action, now=now, settings=settings)
    await announce(db, account=account, run=run, now=now)
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.detection.models import DetectionAlert
from tamio.outbox.service import Outgoing, enqueue_many
from tamio.preparation.context import load_context
from tamio.preparation.engine import PreparationRun, prepare_actions
from tamio.preparation.freshness import forecast_basis
from tamio.preparation.models import PreparedAction


async def announce(db: AsyncSession, *, account: Account, run: PreparationRun, now: datetime) -> None:
    """Outbox rows for what restating changed: the cards brought up to date, and each superseded one
    (App Home follows from whoever restated: the pipeline run, or the refused approval)."""
    messages = [Outgoing("card_update", {"action_id": a.id}, f"card_update:{a.id}:v{a.version}") for a in run.refreshed]
    messages += [Outgoing("card_update", {"action_id": old.id}, f"card_update:{old.id}:v{old.version}") for old, _ in run.replaced]
    if messages:
        await enqueue_many(db, account_id=account.id, messages=messages, now=now)


async def check_basis(
    db: AsyncSession, *, account: Account, action: PreparedAction, now: datetime, settings: Settings,
) -> PreparationRun | None:
    """Before an approval: ``None`` when the action's basis still holds (or it has none); otherwise the
    action is prepared again and the run says how (brought up to date in place, or replaced)."""
    if action.forecast_basis is None or action.alert_id is None:
        return None
    today = now.astimezone(ZoneInfo(account.timezone)).date()
    ctx = await load_context(db, account_id=account.id, today=today, settings=settings)
    if forecast_basis(ctx) == action.forecast_basis:
        return None
    alert = await db.get(DetectionAlert, action.alert_id)
    if alert is None or alert.user_id != account.id:
        run = PreparationRun()
        run.replaced.append((action, None))
        return run
    return await prepare_actions(db, account=account, alerts=[alert], today=today, now=now, settings=settings, context=ctx,
                                 restate=True)
