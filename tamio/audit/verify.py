"""Checking an account's audit trail, and the head checkpoint kept outside the database.

``verify_chain`` walks the rows in ``seq`` order and names the first that is wrong: a gap (rows
removed: "rows 4-6 are missing"), a broken link (a row moved or reordered), a seal that no key of
the server secret reproduces (a row rewritten, moved from another account, or a chain recomputed
without the key). Then it compares the end of the chain with the account's head row, which shows
rows cut from the end, and with a checkpoint when one is given (``tamio audit verify --head
57:3f2a...``), which shows a truncation that rewrote the head row too; an account with no rows at
all lost them, since creating an account writes its first row.

    head = await audit_head(db, account_id=account.id)      # AuditMark(seq=57, row_hash='3f2a...')
    head.token                                               # '57:3f2a...' (what `tamio audit head` prints)
    result = await verify_chain(db, account_id=account.id, checkpoint=AuditMark.parse("57:3f2a9c0e1d2b4a58"))
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.audit.models import AuditHead, AuditLog
from tamio.audit.service import GENESIS_HASH, chain_keys, compute_row_hash
from tamio.errors import ValidationError

MIN_CHECKPOINT_HEX = 16  # a checkpoint may carry a prefix of the hash: 64 bits are plenty to compare
_TOKEN = re.compile(rf"^(\d{{1,18}}):([0-9a-f]{{{MIN_CHECKPOINT_HEX},64}})$")


@dataclass(frozen=True)
class AuditMark:
    """A point of an account's chain: the row ``seq`` and (a prefix of) its ``row_hash``."""

    seq: int
    row_hash: str

    @property
    def token(self) -> str:
        return f"{self.seq}:{self.row_hash}"

    @property
    def short(self) -> str:
        """What the daily digest shows: enough of the hash to check, short enough to read."""
        return f"{self.seq}:{self.row_hash[:MIN_CHECKPOINT_HEX]}"

    @classmethod
    def parse(cls, text: str) -> AuditMark:
        found = _TOKEN.match(text.strip().lower())
        if found is None:
            raise ValidationError(
                f"`{text[:80]}` is not an audit head; write it as `tamio audit head` prints it, like 57:3f2a9c0e1d2b4a58...",
                field_errors={"head": "like 57:3f2a9c0e1d2b4a58"},
            )
        return cls(int(found.group(1)), found.group(2))


@dataclass(frozen=True)
class AuditVerification:
    rows_checked: int
    first_bad_seq: int | None
    first_bad_id: str | None
    reason: str | None
    head: AuditMark | None = None  # the end of the verified chain

    @property
    def ok(self) -> bool:
        return self.reason is None


def _span(first: int, last: int) -> str:
    return f"row {first} is missing" if first == last else f"rows {first}–{last} are missing"


async def audit_head(db: AsyncSession, *, account_id: str) -> AuditMark | None:
    """The account's head as the database records it (None before its first row)."""
    row = (await db.execute(select(AuditHead.seq, AuditHead.row_hash).where(AuditHead.user_id == account_id))).first()
    return AuditMark(int(row[0]), str(row[1])) if row is not None and row[0] else None


async def verify_chain(db: AsyncSession, *, account_id: str, checkpoint: AuditMark | None = None) -> AuditVerification:
    """Walk an account's audit rows in order and report the first thing that is wrong."""
    keys = chain_keys(db)
    rows = (await db.execute(select(AuditLog).where(AuditLog.user_id == account_id).order_by(AuditLog.seq))).scalars()
    prev_hash, last_seq, checked = GENESIS_HASH, 0, 0
    seals: dict[int, str] = {}
    for row in rows:
        expected = last_seq + 1
        if row.seq > expected:
            return AuditVerification(checked, expected, None, _span(expected, row.seq - 1) + f" (row {row.seq} follows row {last_seq})")
        if row.seq != expected or row.prev_hash != prev_hash:
            return AuditVerification(checked, row.seq, row.id, "its link to the previous row is broken (moved or reordered)")
        if not any(hmac.compare_digest(compute_row_hash(row, prev_hash, key), row.row_hash) for key in keys):
            return AuditVerification(
                checked, row.seq, row.id, "its seal does not match its content (rewritten, moved from another account, or sealed without this server's key)"
            )
        prev_hash, last_seq, checked = row.row_hash, row.seq, checked + 1
        if checkpoint is not None and row.seq == checkpoint.seq:
            seals[row.seq] = row.row_hash
    end = AuditMark(last_seq, prev_hash) if last_seq else None
    recorded = await audit_head(db, account_id=account_id)
    if recorded is None and end is None:
        return AuditVerification(0, 1, None, "the account has no audit rows at all, though creating it wrote the first: all were deleted")
    if recorded is None:
        return AuditVerification(checked, None, None, "the record of the trail's last row is gone", end)
    if recorded.seq > last_seq:
        return AuditVerification(checked, last_seq + 1, None, _span(last_seq + 1, recorded.seq) + " (cut from the end)", end)
    if recorded.seq < last_seq or recorded.row_hash != prev_hash:
        return AuditVerification(checked, recorded.seq, None, f"the record of the last row does not match row {last_seq}", end)
    if checkpoint is not None:
        if checkpoint.seq > last_seq:
            return AuditVerification(
                checked, last_seq + 1, None, _span(last_seq + 1, checkpoint.seq) + f" (the checkpoint names row {checkpoint.seq})", end
            )
        if not seals.get(checkpoint.seq, "").startswith(checkpoint.row_hash):
            return AuditVerification(checked, checkpoint.seq, None, "it is not the row the checkpoint names (the chain was replaced)", end)
    return AuditVerification(checked, None, None, None, end)
