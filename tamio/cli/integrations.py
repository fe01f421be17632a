"""``tamio connect xero``, ``tamio sync xero [--full]`` and ``tamio integrations status|reencrypt``.

``connect`` prints the Xero consent link (the callback is served by ``tamio serve`` at
``$TAMIO_PUBLIC_URL/integrations/xero/callback``). ``sync`` pulls what changed since the last sync
(``--full``: everything) and exits 75 ("try again later") when Xero's rate limit stopped it; the
next run carries on where it stopped. ``reencrypt`` rewrites stored tokens with the newest key of
``TAMIO_SECRET_KEY`` after a rotation.
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp

from tamio.cli.context import CliContext
from tamio.db import utcnow
from tamio.integrations.connections import get_connection, reencrypt_connections
from tamio.integrations.crypto import TokenCipher
from tamio.integrations.xero.routes import STATE_TTL_SECONDS, connect_url, redirect_uri
from tamio.integrations.xero.sync import SyncService, build_adapter

EX_TEMPFAIL = 75
INTEGRATIONS = ["xero"]


def register(sub: Any) -> None:
    connect = sub.add_parser("connect", help="connect an accounting integration: tamio connect xero")
    connect.add_argument("integration", choices=INTEGRATIONS)
    connect.set_defaults(handler=_connect)

    sync = sub.add_parser("sync", help="sync with an accounting integration: tamio sync xero [--full]")
    sync.add_argument("integration", choices=INTEGRATIONS)
    sync.add_argument("--full", action="store_true", help="read everything again, not only what changed")
    sync.set_defaults(handler=_sync)

    integrations = sub.add_parser("integrations", help="integration connections")
    actions = integrations.add_subparsers(dest="integrations_command", metavar="ACTION")
    actions.required = True
    actions.add_parser("status", help="connections and their last sync").set_defaults(handler=_status)
    actions.add_parser("reencrypt", help="re-encrypt stored tokens with the newest TAMIO_SECRET_KEY").set_defaults(
        handler=_reencrypt
    )


async def _connect(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
    url = connect_url(ctx.settings, account_id=account.id, now=ctx.now)
    print(f"Open this link to connect Xero to {account.name} (it works for {STATE_TTL_SECONDS // 60} minutes):")
    print(url)
    print(f"Xero sends you back to {redirect_uri(ctx.settings)}, which `tamio serve` answers.")
    return 0


async def _sync(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
    async with aiohttp.ClientSession() as http:
        service = SyncService(
            ctx.sessions, account_id=account.id, settings=ctx.settings, adapter=build_adapter(http, ctx.settings, now=utcnow),
            cipher=TokenCipher.from_settings(ctx.settings), clock=utcnow,
        )
        report = await service.sync(full=args.full)
    print(report.summary())
    return 0 if report.complete else EX_TEMPFAIL


async def _status(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        for integration in INTEGRATIONS:
            connection = await get_connection(session, account_id=account.id, integration_type=integration)
            if connection is None:
                print(f"{integration}: not connected (tamio connect {integration})")
                continue
            last = connection.last_sync_at.isoformat(timespec="minutes") if connection.last_sync_at else "never"
            print(f"{integration}: {connection.status}, organisation {connection.tenant_name or '(not chosen)'}, last sync {last}")
    return 0


async def _reencrypt(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        changed = await reencrypt_connections(session, cipher=TokenCipher.from_settings(ctx.settings))
    print(f"Re-encrypted the tokens of {changed} connection{'s' if changed != 1 else ''} with the newest key.")
    return 0
