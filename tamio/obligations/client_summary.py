"""One client at a glance: how it pays, in words, and what it owes now.

``client_summary`` is what ``tamio client NAME`` and ``/tamio client "Name"`` show: the behaviour
the forecast spreads its receivables by (``tamio.obligations.habits``: "usually pays 18-24 days
late; lately later"), how many paid invoices it was learned from, its open invoices (oldest first, with
how late each is), its last payment, and its kind with its revenue share and payment risk
(``tamio.obligations.standing``: each says what it comes from, so it reads with the habit).
``summary_lines`` renders it as plain lines, which the CLI prints and Slack puts in a section.

    summary = await client_summary(db, account=account, name="Acme Corp", today=date(2026, 12, 7))
    print("\n".join(summary_lines(summary)))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.data.models import Client
from tamio.dates import day_text
from tamio.errors import NotFound
from tamio.money import format_money
from tamio.obligations.counterparties import find_client
from tamio.obligations.habits import ON_DUE_DATE, PaymentBehaviour, behaviour_of
from tamio.obligations.matching import invoice_label, open_schedules, remaining_of
from tamio.obligations.models import Direction, PaymentEvent, PaymentStatus
from tamio.obligations.profile import RELATIONSHIP_WORD
from tamio.obligations.standing import ClientStanding, client_standings, describe_standing

SHOWN = 5


@dataclass(frozen=True)
class OpenInvoice:
    label: str
    due: date
    remaining: Decimal
    currency: str
    days_late: int  # negative: not due yet


@dataclass(frozen=True)
class ClientSummary:
    name: str
    behaviour: PaymentBehaviour
    open_invoices: tuple[OpenInvoice, ...]
    last_paid: tuple[date, Decimal, str] | None  # day, amount, currency
    kind: str = "standard (not set)"
    standing: ClientStanding | None = None

    @property
    def habit(self) -> str:
        return self.behaviour.describe()


async def client_summary(db: AsyncSession, *, account: Account, name: str, today: date) -> ClientSummary:
    client = await find_client(db, account_id=account.id, name=name)
    if client is None:
        known = sorted((await db.execute(select(Client.name).where(Client.user_id == account.id))).scalars())
        hint = f"Clients: {', '.join(known[:8])}{' and more' if len(known) > 8 else ''}." if known else "Add one with `/tamio add client`."
        raise NotFound(f"There is no client called `{name}`.", hint=hint)
    typical = PaymentBehaviour.from_json(account.payment_behaviour) if account.payment_behaviour else ON_DUE_DATE
    invoices = tuple(
        OpenInvoice(invoice_label(s), s.due_date, remaining_of(s), s.currency, (today - s.due_date).days)
        for s in await open_schedules(db, account_id=account.id, counterparty=client, direction=Direction.INFLOW)
        if s.due_date <= today or s.paid_amount > 0
    )
    pe = PaymentEvent
    last = (
        await db.execute(
            select(pe.payment_date, func.sum(pe.amount), pe.currency)
            .where(pe.user_id == account.id, pe.client_id == client.id, pe.direction == Direction.INFLOW, pe.status == PaymentStatus.COMPLETED)
            .group_by(pe.payment_date, pe.currency).order_by(pe.payment_date.desc()).limit(1)
        )
    ).first()
    standing = (await client_standings(db, today={account.id: today}))[account.id].get(client.id)
    return ClientSummary(
        name=client.name, behaviour=behaviour_of(client.payment_behaviour, client.avg_payment_delay_days, typical),
        open_invoices=invoices, last_paid=(last[0], Decimal(last[1]), last[2]) if last else None,
        kind=RELATIONSHIP_WORD[client.relationship_type] if client.relationship_type else "standard (not set)", standing=standing,
    )


def summary_lines(summary: ClientSummary) -> list[str]:
    b = summary.behaviour
    learned = f" (learned from {b.observations} paid invoice{'s' if b.observations != 1 else ''})" if b.observations else ""
    lines = [f"{summary.name}: {summary.habit}{learned}."]
    if summary.open_invoices:
        total: dict[str, Decimal] = {}
        for invoice in summary.open_invoices:
            total[invoice.currency] = total.get(invoice.currency, Decimal(0)) + invoice.remaining
        owed = " + ".join(format_money(amount, currency) for currency, amount in sorted(total.items()))
        lines.append(f"Open: {owed} in {len(summary.open_invoices)} invoice{'s' if len(summary.open_invoices) != 1 else ''}:")
        for invoice in summary.open_invoices[:SHOWN]:
            when = f"{invoice.days_late} days late" if invoice.days_late > 0 else "due today" if invoice.days_late == 0 else "not due yet"
            lines.append(f"  {invoice.label}  {format_money(invoice.remaining, invoice.currency)}  due {day_text(invoice.due, year=True)}, {when}")
        if len(summary.open_invoices) > SHOWN:
            lines.append(f"  and {len(summary.open_invoices) - SHOWN} more")
    else:
        lines.append("Nothing open and due.")
    if summary.last_paid is not None:
        day, amount, currency = summary.last_paid
        lines.append(f"Last paid {format_money(amount, currency)} on {day_text(day, year=True)}.")
    lines.append(f"Kind: {summary.kind} client · {describe_standing(summary.standing)}")
    return lines
