"""Ask for an account's figures to be worked out again, in the transaction of the change.

Every change to money data is written with an audit row (``AuditService.log``), which calls
``request_refresh`` for the entity types below: an obligation added or edited, a schedule moved, a
payment, a balance, a client's or vendor's terms, a threshold, a carried-out action (a Xero sync
writes the same rows). The request is one upserted row per account: the scopes of all changes
(bit flags: the cash position, clients, vendors) and a generation counter. The drain
(``tamio.scheduler.refresh``) takes the rows after the commit and runs the TARGETED pipeline once
per account, whatever the number of changes.

    await request_refresh(db, account_id=account.id, scopes=CASH, reason="cash_account update", now=now)
    scopes = scopes_of_change("obligation_schedule", {"changes": {...}})   # EVERYTHING
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.refresh.models import RefreshRequest

CASH, CLIENTS, VENDORS = 1, 2, 4
EVERYTHING = CASH | CLIENTS | VENDORS
# What a change to each kind of entity can move: the cash position always, and the detection types
# of the counterparty when the entity is (or may belong to) one. Cash moves every card's "lowest
# after" and usually comes with other changes in one transaction (a payment, a carried-out action),
# which then ask once: one upsert per transaction is what the request costs a writer.
ENTITY_SCOPES: Mapping[str, int] = {
    "cash_account": EVERYTHING,
    "client": CASH | CLIENTS,
    "expense_bucket": CASH | VENDORS,
    "obligation_agreement": EVERYTHING,
    "obligation_schedule": EVERYTHING,
    "payment_event": EVERYTHING,
    "user_configuration": EVERYTHING,
}
_MARK = "tamio.refresh.requested"  # session.info: account id -> (transaction, scopes) already written


def scopes_of_change(entity_type: str, changes: Mapping[str, Any]) -> int:
    """What an audited change can move (0: nothing a figure depends on). A carried-out action moved
    money or sent a chase (which changes what may be proposed next)."""
    if entity_type == "prepared_action":
        return EVERYTHING if changes.get("to") == "executed" else 0
    return ENTITY_SCOPES.get(entity_type, 0)


def _transaction(db: AsyncSession) -> object | None:
    sync = db.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()


async def request_refresh(db: AsyncSession, *, account_id: str, scopes: int, reason: str, now: datetime) -> None:
    """Upsert the account's request (scopes OR-ed, generation + 1); once per (sub)transaction and scope."""
    if not scopes:
        return
    marks: dict[str, tuple[object | None, int]] = db.info.setdefault(_MARK, {})
    transaction = _transaction(db)
    seen = marks.get(account_id)
    if seen is not None and transaction is not None and seen[0] is transaction and seen[1] | scopes == seen[1]:
        return
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(RefreshRequest).values(
        user_id=account_id, scopes=scopes, generation=1, reason=reason[:200], first_requested_at=now, last_requested_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[RefreshRequest.user_id],
        set_={
            "scopes": RefreshRequest.scopes.op("|")(stmt.excluded.scopes),
            "generation": RefreshRequest.generation + 1,
            "reason": stmt.excluded.reason,
            "last_requested_at": stmt.excluded.last_requested_at,
        },
    )
    await db.execute(stmt)
    marks[account_id] = (transaction, scopes | (seen[1] if seen is not None and seen[0] is transaction else 0))


def requested_in(db: AsyncSession) -> set[str]:
    """The accounts this session asked to refresh (the CLI drains them once its command is done)."""
    return set(db.info.get(_MARK, {}))


async def take_turn(db: AsyncSession, *, account_id: str) -> bool:
    """Whether this transaction may refresh the account: on PostgreSQL a transaction-scoped advisory
    lock that only refreshes take (False: another replica holds it); SQLite's writers queue anyway."""
    if db.get_bind().dialect.name != "postgresql":
        return True
    taken = await db.execute(text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"refresh:{account_id}"})
    return bool(taken.scalar_one())


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ends a wait


async def wait_turn(db: AsyncSession, *, account_id: str, seconds: float) -> bool:
    """``take_turn``, but waiting up to ``seconds`` for another replica's run of the account to end
    (its request is then answered, or still waiting for this one). False when it did not end in time:
    the transaction failed and must be rolled back. The wait's limit holds for the lock only."""
    if db.get_bind().dialect.name != "postgresql":
        return True
    await db.execute(text(f"SET LOCAL lock_timeout = {max(1, round(seconds * 1000))}"))
    try:
        await db.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"refresh:{account_id}"})
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return False
        raise
    await db.execute(text("SET LOCAL lock_timeout = DEFAULT"))
    return True


async def waiting(db: AsyncSession, *, limit: int = 500, account_ids: list[str] | None = None) -> list[RefreshRequest]:
    """Requests waiting to be drained, the oldest first."""
    stmt = select(RefreshRequest).order_by(RefreshRequest.first_requested_at, RefreshRequest.user_id).limit(limit)
    if account_ids is not None:
        stmt = stmt.where(RefreshRequest.user_id.in_(account_ids))
    return list((await db.execute(stmt)).scalars().all())


async def current(db: AsyncSession, *, account_id: str) -> RefreshRequest | None:
    stmt = select(RefreshRequest).where(RefreshRequest.user_id == account_id).execution_options(populate_existing=True)
    return (await db.execute(stmt)).scalars().first()


async def done(db: AsyncSession, *, account_id: str, generation: int) -> bool:
    """Drop the request a run answered, unless another came in meanwhile (then it stays for the next drain)."""
    result = await db.execute(
        delete(RefreshRequest).where(RefreshRequest.user_id == account_id, RefreshRequest.generation == generation)
        .returning(RefreshRequest.user_id)
    )
    return result.first() is not None
