"""``tamio add KIND "Name" AMOUNT ...``: what the business is owed or owes, in ``/tamio add``'s words.

The words are the core's (``tamio.obligations.inline``), and so are the rules and the function that
adds (``tamio.obligations.add``); this only prints. One argument is read as a whole line
(``tamio add 'client "Acme" invoice 5000 due 2026-11-20 ref INV-1042'``); several are the words the
shell already split (``tamio add client Acme invoice 5000 due 2026-11-20``).
"""

from __future__ import annotations

import argparse
from typing import Any

from tamio.cli.context import CliContext
from tamio.currency.service import in_base_currency
from tamio.money import format_money
from tamio.obligations.inline import SYNTAX, parse_add, split_words
from tamio.obligations.recurrence import Frequency, describe


def register(sub: Any) -> None:
    about = f"add what the business is owed or owes: {SYNTAX}"
    short = "add what the business is owed or owes, in /tamio add's words: tamio add 'client \"Acme\" invoice 5000 due 2026-11-20'"
    parser = sub.add_parser("add", help=short, description=about[:1].upper() + about[1:] + ".",
                            epilog="Example: tamio add 'client \"Acme Corp\" invoice 5000 due 2026-11-20 ref INV-1042'")
    parser.add_argument("words", nargs="+", metavar="WORD", help="the obligation, as in Slack's /tamio add")
    parser.add_argument("--email", default=None, help="where follow-up emails to this client or vendor go")
    parser.add_argument("--allow-duplicate", action="store_true",
                        help="add it even when the same amount and frequency is already there")
    parser.set_defaults(handler=_add)


async def _add(args: argparse.Namespace, ctx: CliContext) -> int:
    from tamio.obligations.add import add_obligation  # start-up cost
    from tamio.obligations.duplicates import DuplicateObligation

    words = split_words(args.words[0]) if len(args.words) == 1 else list(args.words)
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        today = ctx.today(account)
        obligation = parse_add(words, today=today, base_currency=account.base_currency)
        if args.email is not None or args.allow_duplicate:
            update = {"contact_email": args.email or obligation.contact_email, "allow_duplicate": args.allow_duplicate}
            obligation = obligation.model_copy(update=update).checked(today)
        try:
            added = await add_obligation(session, account=account, settings=ctx.settings, today=today, now=ctx.now, actor="cli",
                                         obligation=obligation)
        except DuplicateObligation as exc:  # the core wrote nothing
            raise DuplicateObligation(exc.existing, hint="Run it again with --allow-duplicate if it is a second, separate amount.") from None
        in_base = in_base_currency(added.converted_from, account.base_currency, today=today)
    kind = {"client": "client", "expense": "expense", "payroll": "payroll", "tax": "tax payment"}[obligation.kind]
    invoice = f"invoice {obligation.invoice} for " if obligation.invoice else ""
    once = obligation.recurrence.frequency == Frequency.ONCE
    how = "" if once else " " + describe(obligation.recurrence.recurrence())
    due = f", {'due' if once else 'first due'} {added.first_due.isoformat()}" if added.first_due else ""
    overdue = f" ({added.overdue})" if added.overdue else ""
    arrears = f"; {added.arrears} payments since then are already overdue" if added.arrears > 1 else ""
    verb = "Added" if added.created else "Added another amount to"
    print(f"{verb} {added.counterparty.name} ({kind}): {invoice}{format_money(obligation.amount, obligation.currency)}{in_base}"
          f"{how}{due}{overdue}{arrears}.")
    return 0
