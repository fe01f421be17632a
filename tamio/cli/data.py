"""``tamio balance ...``, ``tamio rates ...`` and ``tamio contact NAME EMAIL``.

``tamio rates add`` and ``tamio rates import`` write the server's feed, which every account reads;
with ``--account ID`` they write that account's own rates instead, which win over the feed for
that account alone (what ``/tamio rate`` does in Slack).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tamio.accounts.models import Account
from tamio.cli.context import CliContext, date_argument
from tamio.currency.ecb import EcbFetchError, EcbFormatError
from tamio.currency.feed import import_ecb
from tamio.currency.service import add_rate, in_base_currency, list_rates
from tamio.data.models import Client
from tamio.data.service import list_cash_accounts, set_balance
from tamio.errors import TamioError, ValidationError
from tamio.money import format_money, parse_amount
from tamio.obligations.counterparties import (
    CounterpartyService,
    find_counterparty,
    read_contact_name,
    read_email,
)


def register(sub: Any) -> None:
    balance = sub.add_parser("balance", help="cash accounts and their balances")
    bal_sub = balance.add_subparsers(dest="balance_command", metavar="ACTION")
    bal_sub.required = True
    set_parser = bal_sub.add_parser("set", help='set a balance: tamio balance set "Operating" 45000 USD')
    set_parser.add_argument("name")
    set_parser.add_argument("amount")
    set_parser.add_argument("currency")
    set_parser.add_argument("--type", choices=["bank", "savings", "credit_line"], default=None)
    set_parser.add_argument("--credit-limit", default=None, help="for a credit line: its limit")
    set_parser.set_defaults(handler=_balance_set)
    bal_list = bal_sub.add_parser("list", help="list cash accounts")
    bal_list.set_defaults(handler=_balance_list)

    rates = sub.add_parser("rates", help="exchange rates")
    rates_sub = rates.add_subparsers(dest="rates_command", metavar="ACTION")
    rates_sub.required = True
    add = rates_sub.add_parser("add", help="add a rate to the server's feed (--account ID: that account's own): "
                                           "tamio rates add EUR USD 1.08 --date 2026-12-01")
    add.add_argument("base")
    add.add_argument("quote")
    add.add_argument("rate")
    add.add_argument("--date", type=date_argument, default=None)
    add.set_defaults(handler=_rates_add)
    imp = rates_sub.add_parser("import", help="import an ECB file (daily XML, history CSV or zip) or URL into the server's feed "
                                              "(--account ID: as that account's own)")
    imp.add_argument("source")
    imp.set_defaults(handler=_rates_import)
    lst = rates_sub.add_parser("list", help="list the server's feed (--account ID: with that account's own rates)")
    lst.add_argument("--base", default=None)
    lst.add_argument("--quote", default=None)
    lst.set_defaults(handler=_rates_list)

    contact = sub.add_parser(
        "contact", help='set whom follow-up emails go to: tamio contact "Acme Corp" ap@acme.example [--name "Jane Doe"]',
        description="Set the contact email (and the person's name) of a client or vendor; Tamio's follow-up emails go there.",
    )
    contact.add_argument("counterparty", help="the client's or vendor's name, as in Tamio")
    contact.add_argument("email", help="the address, like ap@acme.example")
    contact.add_argument("--name", dest="contact_name", default=None, help="the person to write to, like Jane Doe")
    kind = contact.add_mutually_exclusive_group()
    kind.add_argument("--client", dest="kind", action="store_const", const="client", help="when a client and a vendor share the name")
    kind.add_argument("--expense", dest="kind", action="store_const", const="expense", help="the vendor (expense) of that name")
    contact.set_defaults(handler=_contact, kind=None)


async def _balance_set(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        amount = parse_amount(args.amount, currency=args.currency, allow_negative=True)
        limit = parse_amount(args.credit_limit, currency=args.currency) if args.credit_limit else None
        cash = await set_balance(
            session, account=account, name=args.name, amount=amount, currency=args.currency,
            account_type=args.type, credit_limit=limit, on_date=ctx.today(account), now=ctx.now,
        )
        print(f"{cash.name}: {format_money(cash.balance, cash.currency)}{in_base_currency(cash, account.base_currency, today=ctx.today(account))}")
    return 0


async def _balance_list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        for cash in await list_cash_accounts(session, account_id=account.id):
            extra = ""
            if cash.credit_limit is not None:
                extra = f"  (limit {format_money(cash.credit_limit, cash.currency)}, drawn {format_money(cash.drawn_amount, cash.currency)})"
            print(f"{cash.name:<24} {cash.account_type.value:<12} {format_money(cash.balance, cash.currency):>18}{extra}")
    return 0


async def _rates_add(args: argparse.Namespace, ctx: CliContext) -> int:
    try:
        rate = parse_amount(args.rate, field="rate", allow_negative=True)
    except ValidationError as exc:
        raise ValidationError(f"I couldn't read the rate `{args.rate}`; write it like 1.0825.") from exc
    if rate <= 0:
        raise ValidationError(f"The rate `{args.rate}` must be more than zero; write it like 1.0825.")
    on = args.date or ctx.now.date()
    async with ctx.transaction() as session:
        owner = await _rates_owner(session, ctx)
        await add_rate(session, base_currency=args.base, quote_currency=args.quote, rate=rate, rate_date=on,
                       account_id=owner.id if owner else None)
    whose = f" for {owner.name} only" if owner else " in the server's feed"
    print(f"1 {args.base.upper()} = {rate} {args.quote.upper()} on {on.isoformat()}{whose}")
    return 0


async def _rates_owner(session: Any, ctx: CliContext) -> Account | None:
    """The account named with ``--account`` (its own rates), or None: the server's feed."""
    return await ctx.account(session) if ctx.account_id else None


async def _rates_import(args: argparse.Namespace, ctx: CliContext) -> int:
    source = args.source
    if not source.startswith(("http://", "https://")):
        path = Path(source)
        if not path.is_file():
            reason = "it is a directory" if path.is_dir() else "there is no such file"
            raise ValidationError(
                f"I couldn't read {source}: {reason}. Give an ECB file (eurofxref-daily.xml, eurofxref-hist.csv or its zip) or an https:// URL."
            )
    try:
        async with ctx.transaction() as session:
            owner = await _rates_owner(session, ctx)
            count, latest = await import_ecb(session, source, account_id=owner.id if owner else None)
    except EcbFormatError as exc:
        raise ValidationError(
            f"Nothing was imported from {source}: {exc}. Give the ECB daily XML (eurofxref-daily.xml) or the history CSV (eurofxref-hist.csv)."
        ) from exc
    except EcbFetchError as exc:
        raise TamioError(f"Nothing was imported: {exc}. Check the URL, or download the file and import it from disk.") from exc
    except OSError as exc:
        raise ValidationError(f"I couldn't read {source}: {exc.strerror or exc}. Nothing was imported.") from exc
    print(f"Imported {count} rates (latest {latest.isoformat() if latest else 'none'}).")
    return 0


async def _rates_list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        owner = await _rates_owner(session, ctx)
        for r in await list_rates(session, account_id=owner.id if owner else None, base_currency=args.base, quote_currency=args.quote):
            whose = ", this account's own" if r.user_id else ""
            print(f"{r.rate_date.isoformat()}  1 {r.base_currency} = {r.rate} {r.quote_currency}  ({r.source}{whose})")
    return 0


async def _contact(args: argparse.Namespace, ctx: CliContext) -> int:
    email = read_email(args.email)
    contact_name = read_contact_name(args.contact_name) if args.contact_name is not None else None
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        found = await find_counterparty(session, account_id=account.id, name=args.counterparty, kind=args.kind)
        service = CounterpartyService(session, account=account, settings=ctx.settings, today=ctx.today(account), actor="cli", now=ctx.now)
        changed = await service.set_contact(found, email=email, contact_name=contact_name)
    word = "client" if isinstance(found, Client) else "expense"
    person = f" ({found.contact_name})" if found.contact_name else ""
    if changed:
        print(f"{found.name} ({word}): follow-up emails go to {found.contact_email}{person}.")
    else:
        print(f"{found.name} ({word}): follow-up emails already go to {found.contact_email}{person}; nothing changed.")
    return 0
