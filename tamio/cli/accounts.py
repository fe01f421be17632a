"""``tamio account ...``, ``tamio audit head`` and ``tamio audit verify [--head HASH]``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tamio.accounts.service import list_accounts
from tamio.audit.verify import AuditMark, audit_head, verify_chain
from tamio.cli.context import CliContext
from tamio.opening import open_account


def register(sub: Any) -> None:
    account = sub.add_parser("account", help="create and list business accounts")
    acc_sub = account.add_subparsers(dest="account_command", metavar="ACTION")
    acc_sub.required = True
    create = acc_sub.add_parser("create", help="create an account")
    create.add_argument("--name", required=True)
    create.add_argument("--base-currency", default=None, help="ISO code, e.g. USD (default: TAMIO_BASE_CURRENCY)")
    create.add_argument("--timezone", default=None, help="e.g. Europe/London (default: TAMIO_TIMEZONE)")
    create.set_defaults(handler=_create)
    listing = acc_sub.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    audit = sub.add_parser("audit", help="check the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_sub.required = True
    verify = audit_sub.add_parser("verify", help="report the first audit row that was tampered with, or the rows missing")
    verify.add_argument("--head", default=None, metavar="HASH",
                        help="a checkpoint `tamio audit head` printed (or the digest posted), like 57:3f2a9c0e1d2b4a58: "
                             "also finds rows cut from the end since")
    verify.set_defaults(handler=_verify)
    head = audit_sub.add_parser("head", help="print each account's audit head: keep it outside the database as a checkpoint")
    head.set_defaults(handler=_head)


async def _create(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await open_account(
            session,
            name=args.name,
            base_currency=args.base_currency or ctx.settings.base_currency,
            timezone=args.timezone or ctx.settings.timezone,
        )
        print(f"Created account {account.id} ({account.name}, {account.base_currency}, {account.timezone}).")
    return 0


async def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        accounts = await list_accounts(session)
    if args.json:
        print(json.dumps([{"id": a.id, "name": a.name, "base_currency": a.base_currency, "timezone": a.timezone} for a in accounts]))
    elif not accounts:
        print('No accounts yet. Create one with `tamio account create --name "Acme Ltd" --base-currency USD`.')
    else:
        for a in accounts:
            print(f"{a.id}  {a.name}  {a.base_currency}  {a.timezone}")
    return 0


async def _verify(args: argparse.Namespace, ctx: CliContext) -> int:
    checkpoint = AuditMark.parse(args.head) if args.head is not None else None
    async with ctx.transaction() as session:
        if checkpoint is not None:  # a checkpoint belongs to one account
            accounts = [await ctx.account(session)]
        else:
            accounts = [await ctx.account(session)] if ctx.account_id else await list_accounts(session)
        bad = 0
        for account in accounts:
            result = await verify_chain(session, account_id=account.id, checkpoint=checkpoint)
            if result.ok:
                upto = f" up to the checkpoint {checkpoint.seq} and on to {result.head.seq if result.head else 0}" if checkpoint else ""
                print(f"{account.id}: {result.rows_checked} audit rows, chain intact{upto}.")
            elif result.first_bad_id is None:
                bad += 1
                print(f"{account.id}: the audit trail was tampered with: {result.reason}.")
            else:
                bad += 1
                print(f"{account.id}: audit row {result.first_bad_seq} ({result.first_bad_id}) was tampered with: {result.reason}.")
    return 1 if bad else 0


async def _head(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        accounts = [await ctx.account(session)] if ctx.account_id else await list_accounts(session)
        for account in accounts:
            mark = await audit_head(session, account_id=account.id)
            print(f"{account.id}: {mark.token if mark else 'no audit rows yet'}")
    return 0
