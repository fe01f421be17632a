"""IntegrationConnection: an account's OAuth tokens for one integration, encrypted at rest and kept fresh.

Tokens are written with ``TokenCipher`` (Fernet, ``TAMIO_SECRET_KEY``), so the database holds only
ciphertext. ``TokenKeeper`` hands a sync a fresh access token: it refreshes a little before expiry
(or when the integration refuses the token), and stores the new token set in its own committed
transaction at once, because Xero rotates the refresh token on every use and the old one dies 30
minutes later. Refreshes of one connection are serialised (row lock on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite), and a process that finds the token already refreshed by another uses it.

When the integration refuses the refresh token (``invalid_grant``) the connection is marked
``needs_reconnect`` and the account's channel is told once: an outbox row whose idempotency key is
tied to the refused refresh token, so a second failure (or another replica) adds nothing, while a
later reconnect-then-failure is told again.

    keeper = TokenKeeper(sessions, connection_id=conn.id, cipher=cipher, refresher=adapter.refresh, clock=clock)
    adapter.access_token = await keeper.access_token()
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.errors import NotFound
from tamio.integrations.base import ReconnectRequired, TokenSet
from tamio.integrations.crypto import TokenCipher
from tamio.integrations.models import IntegrationConnection
from tamio.outbox.service import enqueue

ACTIVE, NEEDS_RECONNECT, DISCONNECTED = "active", "needs_reconnect", "disconnected"
RECONNECT_KIND = "integration_reconnect"
REFRESH_MARGIN = timedelta(minutes=5)
DISPLAY_NAMES = {"xero": "Xero", "quickbooks": "QuickBooks"}

Refresher = Callable[[TokenSet], Awaitable[TokenSet]]


def display_name(integration_type: str) -> str:
    return DISPLAY_NAMES.get(integration_type, integration_type.title())


async def get_connection(db: AsyncSession, *, account_id: str, integration_type: str) -> IntegrationConnection | None:
    stmt = select(IntegrationConnection).where(
        IntegrationConnection.user_id == account_id, IntegrationConnection.integration_type == integration_type
    )
    return (await db.execute(stmt)).scalars().first()


async def require_connection(db: AsyncSession, *, account_id: str, integration_type: str) -> IntegrationConnection:
    connection = await get_connection(db, account_id=account_id, integration_type=integration_type)
    if connection is None or connection.status == DISCONNECTED:
        name = display_name(integration_type)
        raise NotFound(f"{name} is not connected to this account.", hint=f"Connect it with `/tamio connect {integration_type}`.")
    return connection


def write_tokens(connection: IntegrationConnection, tokens: TokenSet, cipher: TokenCipher) -> None:
    connection.access_token_encrypted = cipher.encrypt(tokens.access_token)
    connection.refresh_token_encrypted = cipher.encrypt(tokens.refresh_token)
    connection.expires_at = tokens.expires_at
    connection.scopes = tokens.scope[:500]


def read_tokens(connection: IntegrationConnection, cipher: TokenCipher) -> TokenSet:
    if not connection.access_token_encrypted or not connection.refresh_token_encrypted or connection.expires_at is None:
        raise ReconnectRequired(
            f"{display_name(connection.integration_type)} has no tokens stored for this account.",
            hint=f"Reconnect with `/tamio connect {connection.integration_type}`.",
        )
    return TokenSet(
        access_token=cipher.decrypt(connection.access_token_encrypted),
        refresh_token=cipher.decrypt(connection.refresh_token_encrypted),
        expires_at=connection.expires_at,
        scope=connection.scopes,
    )


async def save_connection(
    db: AsyncSession,
    *,
    account_id: str,
    integration_type: str,
    tokens: TokenSet,
    cipher: TokenCipher,
    tenant_id: str | None,
    tenant_name: str | None,
    now: datetime,
) -> IntegrationConnection:
    """Store a new connection, or reconnect an existing one (same row, fresh tokens, active again).

    A reconnect to another organisation forgets the sync position: the next sync is a full one.
    """
    connection = await get_connection(db, account_id=account_id, integration_type=integration_type)
    if connection is None:
        connection = IntegrationConnection(
            user_id=account_id, integration_type=integration_type, sync_cursor={}, created_at=now
        )
        db.add(connection)
    elif connection.tenant_id != tenant_id:
        connection.sync_cursor = {}
        connection.last_sync_at = None
    write_tokens(connection, tokens, cipher)
    connection.tenant_id = tenant_id
    connection.tenant_name = tenant_name
    connection.status = ACTIVE
    connection.reconnect_notified_at = None
    connection.updated_at = now
    await db.flush()
    return connection


async def choose_organisation(
    db: AsyncSession, *, connection: IntegrationConnection, tenant_id: str, tenant_name: str | None, now: datetime
) -> IntegrationConnection:
    """Pick the organisation to sync when the user connected several; another one starts afresh."""
    if connection.tenant_id != tenant_id:
        connection.sync_cursor = {}
        connection.last_sync_at = None
    connection.tenant_id = tenant_id
    connection.tenant_name = tenant_name
    connection.updated_at = now
    await db.flush()
    return connection


def _token_fingerprint(connection: IntegrationConnection, cipher: TokenCipher) -> str:
    """Identifies the refused refresh token without storing it: the key of "tell once"."""
    try:
        token = cipher.decrypt(connection.refresh_token_encrypted or "")
    except Exception:  # an unreadable token is one more reason to reconnect; key on the row instead
        token = f"unreadable:{connection.id}"
    return hashlib.sha256(token.encode()).hexdigest()[:16]


async def mark_needs_reconnect(
    db: AsyncSession, *, connection: IntegrationConnection, cipher: TokenCipher, now: datetime, reason: str
) -> bool:
    """Mark the connection and tell the account's channel, once; returns whether a message was queued."""
    if connection.status != NEEDS_RECONNECT:
        connection.status = NEEDS_RECONNECT
        connection.updated_at = now
    if connection.reconnect_notified_at is not None:
        await db.flush()
        return False
    account = await db.get(Account, connection.user_id)
    name = display_name(connection.integration_type)
    organisation = f" ({connection.tenant_name})" if connection.tenant_name else ""
    text = (
        f":warning: {name}{organisation} stopped accepting Tamio's access, so syncing has paused. "
        f"Reconnect with `/tamio connect {connection.integration_type}`; until then Tamio uses what it synced last."
    )
    added = await enqueue(
        db,
        account_id=connection.user_id,
        kind=RECONNECT_KIND,
        channel=account.digest_channel_id if account else None,
        payload={"text": text, "integration": connection.integration_type, "reason": reason[:500]},
        idempotency_key=f"reconnect:{connection.id}:{_token_fingerprint(connection, cipher)}",
        now=now,
    )
    connection.reconnect_notified_at = now
    await db.flush()
    return added


async def reencrypt_connections(db: AsyncSession, *, cipher: TokenCipher) -> int:
    """Re-encrypt every stored token with the newest key; returns how many connections changed."""
    changed = 0
    for connection in (await db.execute(select(IntegrationConnection))).scalars().all():
        touched = False
        for column in ("access_token_encrypted", "refresh_token_encrypted"):
            value = getattr(connection, column)
            if value and not cipher.is_current(value):
                setattr(connection, column, cipher.rotate(value))
                touched = True
        changed += touched
    await db.flush()
    return changed


class TokenKeeper:
    """A fresh access token for one connection, refreshed and stored in its own transactions."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        connection_id: str,
        cipher: TokenCipher,
        refresher: Refresher,
        clock: Callable[[], datetime],
        margin: timedelta = REFRESH_MARGIN,
    ) -> None:
        self.sessions = sessions
        self.connection_id = connection_id
        self.cipher = cipher
        self.refresher = refresher
        self.clock = clock
        self.margin = margin
        self._tokens: TokenSet | None = None
        self.refreshes = 0

    async def access_token(self) -> str:
        """The current access token, refreshed first when it expires within the margin."""
        tokens = self._tokens
        if tokens is None or tokens.expires_within(self.margin.total_seconds(), now=self.clock()):
            tokens = await self._refresh(stale=None)
        return tokens.access_token

    async def refresh_after_refusal(self, refused_access_token: str | None) -> str:
        """The integration refused this access token: refresh (unless someone already did)."""
        return (await self._refresh(stale=refused_access_token)).access_token

    async def _refresh(self, *, stale: str | None) -> TokenSet:
        failure: ReconnectRequired | None = None
        async with self.sessions() as db, db.begin():
            connection = await self._locked(db)
            if connection.status == NEEDS_RECONNECT:
                raise ReconnectRequired(
                    f"{display_name(connection.integration_type)} needs reconnecting before Tamio can sync again.",
                    hint=f"Reconnect with `/tamio connect {connection.integration_type}`.",
                )
            tokens = read_tokens(connection, self.cipher)
            now = self.clock()
            if stale is None and not tokens.expires_within(self.margin.total_seconds(), now=now):
                self._tokens = tokens  # still good (or another process refreshed it)
                return tokens
            if stale is not None and tokens.access_token != stale:
                self._tokens = tokens  # another process refreshed it after our call was refused
                return tokens
            try:
                tokens = await self.refresher(tokens)
            except ReconnectRequired as exc:
                await mark_needs_reconnect(db, connection=connection, cipher=self.cipher, now=now, reason=str(exc))
                failure = exc
            else:
                write_tokens(connection, tokens, self.cipher)  # the rotated refresh token, stored at once
                connection.updated_at = now
                self.refreshes += 1
        if failure is not None:
            raise failure
        self._tokens = tokens
        return tokens

    async def _locked(self, db: AsyncSession) -> IntegrationConnection:
        stmt = select(IntegrationConnection).where(IntegrationConnection.id == self.connection_id)
        if db.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        connection = (await db.execute(stmt)).scalars().first()
        if connection is None:
            raise NotFound("That integration connection no longer exists.", hint="Connect the integration again.")
        return connection
