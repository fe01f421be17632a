"""The forecast basis of accounts' pending cards, from a run's detection snapshots, without building
their preparation contexts (``tamio.preparation.context``).

A steady run (the hourly FULL one, nothing new to prepare) only checks that every pending card still
rests on today's figures (``tamio.preparation.freshness``): the digest of the same facts a context
holds, worked out from the snapshot and what decisions set (``load_decisions``), leaving out what
only the agents need (each receivable's spread over the weeks, the base forecast's weeks). A context
is then built only for an account with something to prepare or a card to restate.

    bases = await load_bases(db, {account.id: snapshot})
    bases[account.id] == forecast_basis(await load_context(db, ..., snapshot=snapshot))   # always
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.detection.snapshot import AccountSnapshot
from tamio.preparation.context import ZERO, loaded_of, open_records
from tamio.preparation.context_records import cash_info, client_info, vendor_info
from tamio.preparation.decisions import load_decisions
from tamio.preparation.freshness import basis_digest


async def load_bases(db: AsyncSession, snapshots: Mapping[str, AccountSnapshot]) -> dict[str, str]:
    """account id -> the forecast basis a context built from its snapshot (loaded from the database,
    as of its day) would have: the queries of what decisions set, once for all the accounts."""
    if not snapshots:
        return {}
    loaded = {i: loaded_of(s) for i, s in snapshots.items()}
    decided = await load_decisions(db, {i: s.today for i, s in snapshots.items()}, zones={i: got.timezone for i, got in loaded.items()})
    bases = {}
    for i, snapshot in snapshots.items():
        got, decisions = loaded[i].inputs, decided[i]
        bases[i] = basis_digest(
            today=snapshot.today, opening_balance=got.opening_balance, buffer=decisions.config.obligations_buffer_amount,
            payroll_buffer_percent=decisions.config.payroll_buffer_percent, chase_cooloff_days=decisions.cooloff,
            forecast_items=got.items,
            cash_accounts=[cash_info(c, decisions.committed.get(c.id, ZERO)) for c in snapshot.cash_accounts],
            schedules=[(s.id, s.due_date, s.remaining, base, s.status, s.client_id, s.vendor_id, s.delayed_from)
                       for s, _, base in open_records(snapshot)],
            clients=[client_info(c, decisions.standing.get(c.id)) for c in snapshot.clients.values()],
            vendors=[vendor_info(v) for v in snapshot.vendors.values()],
            chases=decisions.chases.values(), habits=got.habits,
        )
    return bases
