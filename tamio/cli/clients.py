"""``tamio client NAME``: one client at a glance: how it pays, in words, and what it owes now.

    tamio client "Acme Corp"
    Acme Corp: usually pays 18-24 days late; lately later (learned from 11 paid invoices).
    Open: $10,000.00 in 2 invoices: ...

The same core summary as Slack's ``/tamio client "Acme Corp"`` (``tamio.obligations.client_summary``).
"""

from __future__ import annotations

import argparse
from typing import Any

from tamio.cli.context import CliContext
from tamio.obligations.client_summary import client_summary, summary_lines


def register(sub: Any) -> None:
    parser = sub.add_parser("client", help='one client at a glance: how it pays and what it owes (tamio client "Acme Corp")')
    parser.add_argument("name", help="the client's name, as in Tamio")
    parser.set_defaults(handler=_client)


async def _client(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        summary = await client_summary(session, account=account, name=args.name, today=ctx.today(account))
    print("\n".join(summary_lines(summary)))
    return 0
