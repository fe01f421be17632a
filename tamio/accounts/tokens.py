"""API tokens: bearer secrets for the REST API, one per member and purpose, stored only as SHA-256.

Why: the REST API acts as a member of one account, with that member's role, and a leaked
database must not leak working tokens. A token is shown once, when it is created; afterwards only
its prefix (``tamio_AbCd1234``) identifies it in lists. Revoking is immediate and permanent.
Admins create and revoke tokens for members of their own account; at the command line the
operator (who owns the server) may too, and says so by passing ``actor=None``.

    issued = await create_token(db, account=account, actor=admin, member_id=member.id, name="ci", now=now)
    print(issued.secret)                      # tamio_...; the only time it is visible
    token = await verify_token(db, secret=issued.secret, now=now)   # the ApiToken, or None
    await revoke_token(db, account=account, actor=admin, token_id=issued.token.id, now=now)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, ApiToken, Member, Role
from tamio.accounts.permissions import Operation
from tamio.accounts.service import get_member_by_id, has_permission, require_permission
from tamio.audit.service import AuditService
from tamio.errors import NotFound, ValidationError

SECRET_PREFIX = "tamio_"
PREFIX_LENGTH = 14  # "tamio_" and 8 characters of the secret: enough to tell tokens apart
MAX_SECRET_LENGTH = 200
# last_used_at is a hint for people reviewing tokens, not a log: write it at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A new token's row and its secret; the secret exists nowhere else once this is dropped."""

    token: ApiToken
    secret: str


@dataclass(frozen=True)
class VerifiedToken:
    """Whom a valid bearer token speaks for."""

    token_id: str
    account_id: str
    member_id: str
    role: Role


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _actor_name(actor: Member | None) -> str:
    return "operator" if actor is None else actor.id


async def create_token(
    db: AsyncSession, *, account: Account, actor: Member | None, member_id: str, name: str = "", now: datetime
) -> IssuedToken:
    """A token for ``member_id`` of ``account``, created by an admin (or the operator: ``actor=None``)."""
    if actor is not None:
        if actor.user_id != account.id:
            raise NotFound("That member is not in this account.")
        require_permission(actor, Operation.MANAGE_TOKENS, "create API tokens")
    name = name.strip()
    if len(name) > 200:
        raise ValidationError("A token name has at most 200 characters.", field_errors={"name": "at most 200 characters"})
    member = await get_member_by_id(db, account_id=account.id, member_id=member_id)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=account.id,
        member_id=member.id,
        name=name,
        token_hash=hash_secret(secret),
        prefix=secret[:PREFIX_LENGTH],
        created_at=now,
    )
    db.add(token)
    await db.flush()
    await AuditService(db, account.id, actor=_actor_name(actor), clock=lambda: now).log_create(
        "api_token", token.id, {"member_id": member.id, "name": name, "prefix": token.prefix, "role": member.role}
    )
    return IssuedToken(token=token, secret=secret)


async def verify_token(db: AsyncSession, *, secret: str, now: datetime) -> VerifiedToken | None:
    """Who a presented secret speaks for; None when it is unknown, revoked, or its member or account is gone."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > MAX_SECRET_LENGTH:
        return None
    stmt = (
        select(ApiToken, Member.role, Account.is_active)
        .join(Member, Member.id == ApiToken.member_id)
        .join(Account, Account.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_secret(secret), Member.user_id == ApiToken.user_id)
    )
    row = (await db.execute(stmt)).first()
    if row is None:
        return None
    token, role, account_active = row
    if token.revoked_at is not None or not account_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        await db.flush()
    return VerifiedToken(token_id=token.id, account_id=token.user_id, member_id=token.member_id, role=role)


async def list_tokens(db: AsyncSession, *, account_id: str, include_revoked: bool = True) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.user_id == account_id).order_by(ApiToken.created_at, ApiToken.id)
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    return list((await db.execute(stmt)).scalars().all())


async def revoke_token(
    db: AsyncSession, *, account: Account, actor: Member | None, token_id: str, now: datetime
) -> ApiToken:
    """Revoke a token of this account; admins revoke any, a member their own. Revoking twice is a no-op."""
    token = await db.get(ApiToken, token_id)
    if token is None or token.user_id != account.id:
        raise NotFound(f"There is no API token `{token_id}` in this account.", hint="List them with `tamio token list`.")
    if actor is not None:
        if actor.user_id != account.id:
            raise NotFound("That member is not in this account.")
        if actor.id != token.member_id and not has_permission(actor, Operation.MANAGE_TOKENS):
            require_permission(actor, Operation.MANAGE_TOKENS, "revoke other members' API tokens")
    if token.revoked_at is None:
        token.revoked_at = now
        await db.flush()
        await AuditService(db, account.id, actor=_actor_name(actor), clock=lambda: now).log_update(
            "api_token", token.id, {"revoked_at": (None, now)}
        )
    return token
