"""``tamio paid COUNTERPARTY AMOUNT [CUR] [--on DATE] [--for REF]``: record a payment received or made.

The same core function as Slack's ``/tamio paid`` and the API's ``POST /data/payments``
(``record_payment``): with ``--for`` the invoice named (its number, a due date, Tamio's schedule
id or Xero's InvoiceID), else the counterparty's open invoices oldest first; whatever matches
nothing is kept as an unmatched payment or an overpayment, never dropped.

    tamio paid "Acme Corp" 7000 --on 2026-12-01 --for INV-1042
"""

from __future__ import annotations

import argparse
from typing import Any

from tamio.cli.context import CliContext, date_argument
from tamio.data.models import Client
from tamio.dates import day_text
from tamio.errors import ValidationError
from tamio.money import format_money, normalize_currency, parse_amount
from tamio.obligations.matching import find_payer, invoice_label, remaining_of
from tamio.obligations.payments import PaymentOutcome, record_payment


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "paid", help='record a payment: tamio paid "Acme Corp" 5000 [USD] [--on 2026-12-01] [--for INV-1042]',
        description="Record money received from a client or paid to a vendor. Without --for it pays their oldest open "
                    "invoices first; what is left over is kept as an overpayment, and a payment with nothing open as unmatched.",
    )
    parser.add_argument("counterparty", help="the client's or vendor's name, as in Tamio")
    parser.add_argument("amount", help="the amount, like 5000 or 1,250.50")
    parser.add_argument("currency", nargs="?", default=None, help="its currency (default: the counterparty's)")
    parser.add_argument("--on", type=date_argument, default=None, help="when it was paid (default: today)")
    parser.add_argument("--for", dest="invoice", default=None, help="the invoice paid: its number, or its due date (2026-12-01)")
    parser.set_defaults(handler=_paid)


async def _paid(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        today = ctx.today(account)
        on = args.on or today
        if on > today:
            raise ValidationError(f"{on.isoformat()} is after today ({today.isoformat()}); record a payment once it has happened.")
        counterparty = await find_payer(session, account_id=account.id, name=args.counterparty)
        currency = normalize_currency(args.currency) if args.currency else counterparty.currency
        amount = parse_amount(args.amount, currency=currency)
        outcome = await record_payment(
            session, account=account, amount=amount, currency=currency, payment_date=on, counterparty=counterparty,
            invoice=args.invoice, actor="cli", now=ctx.now, source="cli",
        )
        direction = "from" if isinstance(counterparty, Client) else "to"
        print(f"Recorded {format_money(amount, currency)} {direction} {counterparty.name} on {day_text(on, year=True)}{_summary(outcome, currency)}")
    return 0


def _summary(outcome: PaymentOutcome, currency: str) -> str:
    paid = [part for part in outcome.parts if part.schedule is not None]
    if not paid:
        return ": nothing of theirs was open, so it is kept as an unmatched payment (unexpected revenue)."
    lines = [":"]
    for part in paid:
        schedule = part.schedule
        assert schedule is not None
        state = "now paid" if schedule.status.value == "paid" else f"{format_money(remaining_of(schedule), schedule.currency)} still open"
        lines.append(f"  {format_money(part.amount, currency)} to {invoice_label(schedule)}, due {day_text(schedule.due_date, year=True)} ({state})")
    if outcome.overpaid > 0:
        lines.append(f"  {format_money(outcome.overpaid, currency)} more than was owed: kept as an overpayment (unexpected revenue)")
    return "\n".join(lines)
