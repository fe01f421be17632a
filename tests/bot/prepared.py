"""Prepared actions as the preparation engine leaves them, written straight into the tables for bot tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.detection.models import AlertSeverity, DetectionAlert, DetectionType
from tamio.outbox.service import enqueue
from tamio.preparation.models import ActionOption, ActionType, LinkedAction, LinkType, PreparedAction
from tests.bot.conftest import NOW


@dataclass
class Option:
    title: str
    kind: str = "send_email"
    risk: str = "low"
    lowest: str | None = None
    subject: str | None = None
    body: str | None = None
    email: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


async def account_of(sessions: async_sessionmaker[AsyncSession], team_id: str = "T0001") -> Account:
    async with sessions() as db:
        return (await db.execute(select(Account).where(Account.slack_team_id == team_id))).scalar_one()


async def prepare(
    sessions: async_sessionmaker[AsyncSession],
    account_id: str,
    *,
    title: str,
    options: list[Option],
    action_type: ActionType = ActionType.INVOICE_FOLLOW_UP,
    severity: AlertSeverity = AlertSeverity.THIS_WEEK,
    amount: str = "4200",
    counterparty: str = "Acme Corp",
    deadline: date | None = date(2026, 12, 11),
    explanation: str = "Acme Corp's invoice of $4,200.00 is 16 days late.",
    channel: str | None = None,
) -> PreparedAction:
    """One alert, its action and options; with ``channel``, the card is queued for it like the pipeline does."""
    async with sessions() as db, db.begin():
        alert = DetectionAlert(
            user_id=account_id, detection_type=DetectionType.LATE_PAYMENT, severity=severity,
            fingerprint=f"late:{title}", entity_type="client", entity_name=counterparty, title=title, explanation=explanation,
            amount=Decimal(amount), currency="USD", due_date=deadline, first_detected_at=NOW, last_detected_at=NOW,
        )
        db.add(alert)
        await db.flush()
        action = PreparedAction(
            user_id=account_id, alert_id=alert.id, action_type=action_type, severity=severity, title=title,
            summary=f"{counterparty} owes {amount}.", amount=Decimal(amount), currency="USD", counterparty_name=counterparty,
            deadline=deadline, created_at=NOW,
        )
        db.add(action)
        await db.flush()
        for rank, option in enumerate(options, start=1):
            db.add(ActionOption(
                action_id=action.id, rank=rank, kind=option.kind, title=option.title, description=f"{option.title}.",
                amount=Decimal(amount), currency="USD", counterparty_name=counterparty, recipient_email=option.email,
                draft_subject=option.subject, draft_body=option.body, risk_level=option.risk,
                forecast_lowest_balance=Decimal(option.lowest) if option.lowest else None,
                forecast_lowest_week=date(2026, 12, 28) if option.lowest else None, params=option.params,
            ))
        if channel:
            await enqueue(db, account_id=account_id, kind="action_card", channel=channel, payload={"action_id": action.id},
                          idempotency_key=f"card:{action.id}", now=NOW)
        return action


async def link(sessions: async_sessionmaker[AsyncSession], account_id: str, source: str, target: str, link_type: LinkType) -> None:
    async with sessions() as db, db.begin():
        db.add(LinkedAction(user_id=account_id, source_action_id=source, target_action_id=target, link_type=link_type,
                            group_id="grp_1", reason="test"))


async def reload(sessions: async_sessionmaker[AsyncSession], action_id: str) -> PreparedAction:
    async with sessions() as db:
        action = await db.get(PreparedAction, action_id)
        assert action is not None
        return action
