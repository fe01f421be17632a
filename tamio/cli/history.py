"""``tamio history COUNTERPARTY``: a client's or vendor's chases, delays and payments, newest first.

Who decided (or recorded) each, when, and what was sent; ``--json`` prints what
``GET /api/v1/data/clients/{id}/history`` answers (the same reading: ``tamio.execution.history``).

    tamio history "Bluebird Studio"
    tamio history exp_0f9e... --json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tamio.api.schemas.automation import history_out
from tamio.cli.context import CliContext
from tamio.execution.history import counterparty_history, find_counterparty_by, summary_line
from tamio.money import format_money


def register(sub: Any) -> None:
    parser = sub.add_parser("history", help="a client's or vendor's chases, delays and payments: who decided, when, what was sent")
    parser.add_argument("counterparty", help="the client or vendor: its name (in quotes if it has spaces) or id")
    parser.add_argument("--limit", type=_limit, default=100, help="at most this many entries (1 to 500, default 100)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_history)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; use 1 to 500") from exc
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"{value} is out of range; use 1 to 500")
    return value


async def _history(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        found = await find_counterparty_by(session, account_id=account.id, ref=args.counterparty)
        history = await counterparty_history(session, account=account, counterparty_id=found.id, limit=args.limit)
    summary = summary_line(history)
    if args.json:
        print(json.dumps(history_out(history, summary).model_dump(mode="json")))
        return 0
    kind = "client" if history.counterparty_type == "client" else "vendor"
    print(f"{history.name} ({kind})" + (f": {summary}" if summary else ""))
    if not history.entries:
        print("  Nothing yet: no chases, delays or payments recorded.")
    for entry in history.entries:
        money = f"  {format_money(entry.amount, entry.currency)}" if entry.amount is not None and entry.currency and entry.kind != "payment" else ""
        print(f"  {entry.on:%Y-%m-%d}  {entry.kind:<8} {entry.title}{money}  by {entry.decided_by}" + (f"  [{entry.action_id}]" if entry.action_id else ""))
        for sent in entry.sent:
            print(f"              sent to {sent.to}: “{sent.subject}”" + (f" ({sent.message_id})" if sent.message_id else ""))
    return 0
