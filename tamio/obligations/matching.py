"""Which open schedules a payment pays, as a bookkeeper would apply it.

- An invoice reference, when given, names the one schedule paid: its invoice number (INV-1042),
  Tamio's schedule id, Xero's InvoiceID, or for a payment with no number its due date
  (2026-12-01). An unknown reference is an error that lists the counterparty's open invoices.
- Without one, the money goes to the counterparty's open schedules oldest first (by due date):
  a partial payment leaves the rest of the oldest one open, a larger one settles them in turn,
  and whatever is left after the last one is an overpayment on it. No day window, no amount
  tolerance: a client 60 days late still pays its oldest invoice.

``allocate`` is the pure part: amounts in, portions out.

    >>> allocate(Decimal("7000"), [Decimal("5000"), Decimal("5000")])
    Allocation(portions=(Decimal('5000'), Decimal('2000')), overpaid=Decimal('0'))
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import Client, ExpenseBucket
from tamio.dates import day_text
from tamio.errors import NotFound, ValidationError
from tamio.money import format_money
from tamio.obligations.counterparties import find_client, find_expense
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    ScheduleStatus,
)

ZERO = Decimal(0)


def in_status(status: ScheduleStatus) -> ColumnElement[bool]:
    """Schedules in ``status`` as a person asking for it means it: ``partially_paid`` is every open one
    with a part paid, late or not (a payment and Xero store partially_paid; the 6 AM job then stores
    overdue for a late one, which is still part paid). What is stored stays as it is."""
    if status is ScheduleStatus.PARTIALLY_PAID:
        return or_(ObligationSchedule.status == status,
                   and_(ObligationSchedule.status.in_(OPEN_SCHEDULE_STATUSES), ObligationSchedule.paid_amount > 0))
    return ObligationSchedule.status == status
SHOWN = 5


@dataclass(frozen=True)
class Allocation:
    portions: tuple[Decimal, ...]  # one per schedule paid, oldest first (the last may carry the overpayment)
    overpaid: Decimal  # more than the schedules expected, included in the last portion


def allocate(amount: Decimal, remaining: Sequence[Decimal]) -> Allocation:
    """``amount`` over schedules that expect ``remaining``, oldest first; what is left after all of
    them goes on the last one paid (nothing is paid when no schedule expects anything)."""
    portions: list[Decimal] = []
    left = amount
    for expected in remaining:
        if left <= 0:
            break
        if expected <= 0:
            portions.append(ZERO)
            continue
        portions.append(min(left, expected))
        left -= portions[-1]
    while portions and portions[-1] == 0:
        portions.pop()
    if not portions:
        return Allocation((), ZERO)
    if left > 0:
        portions[-1] += left
    return Allocation(tuple(portions), max(left, ZERO))


def remaining_of(schedule: ObligationSchedule) -> Decimal:
    return max(ZERO, schedule.estimated_amount - schedule.paid_amount)


async def open_schedules(
    db: AsyncSession, *, account_id: str, counterparty: Client | ExpenseBucket, direction: Direction, lock: bool = False
) -> list[ObligationSchedule]:
    """The counterparty's open schedules in ``direction``, oldest due first."""
    column = ObligationAgreement.client_id if isinstance(counterparty, Client) else ObligationAgreement.expense_bucket_id
    stmt = (
        select(ObligationSchedule)
        .join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
        .where(
            ObligationSchedule.user_id == account_id,
            column == counterparty.id,
            ObligationSchedule.direction == direction,
            ObligationSchedule.status.in_(OPEN_SCHEDULE_STATUSES),
        )
        .order_by(ObligationSchedule.due_date, ObligationSchedule.rule_date, ObligationSchedule.id)
    )
    if lock:  # two payments of one client at once must not both take the same invoice
        stmt = stmt.with_for_update(of=ObligationSchedule).execution_options(populate_existing=True)
    return [s for s in (await db.execute(stmt)).scalars().all() if remaining_of(s) > 0]


def invoice_label(schedule: ObligationSchedule) -> str:
    """How a person names the schedule: its invoice number, or (without one) its due date."""
    return schedule.invoice_number or schedule.due_date.isoformat()


def describe_open(schedule: ObligationSchedule) -> str:
    return f"{invoice_label(schedule)} (due {day_text(schedule.due_date, year=True)}, {format_money(remaining_of(schedule), schedule.currency)} open)"


def _listing(schedules: Sequence[ObligationSchedule]) -> str:
    shown = [describe_open(s) for s in schedules[:SHOWN]]
    more = f" and {len(schedules) - SHOWN} more" if len(schedules) > SHOWN else ""
    if len(shown) == 1:
        return shown[0] + more
    return ", ".join(shown[:-1]) + (f", {shown[-1]}{more}" if more else f" and {shown[-1]}")


async def find_invoice(
    db: AsyncSession, *, account_id: str, reference: str, counterparty: Client | ExpenseBucket | None, direction: Direction | None = None,
) -> ObligationSchedule:
    """The open schedule ``reference`` names (see the module docstring), or an error saying which exist."""
    ref = reference.strip()
    if not ref:
        raise ValidationError("The invoice reference is empty; write the invoice number, like INV-1042.", field_errors={"invoice": "must not be empty"})
    as_day: date | None = None
    try:
        as_day = date.fromisoformat(ref)
    except ValueError:
        pass
    os_, oa = ObligationSchedule, ObligationAgreement
    names = [func.lower(os_.invoice_number) == ref.lower(), os_.id == ref, func.lower(oa.import_key) == f"xero:{ref}".lower()]
    if as_day is not None:
        names.append(os_.due_date == as_day)
    stmt = select(os_).join(oa, oa.id == os_.obligation_id).where(os_.user_id == account_id, or_(*names))
    if counterparty is not None:
        column = oa.client_id if isinstance(counterparty, Client) else oa.expense_bucket_id
        stmt = stmt.where(column == counterparty.id)
    if direction is not None:
        stmt = stmt.where(os_.direction == direction)
    found = list((await db.execute(stmt.order_by(os_.due_date, os_.id))).scalars().all())
    named = found
    still_open = [s for s in named if s.status in OPEN_SCHEDULE_STATUSES and remaining_of(s) > 0]
    if len(still_open) == 1:
        return still_open[0]
    whose = f"{counterparty.name}" if counterparty is not None else "This account"
    if len(still_open) > 1:
        raise ValidationError(
            f"`{ref}` names {len(still_open)} open payments of {whose}: {_listing(still_open)}; say which by its invoice number.",
            field_errors={"invoice": "names more than one open payment"},
        )
    if named:
        closed = named[0]
        raise ValidationError(
            f"{invoice_label(closed)} of {whose} is already {closed.status.value.replace('_', ' ')}, so nothing is left to pay on it.",
            field_errors={"invoice": f"already {closed.status.value}"},
        )
    if counterparty is None:
        raise NotFound(f"There is no invoice `{ref}` in this account.", hint="Write its invoice number (INV-1042) or its due date (2026-12-01).")
    wanted = direction or (Direction.INFLOW if isinstance(counterparty, Client) else Direction.OUTFLOW)
    others = await open_schedules(db, account_id=account_id, counterparty=counterparty, direction=wanted)
    if not others:
        raise NotFound(f"{counterparty.name} has no open invoice `{ref}`, and nothing else open either.",
                       hint="Record it without a reference to keep it as an unmatched payment.")
    raise NotFound(
        f"{counterparty.name} has no open invoice `{ref}`. Open: {_listing(others)}.",
        hint="Write one of those invoice numbers, or a due date as YYYY-MM-DD.",
    )


async def find_payer(db: AsyncSession, *, account_id: str, name: str) -> Client | ExpenseBucket:
    """The client called ``name`` (else the expense bucket, so a payment made); an unknown name is
    an error that suggests the close ones."""
    found: Client | ExpenseBucket | None = await find_client(db, account_id=account_id, name=name)
    if found is None:
        found = await find_expense(db, account_id=account_id, name=name)
    if found is not None:
        return found
    known = [
        *(await db.execute(select(Client.name).where(Client.user_id == account_id))).scalars(),
        *(await db.execute(select(ExpenseBucket.name).where(ExpenseBucket.user_id == account_id))).scalars(),
    ]
    by_lower = {n.casefold(): n for n in known}
    wanted = name.strip().casefold()
    close = [by_lower[n] for n in difflib.get_close_matches(wanted, list(by_lower), n=3, cutoff=0.6)]
    close += [n for n in known if wanted and wanted in n.casefold() and n not in close][: 3 - len(close)]
    if close:
        quoted = " or ".join(f"`{n}`" for n in close)
        raise NotFound(f"There is no client or vendor called `{name}`. Did you mean {quoted}?")
    raise NotFound(f"There is no client or vendor called `{name}`.", hint=f'Add them first, e.g. `/tamio add client "{name}" 5000 monthly`.')
