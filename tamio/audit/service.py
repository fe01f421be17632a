"""AuditService: log every data change, chained per account under the server's key. It never commits.

The caller owns the transaction (design pitfall 5): a rolled-back change leaves no audit row.

    audit = AuditService(db, user_id=account.id, actor=member.id, clock=lambda: now)
    await audit.log_create("client", client.id, {"name": "Acme Corp"})
    await audit.log_update("client", client.id, {"name": ("Old Name", "New Name")})
    await audit.log_sync("client", client.id, "xero", "push", {"contact_id": "..."})
    await audit.log_many([AuditEntry.create("client", c.id, {"name": c.name}) for c in clients])  # a bulk import

A change to money data (``tamio.refresh.service.ENTITY_SCOPES``, or a carried-out action) also asks
for the account's figures to be worked out again (``request_refresh``), in the same transaction: every
writer audits its change, so no writer can forget it.

Rows of one account are numbered (``seq``) and chained: ``row_hash`` is an HMAC-SHA256, keyed by
the server secret the session was made with (``tamio.db.make_session_factory``), of the previous
row's hash and this row's canonical JSON. An append reads and moves the account's head
(``AuditHead``) in one upsert that also serialises appends per account (SQLite's ``BEGIN
IMMEDIATE`` already does; on PostgreSQL the upsert locks the head row until commit): one row is
read per append, never the chain. ``tamio.audit.verify`` checks a chain.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.audit.models import AuditHead, AuditLog
from tamio.bulk import copy_rows
from tamio.db import new_id
from tamio.refresh.service import request_refresh, scopes_of_change
from tamio.server_secret import GENERATE_HINT, SecretKeyInvalid, session_secret

GENESIS_HASH = "0" * 64
KEY_PURPOSE = "audit-chain"
_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})


def to_jsonable(value: Any) -> Any:
    """Decimals, dates and enums as strings, recursively, so rows hash and serialise the same everywhere."""
    if type(value) in _AS_THEY_ARE:  # the common case first (exact types: a str enum is not one)
        return value
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


def compute_row_hash(row: AuditLog | Mapping[str, Any], prev_hash: str, key: bytes) -> str:
    """The row's seal: HMAC-SHA256 under ``key`` of the previous hash and the row's content."""

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
    return hmac.new(key, (prev_hash + canonical_json(body)).encode(), hashlib.sha256).hexdigest()


def chain_keys(db: AsyncSession) -> tuple[bytes, ...]:
    """The audit keys of the session's server secret, newest first (a ``SecretKeyInvalid`` without one)."""
    secret = session_secret(db)
    if secret is None:
        raise SecretKeyInvalid(
            "The audit trail is sealed with the server secret, and none was given to this database session.",
            hint=f"Set TAMIO_SECRET_KEY; {GENERATE_HINT}.",
        )
    return secret.keys_for(KEY_PURPOSE)


@dataclass(frozen=True)
class AuditEntry:
    """One row for ``AuditService.log_many``: what ``log`` takes, as a value."""

    action: str
    entity_type: str
    entity_id: str
    changes: Mapping[str, Any]
    integration: str | None = None
    direction: str | None = None

    @classmethod
    def create(cls, entity_type: str, entity_id: str, values: Mapping[str, Any]) -> AuditEntry:
        return cls("create", entity_type, entity_id, {"values": values})

    @classmethod
    def update(cls, entity_type: str, entity_id: str, changes: Mapping[str, tuple[Any, Any]]) -> AuditEntry:
        return cls("update", entity_type, entity_id, {"changes": {field: {"old": old, "new": new} for field, (old, new) in changes.items()}})


class AuditService:
    def __init__(
        self,
        db: AsyncSession,
        user_id: str,
        *,
        actor: str = "system",
        clock: Callable[[], datetime],
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
        key = chain_keys(self.db)[0]
        last_seq, prev_hash = await self._take_head()
        row = AuditLog(
            user_id=self.user_id,
            seq=last_seq + 1,
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
        row.row_hash = compute_row_hash(row, prev_hash, key)
        self.db.add(row)
        await self.db.flush()
        await self.db.execute(
            update(AuditHead).where(AuditHead.user_id == self.user_id).values(seq=row.seq, row_hash=row.row_hash)
        )
        scopes = scopes_of_change(entity_type, changes)
        if scopes:
            await request_refresh(self.db, account_id=self.user_id, scopes=scopes, reason=f"{entity_type} {action}", now=row.created_at)
        return row

    async def log_many(self, entries: Sequence[AuditEntry]) -> int:
        """Append many rows in order, as ``log`` would one by one: one read of the head, one pass
        of the chain over the batch, one multi-row insert and one move of the head. Returns how many."""
        if not entries:
            return 0
        key = chain_keys(self.db)[0]
        last_seq, prev_hash = await self._take_head()
        created_at = self.clock().replace(microsecond=0)
        rows: list[dict[str, Any]] = []
        for entry in entries:
            last_seq += 1
            row: dict[str, Any] = {
                "id": new_id("aud"), "user_id": self.user_id, "seq": last_seq, "actor": self.actor, "action": entry.action,
                "entity_type": entry.entity_type, "entity_id": entry.entity_id, "changes": to_jsonable(entry.changes),
                "integration": entry.integration, "direction": entry.direction, "prev_hash": prev_hash, "created_at": created_at,
            }
            row["row_hash"] = prev_hash = compute_row_hash(row, prev_hash, key)
            rows.append(row)
        await copy_rows(self.db, AuditLog, rows)  # COPY on PostgreSQL (a bulk import's thousands)
        await self.db.execute(update(AuditHead).where(AuditHead.user_id == self.user_id).values(seq=last_seq, row_hash=prev_hash))
        scopes, reason = 0, ""
        for entry in entries:  # as ``log`` asks row by row: the scopes together, the last one's reason
            if scope := scopes_of_change(entry.entity_type, entry.changes):
                scopes, reason = scopes | scope, f"{entry.entity_type} {entry.action}"
        await request_refresh(self.db, account_id=self.user_id, scopes=scopes, reason=reason, now=created_at)
        return len(rows)

    async def _take_head(self) -> tuple[int, str]:
        """The account's head (its last seq and hash), locked until the transaction ends.

        The first append of an account makes its head row; one whose rows predate the head table
        starts from its last row.
        """
        insert = pg_insert if self.db.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(AuditHead).values(user_id=self.user_id, seq=0, row_hash=GENESIS_HASH)
        stmt = stmt.on_conflict_do_update(index_elements=["user_id"], set_={"seq": AuditHead.__table__.c.seq})
        seq, row_hash = (await self.db.execute(stmt.returning(AuditHead.seq, AuditHead.row_hash))).one()
        if seq == 0:
            last = (
                await self.db.execute(
                    select(AuditLog.seq, AuditLog.row_hash).where(AuditLog.user_id == self.user_id).order_by(AuditLog.seq.desc()).limit(1)
                )
            ).first()
            if last is not None:
                return int(last[0]), str(last[1])
        return int(seq), str(row_hash)
