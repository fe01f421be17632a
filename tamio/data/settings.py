"""Changing how the account is run: one function for every edge, with its permission check and audit.

``/tamio config set``, the Settings modal, ``/tamio digest here`` and ``PUT /api/v1/data/user-config``
all call ``change_settings``; it checks the permission table (admins), validates the values that
need the database or a catalogue (time zone, locale, a base currency nothing is recorded in yet),
writes them on the account or its ``UserConfiguration``, and audits what changed, in the caller's
transaction. Values already equal are not changes and are not audited.

    changed = await change_settings(db, account=account, member=admin, changes={"timezone": "Europe/Paris"}, now=now)
    changed["timezone"]   # ("UTC", "Europe/Paris")
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member, UserConfiguration
from tamio.accounts.permissions import Operation, check
from tamio.accounts.service import get_user_configuration, validate_locale, validate_timezone
from tamio.audit.service import AuditService
from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.errors import ValidationError

ACCOUNT_KEYS = frozenset({"base_currency", "timezone", "locale", "dual_approval_threshold", "digest_channel_id"})
Changes = dict[str, tuple[Any, Any]]


async def base_currency_is_free(db: AsyncSession, *, account_id: str) -> bool:
    """Nothing is recorded yet: every amount would otherwise already be converted to the old currency."""
    for model in (CashAccount, Client, ExpenseBucket):
        count = (await db.execute(select(func.count()).select_from(model).where(model.user_id == account_id))).scalar_one()
        if count:
            return False
    return True


async def _validated(db: AsyncSession, account: Account, key: str, value: Any) -> Any:
    if key == "base_currency" and value != account.base_currency and not await base_currency_is_free(db, account_id=account.id):
        raise ValidationError(
            "The base currency can only change before anything is recorded: every amount is already converted to it.",
        )
    if key == "timezone":
        return validate_timezone(str(value))
    if key == "locale":
        return validate_locale(str(value))
    return value


async def change_settings(
    db: AsyncSession,
    *,
    account: Account,
    member: Member | None,
    changes: Mapping[str, Any],
    now: datetime,
    doing: str = "change settings",
    token: bool = False,
) -> Changes:
    """Apply ``changes`` (setting name -> new value) and audit them; returns name -> (old, new) of what changed.

    ``member`` None: a system actor with no role (refused). ``doing`` words the refusal;
    ``token``: the caller is an API token (the refusal names the token's role).
    """
    check(member.role if member is not None else None, Operation.CHANGE_SETTINGS, doing=doing, token=token)
    assert member is not None
    config: UserConfiguration | None = None
    done: dict[str, Changes] = {"account": {}, "user_configuration": {}}
    for key, raw in changes.items():
        value = await _validated(db, account, key, raw)
        if key in ACCOUNT_KEYS:
            owner: object = account
            entity = "account"
        else:
            config = config or await get_user_configuration(db, account_id=account.id)
            if not hasattr(config, key):
                raise ValidationError(f"There is no setting `{key}`.")
            owner, entity = config, "user_configuration"
        old = getattr(owner, key)
        if old == value:
            continue
        setattr(owner, key, value)
        done[entity][key] = (old, value)
    if config is not None and done["user_configuration"]:
        config.updated_at = now
    await db.flush()
    audit = AuditService(db, account.id, actor=member.id, clock=lambda: now)
    for entity, diff in done.items():
        if diff:
            await audit.log_update(entity, account.id, diff)
    return {key: change for diff in done.values() for key, change in diff.items()}
