"""Accounts, members and roles.

An account is created with its UserConfiguration (the design document's defaults) in the caller's
transaction. The edges open one with ``tamio.opening.open_account``, which adds the defaults of the
layers above (the default ExecutionAutomationRules).

    account = await create_account(db, name="Acme Ltd", base_currency="USD", timezone="Europe/London", now=now)
    member = await ensure_member(db, account_id=account.id, slack_user_id="U123", role=Role.ADMIN, now=now)
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member, Role, UserConfiguration
from tamio.accounts.permissions import Operation, allows, check
from tamio.audit.service import AuditService
from tamio.errors import NotFound, ValidationError
from tamio.money import normalize_currency


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        message = f"I don't know the time zone `{name}`. Use a name such as Europe/London or America/New_York."
        raise ValidationError(message, field_errors={"timezone": message}) from exc
    return name


def validate_locale(name: str) -> str:
    """A locale babel knows, in its form (``en-GB`` and ``en_gb`` become ``en_GB``)."""
    try:
        return str(Locale.parse(name.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValidationError(f"I don't know the locale `{name}`. Use a name such as en_US, en_GB, de_DE or fr_FR.") from exc


async def create_account(
    db: AsyncSession,
    *,
    name: str,
    base_currency: str,
    timezone: str = "UTC",
    slack_team_id: str | None = None,
    slack_enterprise_id: str | None = None,
    now: datetime,
) -> Account:
    if not name.strip():
        raise ValidationError("An account needs a name.", field_errors={"name": "must not be empty"})
    account = Account(
        name=name.strip(),
        base_currency=normalize_currency(base_currency),
        timezone=validate_timezone(timezone),
        slack_team_id=slack_team_id,
        slack_enterprise_id=slack_enterprise_id,
        created_at=now,  # the caller's clock: detection counts the record from this day
    )
    db.add(account)
    await db.flush()
    db.add(UserConfiguration(user_id=account.id))
    await AuditService(db, account.id, clock=lambda: now).log_create(
        "account", account.id, {"name": account.name, "base_currency": account.base_currency, "timezone": account.timezone}
    )
    await db.flush()
    return account


async def get_account(db: AsyncSession, *, account_id: str) -> Account:
    account = await db.get(Account, account_id)
    if account is None:
        raise NotFound(f"There is no account `{account_id}`.", hint="List them with `tamio account list`.")
    return account


async def list_accounts(db: AsyncSession) -> list[Account]:
    return list((await db.execute(select(Account).order_by(Account.created_at, Account.id))).scalars().all())


async def resolve_account(db: AsyncSession, *, account_id: str | None) -> Account:
    """The account named, or the only one when exactly one exists (CLI convenience)."""
    if account_id:
        return await get_account(db, account_id=account_id)
    accounts = (await db.execute(select(Account).limit(2))).scalars().all()
    if not accounts:
        raise NotFound("There is no account yet.", hint='Create one with `tamio account create --name "Acme Ltd" --base-currency USD`.')
    if len(accounts) > 1:
        raise ValidationError("There are several accounts; say which one with `--account ID` (see `tamio account list`).")
    return accounts[0]


async def account_for_team(db: AsyncSession, *, team_id: str, enterprise_id: str | None = None) -> Account | None:
    stmt = select(Account).where(Account.slack_team_id == team_id)
    stmt = stmt.where(Account.slack_enterprise_id == enterprise_id) if enterprise_id else stmt
    return (await db.execute(stmt.limit(1))).scalars().first()


async def get_member(db: AsyncSession, *, account_id: str, slack_user_id: str) -> Member | None:
    stmt = select(Member).where(Member.user_id == account_id, Member.slack_user_id == slack_user_id)
    return (await db.execute(stmt)).scalars().first()


async def get_member_by_id(db: AsyncSession, *, account_id: str, member_id: str) -> Member:
    member = await db.get(Member, member_id)
    if member is None or member.user_id != account_id:
        raise NotFound(f"There is no member `{member_id}` in this account.")
    return member


async def ensure_member(
    db: AsyncSession,
    *,
    account_id: str,
    slack_user_id: str,
    display_name: str = "",
    role: Role = Role.VIEWER,
    email: str | None = None,
    is_installer: bool = False,
    now: datetime,
) -> Member:
    """The member for this Slack user, created with ``role`` on first sight (an existing role is kept)."""
    member = await get_member(db, account_id=account_id, slack_user_id=slack_user_id)
    if member is not None:
        if display_name and member.display_name != display_name:
            member.display_name = display_name
        return member
    member = Member(
        user_id=account_id, slack_user_id=slack_user_id, display_name=display_name, role=role, email=email, is_installer=is_installer
    )
    db.add(member)
    await db.flush()
    await AuditService(db, account_id, clock=lambda: now).log_create("member", member.id, {"slack_user_id": slack_user_id, "role": role})
    return member


async def add_member(
    db: AsyncSession,
    *,
    account_id: str,
    display_name: str,
    role: Role,
    slack_user_id: str | None = None,
    email: str | None = None,
    now: datetime,
) -> Member:
    """A member added by the operator (``tamio member add``): a name people can use with ``--as``, and a role.

    A name or Slack user id already in the account is refused, so ``--as NAME`` always means one person.
    """
    name = display_name.strip().lstrip("@").strip()
    if not name:
        raise ValidationError("A member needs a name, e.g. `--name ada`.", field_errors={"display_name": "must not be empty"})
    slack = (slack_user_id or "").strip() or None
    clash = select(Member).where(Member.user_id == account_id, func.lower(Member.display_name) == name.lower())
    if (await db.execute(clash.limit(1))).scalars().first() is not None:
        raise ValidationError(f"There is already a member called `{name}` in this account; choose another name (see `tamio member list`).")
    if slack and await get_member(db, account_id=account_id, slack_user_id=slack) is not None:
        raise ValidationError(f"The Slack user `{slack}` is already a member of this account (see `tamio member list`).")
    member = Member(user_id=account_id, slack_user_id=slack, display_name=name, role=role, email=email)
    db.add(member)
    await db.flush()
    await AuditService(db, account_id, clock=lambda: now).log_create("member", member.id, {"slack_user_id": slack, "display_name": name, "role": role})
    return member


async def list_members(db: AsyncSession, *, account_id: str) -> list[Member]:
    stmt = select(Member).where(Member.user_id == account_id).order_by(Member.created_at, Member.id)
    return list((await db.execute(stmt)).scalars().all())


async def count_admins(db: AsyncSession, *, account_id: str) -> int:
    stmt = select(func.count()).select_from(Member).where(Member.user_id == account_id, Member.role == Role.ADMIN)
    return int((await db.execute(stmt)).scalar_one())


async def set_role(db: AsyncSession, *, account_id: str, actor: Member, target: Member, role: Role, now: datetime) -> Member:
    check(actor.role, Operation.CHANGE_ROLES, doing="change roles")
    if target.user_id != account_id:
        raise NotFound("That member is not in this account.")
    if target.role == Role.ADMIN and role != Role.ADMIN and await count_admins(db, account_id=account_id) <= 1:
        raise ValidationError("That would leave the account without an admin. Make someone else an admin first.")
    old = target.role
    target.role = role
    await AuditService(db, account_id, actor=actor.id, clock=lambda: now).log_update("member", target.id, {"role": (old, role)})
    await db.flush()
    return target


def has_permission(member: Member | None, operation: Operation) -> bool:
    return member is not None and allows(member.role, operation)


def require_permission(member: Member | None, operation: Operation, doing: str) -> None:
    """``PermissionDenied`` unless the member's role may do ``operation`` (tamio.accounts.permissions)."""
    check(member.role if member is not None else None, operation, doing=doing)


async def get_user_configuration(db: AsyncSession, *, account_id: str) -> UserConfiguration:
    """The account's configuration, created with the defaults when first read."""
    config = await db.get(UserConfiguration, account_id)
    if config is None:
        await get_account(db, account_id=account_id)
        config = UserConfiguration(user_id=account_id)
        db.add(config)
        await db.flush()
    return config


def local_now(account: Account, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(account.timezone))
