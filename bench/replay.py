"""Benchmark: issue 16's replay, a year of fifteen clients with known habits, through the product.

Drives ``tests/service/replay_business.py`` on a fresh SQLite file: the clients and bills entered as a
user would, every payment recorded on its real date with ``record_payment`` (once naming each
invoice, once naming only the client, as ``/tamio paid`` does), the 6 AM job every Monday. Then
prints ``tamio forecast accuracy``'s table (the stored forecasts) and ``tamio forecast backtest``'s
(the ledger replayed at weekly cut-offs) for each, and how each client was learned to pay.

Targets (issue 16): 4 weeks ahead, at least 40 % better than the due-date baseline; the band
holding the actual balance 70-90 % of the time at 1, 4 and 13 weeks.

    python bench/replay.py [--seed 16] [--seeds 16,17,18] [--quiet]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

import tamio.models  # noqa: E402,F401
from tamio.accounts.models import Account  # noqa: E402
from tamio.data.models import Client  # noqa: E402
from tamio.db import Base, create_engine, make_session_factory  # noqa: E402
from tamio.forecast.snapshots import Accuracy, forecast_accuracy, run_backtest  # noqa: E402
from tamio.forecast.views import accuracy_lines  # noqa: E402
from tamio.server_secret import ServerSecret  # noqa: E402
from tests.service.replay_business import drive  # noqa: E402

AFTER = date(2027, 1, 1)


def verdict(accuracy: Accuracy) -> str:
    rows = {row.weeks_ahead: row for row in accuracy.rows}
    better = rows[4].improvement is not None and rows[4].improvement >= 0.4
    held = all(rows[h].coverage is not None and 0.7 <= rows[h].coverage <= 0.9 for h in (1, 4, 13))  # type: ignore[operator]
    return f"4 weeks ahead {'beats' if better else 'does NOT beat'} the baseline by 40 %; the band {'holds' if held else 'does NOT hold'} 70-90 %"


async def replay(by: str, seed: int, *, quiet: bool) -> tuple[Accuracy, Accuracy]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/replay.db")
        try:
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            sessions = make_session_factory(engine, ServerSecret.parse(ServerSecret.generate()))
            started = time.perf_counter()
            account_id = await drive(sessions, by=by, seed=seed)
            took = time.perf_counter() - started
            async with sessions() as db:
                account = await db.get(Account, account_id)
                assert account is not None
                stored = await forecast_accuracy(db, account=account, today=AFTER, weeks=52)
                replayed = await run_backtest(db, account=account, start=date(2026, 1, 5), end=date(2026, 12, 27), today=AFTER)
                habits = list(await db.execute(select(Client.name, Client.payment_habit).where(Client.user_id == account_id).order_by(Client.name)))
        finally:
            await engine.dispose()
    print(f"== payments recorded by {by}, seed {seed} ({took:.0f} s through the product)")
    for title, accuracy in (("stored forecasts (tamio forecast accuracy --weeks 52)", stored),
                            ("replayed ledger (tamio forecast backtest --from 2026-01-05 --to 2026-12-27)", replayed)):
        print(f"   {title}: {verdict(accuracy)}")
        for line in accuracy_lines(accuracy):
            print("     " + line)
    if not quiet:
        print("   learned:")
        for name, habit in habits:
            print(f"     {name:<18} {habit or '-'}")
    return stored, replayed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--seeds", default=None, help="several seeds, comma-separated (each replayed both ways)")
    parser.add_argument("--quiet", action="store_true", help="the tables only")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    for seed in seeds:
        for by in ("invoice", "client"):
            asyncio.run(replay(by, seed, quiet=args.quiet))


if __name__ == "__main__":
    main()
