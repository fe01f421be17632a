"""An account's life with its Slack workspace: removed (uninstalled, bot token revoked), installed again, purged.

When a workspace removes Tamio the account is deactivated, not deleted: nothing runs for it any
more (the scheduler and automation skip inactive accounts, the outbox sends nothing), and its data
is kept for ``Settings.uninstall_retention_days`` so that installing Tamio again resumes where it
stopped, roles included. Past the retention period the housekeeping job deletes the account and
everything of it. Each change is audited.

    await deactivate_account(db, account=account, reason="app_uninstalled", now=now)
    await reactivate_account(db, account=account, now=now)       # installed again: resumes
    purged = await purge_deactivated(db, retention=timedelta(days=30), now=now)

A new account takes its time zone and locale from the person who installed it (their Slack ``tz``
and ``locale``): ``adopt_installer_defaults``; an admin changes either later with ``config set``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.accounts.service import validate_locale, validate_timezone
from tamio.audit.service import AuditService
from tamio.errors import ValidationError

REASONS = ("app_uninstalled", "tokens_revoked")


async def deactivate_account(db: AsyncSession, *, account: Account, reason: str, now: datetime, actor: str = "slack") -> bool:
    """Pause everything for the account (its workspace removed Tamio); False when it was already paused."""
    if not account.is_active:
        return False
    account.is_active = False
    account.deactivated_at = now
    account.deactivated_reason = reason[:40]
    await AuditService(db, account.id, actor=actor, clock=lambda: now).log_update(
        "account", account.id, {"is_active": (True, False), "deactivated_reason": (None, account.deactivated_reason)})
    return True


async def reactivate_account(db: AsyncSession, *, account: Account, now: datetime, actor: str = "slack") -> bool:
    """The workspace installed Tamio again: everything resumes with the data kept; False when it was active."""
    if account.is_active:
        return False
    was = account.deactivated_reason
    account.is_active = True
    account.deactivated_at = None
    account.deactivated_reason = None
    await AuditService(db, account.id, actor=actor, clock=lambda: now).log_update(
        "account", account.id, {"is_active": (False, True), "deactivated_reason": (was, None)})
    return True


async def purge_deactivated(db: AsyncSession, *, retention: timedelta, now: datetime) -> int:
    """Delete the accounts deactivated longer than ``retention`` ago, with all their data (foreign keys cascade)."""
    expired = (await db.execute(select(Account).where(
        Account.is_active.is_(False), Account.deactivated_at.is_not(None), Account.deactivated_at < now - retention,
    ))).scalars().all()
    for account in expired:
        await db.delete(account)
    await db.flush()
    return len(expired)


async def adopt_installer_defaults(db: AsyncSession, *, account: Account, timezone: str | None, locale: str | None) -> bool:
    """A new account (no member yet) takes the installer's time zone and locale; False when it had members."""
    if (await db.execute(select(Member.id).where(Member.user_id == account.id).limit(1))).first() is not None:
        return False
    for attribute, value, check in (("timezone", timezone, validate_timezone), ("locale", locale, validate_locale)):
        if not value:
            continue
        try:
            setattr(account, attribute, check(value))
        except ValidationError:
            continue  # Slack's value is unknown to Tamio: the account keeps its default
    return True
