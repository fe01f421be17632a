"""Changing a setting: one core function with its permission check and audit, for every edge (issue 17 item 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Role
from tamio.accounts.service import create_account, ensure_member
from tamio.audit.models import AuditLog
from tamio.data.models import Client
from tamio.data.settings import change_settings
from tamio.errors import PermissionDenied, ValidationError

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_a_change_is_made_once_and_audited_with_who_made_it(session: AsyncSession) -> None:
    account = await create_account(session, name="Acme Ltd", base_currency="USD")
    admin = await ensure_member(session, account_id=account.id, slack_user_id="UADMIN", role=Role.ADMIN)
    changed = await change_settings(session, account=account, member=admin, now=NOW,
                                    changes={"timezone": "Europe/Paris", "late_payment_threshold_days": 10})
    assert changed == {"timezone": ("UTC", "Europe/Paris"), "late_payment_threshold_days": (7, 10)}
    again = await change_settings(session, account=account, member=admin, now=NOW, changes={"timezone": "Europe/Paris"})
    assert again == {}
    rows = (await session.execute(select(AuditLog).where(AuditLog.user_id == account.id, AuditLog.action == "update"))).scalars().all()
    assert sorted((r.entity_type, r.actor) for r in rows) == [("account", admin.id), ("user_configuration", admin.id)]


async def test_only_admins_and_only_valid_values(session: AsyncSession) -> None:
    account = await create_account(session, name="Acme Ltd", base_currency="USD")
    approver = await ensure_member(session, account_id=account.id, slack_user_id="UAPP", role=Role.APPROVER)
    admin = await ensure_member(session, account_id=account.id, slack_user_id="UADMIN", role=Role.ADMIN)
    with pytest.raises(PermissionDenied, match="Only admins can change settings."):
        await change_settings(session, account=account, member=approver, now=NOW, changes={"timezone": "Europe/Paris"})
    with pytest.raises(ValidationError, match="time zone `Mars/Olympus`"):
        await change_settings(session, account=account, member=admin, now=NOW, changes={"timezone": "Mars/Olympus"})
    session.add(Client(user_id=account.id, name="Beta LLC", currency="USD"))
    await session.flush()
    with pytest.raises(ValidationError, match="base currency can only change before anything is recorded"):
        await change_settings(session, account=account, member=admin, now=NOW, changes={"base_currency": "EUR"})
    changed = await change_settings(session, account=account, member=admin, now=NOW, changes={"dual_approval_threshold": Decimal("5000")})
    assert changed == {"dual_approval_threshold": (Decimal("10000"), Decimal("5000"))}
