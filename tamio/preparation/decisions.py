"""What people and earlier decisions set for an account, beside its books: what a preparation
context (``tamio.preparation.context``) and a card's basis (``tamio.preparation.basis``) read besides
the run's snapshot. A fixed number of queries for any number of accounts.

    decided = await load_decisions(db, {account.id: today}, zones={account.id: account.timezone})
    decided[account.id].config.obligations_buffer_amount
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import UserConfiguration
from tamio.detection.configuration import EffectiveConfig, effective_config, with_override
from tamio.detection.models import DetectionRule, DetectionType
from tamio.obligations.standing import ClientStanding, client_standings
from tamio.preparation.commitments import ChaseInfo, load_commitments


class Decisions(NamedTuple):
    """What people and earlier decisions set for one account, beside its books."""

    config: EffectiveConfig  # the thresholds detection used (with the account's overrides)
    cooloff: int  # days between two chases of one invoice
    standing: Mapping[str, ClientStanding]  # client id -> its standing
    committed: Mapping[str, Decimal]  # cash account id -> credit drawn by approved actions not carried out
    chases: Mapping[str, ChaseInfo]  # schedule id -> its last chase


async def load_decisions(db: AsyncSession, today: Mapping[str, date], *, zones: Mapping[str, str]) -> dict[str, Decisions]:
    """Each account's ``Decisions`` (account id -> its day; ``zones``: its time zone), in a fixed number of queries for all."""
    ids = sorted(today)
    rows_of_config = (await db.execute(select(UserConfiguration).where(UserConfiguration.user_id.in_(ids)))).scalars().all()
    configs: dict[str, EffectiveConfig] = {c.user_id: effective_config(c) for c in rows_of_config}
    cooloff = {c.user_id: c.chase_cooloff_days for c in rows_of_config if c.chase_cooloff_days is not None}
    dr = DetectionRule
    for user_id, kind, threshold in await db.execute(
        select(dr.user_id, dr.detection_type, dr.threshold_override).where(
            dr.user_id.in_(ids), dr.detection_type.in_([DetectionType.BUFFER_BREACH, DetectionType.PAYROLL_SAFETY]),
        )
    ):
        if threshold is not None and Decimal(threshold).is_finite():  # detection reports a corrupt one as its error
            configs[user_id] = with_override(configs.get(user_id, EffectiveConfig()), DetectionType(kind), threshold)
    standing = await client_standings(db, today={i: today[i] for i in ids})
    committed, chases = await load_commitments(db, ids, zones=zones, today=today)
    return {
        i: Decisions(configs.get(i, EffectiveConfig()), cooloff.get(i, 7), standing[i], committed, chases.get(i, {})) for i in ids
    }
