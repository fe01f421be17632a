"""AuditService: log every data change, hash-chained per account. It never commits.

The caller owns the transaction (design pitfall 5): a rolled-back change leaves no audit row.

    audit = AuditService(db, user_id=account.id, actor=member.id)
    await audit.log_create("client", client.id, {"name": "Acme Corp"})
    await audit.log_update("client", client.id, {"name": ("Old Name", "New Name")})
    await audit.log_sync("client", client.id, "xero", "push", {"contact_id": "..."})

A change to money data (``tamio.refresh.service.ENTITY_SCOPES``, or a carried-out action) also asks
for the account's figures to be worked out again (``request_refresh``), in the same transaction: every
writer audits its change, so no writer can forget it.

Rows of one account are numbered (``seq``) and chained: ``row_hash`` is the SHA-256 of the previous
row's hash and this row's canonical JSON. Appends are serialised per account (SQLite's
``BEGIN IMMEDIATE`` already does; on PostgreSQL a transaction-scoped advisory lock).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.audit.models import AuditLog
from tamio.db import utcnow
from tamio.refresh.service import request_refresh, scopes_of_change

GENESIS_HASH = "0" * 64


def to_jsonable(value: Any) -> Any:
    """Decimals, dates and enums as strings, recursively, so rows hash and serialise the same everywhere."""
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_row_hash(row: AuditLog | Mapping[str, Any], prev_hash: str) -> str:
    def get(name: str) -> Any:
        return row[name] if isinstance(row, Mapping) else getattr(row, name)

    created_at = get("created_at")
    body = {
        "user_id": get("user_id"),
        "seq": get("seq"),
        "actor": get("actor"),
        "action": get("action"),
        "entity_type": get("entity_type"),
        "entity_id": get("entity_id"),
        "changes": get("changes"),
        "integration": get("integration"),
        "direction": get("direction"),
        "created_at": created_at.isoformat() if isinstance(created_at, datetime) else created_at,
    }
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


class AuditService:
    def __init__(
        self,
        db: AsyncSession,
        user_id: str,
        *,
        actor: str = "system",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.user_id = user_id
        self.actor = actor
        self.clock = clock

    async def log_create(self, entity_type: str, entity_id: str, values: Mapping[str, Any]) -> AuditLog:
        return await self.log("create", entity_type, entity_id, {"values": values})

    async def log_update(self, entity_type: str, entity_id: str, changes: Mapping[str, tuple[Any, Any]]) -> AuditLog:
        diff = {field: {"old": old, "new": new} for field, (old, new) in changes.items()}
        return await self.log("update", entity_type, entity_id, {"changes": diff})

    async def log_delete(self, entity_type: str, entity_id: str, values: Mapping[str, Any] | None = None) -> AuditLog:
        return await self.log("delete", entity_type, entity_id, {"values": values or {}})

    async def log_sync(
        self, entity_type: str, entity_id: str, integration: str, direction: str, details: Mapping[str, Any]
    ) -> AuditLog:
        return await self.log(
            "sync", entity_type, entity_id, {"details": details}, integration=integration, direction=direction
        )

    async def log(
        self,
        action: str,
        entity_type: str,
        entity_id: str,
        changes: Mapping[str, Any],
        *,
        integration: str | None = None,
        direction: str | None = None,
    ) -> AuditLog:
        await self._serialise_appends()
        last = (
            await self.db.execute(
                select(AuditLog.seq, AuditLog.row_hash)
                .where(AuditLog.user_id == self.user_id)
                .order_by(AuditLog.seq.desc())
                .limit(1)
            )
        ).first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        row = AuditLog(
            user_id=self.user_id,
            seq=seq,
            actor=self.actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            changes=to_jsonable(changes),
            integration=integration,
            direction=direction,
            prev_hash=prev_hash,
            created_at=self.clock().replace(microsecond=0),
        )
        row.row_hash = compute_row_hash(row, prev_hash)
        self.db.add(row)
        await self.db.flush()
        scopes = scopes_of_change(entity_type, changes)
        if scopes:
            await request_refresh(self.db, account_id=self.user_id, scopes=scopes, reason=f"{entity_type} {action}", now=row.created_at)
        return row

    async def _serialise_appends(self) -> None:
        bind = self.db.get_bind()
        if bind.dialect.name == "postgresql":
            await self.db.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"audit:{self.user_id}"})


@dataclass(frozen=True)
class AuditVerification:
    rows_checked: int
    first_bad_seq: int | None
    first_bad_id: str | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


async def verify_chain(db: AsyncSession, *, account_id: str) -> AuditVerification:
    """Walk an account's audit rows in order and report the first one that was tampered with."""
    rows = (
        await db.execute(select(AuditLog).where(AuditLog.user_id == account_id).order_by(AuditLog.seq))
    ).scalars().all()
    prev_hash = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            return AuditVerification(expected_seq - 1, row.seq, row.id, f"expected row {expected_seq} here, found row {row.seq}")
        if row.prev_hash != prev_hash:
            return AuditVerification(expected_seq - 1, row.seq, row.id, "its link to the previous row is broken")
        if compute_row_hash(row, prev_hash) != row.row_hash:
            return AuditVerification(expected_seq - 1, row.seq, row.id, "its content does not match its hash")
        prev_hash = row.row_hash
    return AuditVerification(len(rows), None, None, None)


async def count_rows(db: AsyncSession, *, account_id: str) -> int:
    return int((await db.execute(select(func.count()).select_from(AuditLog).where(AuditLog.user_id == account_id))).scalar_one())
