"""A year of a small business whose clients pay with known habits (issue 16's replay).

Fifteen clients invoice on fixed terms and pay with habits chosen to be hard for a due-date
forecast: one pays 0-3 days late, one about 20 days late, one early, one half on time and half 45
days late, one drifts from 2 to 30 days late over the year, and ten others (net 60, weekly and
quarterly invoices, a random 0-30 payer, one who is sometimes a month late, ...). Bills (payroll,
rent, software, tax) are paid on their due dates. Everything is drawn from one seeded generator,
so a replay is the same every time.

``simulate`` is pure: the invoices and when each was paid. ``tests/service/test_replay.py`` and
``bench/replay.py`` drive the product with it (``drive``): the clients and bills are entered as a
user would, every payment is recorded on its real date through ``record_payment`` (by invoice, or by
client as ``/tamio paid`` does), and each Monday the 6 AM job runs (learning, snapshot, calibration).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import ExpenseBucket
from tamio.obligations.matching import find_payer
from tamio.obligations.payments import record_payment
from tamio.obligations.schemas import RecurrenceSpec
from tamio.scheduler.jobs import JobRun, morning
from tests.service.books import SCHEDULE_PATH, Books

START = date(2026, 1, 1)
END = date(2026, 12, 31)
OPENING_CASH = Decimal("150000")


@dataclass(frozen=True)
class Habit:
    name: str
    amount: Decimal
    frequency: str  # monthly | weekly | biweekly | semimonthly | quarterly
    day: int | None  # day of the month (monthly, quarterly)
    first_due: date
    delay: Callable[[random.Random, float], int]  # (generator, share of the year gone) -> days late


def _uniform(low: int, high: int) -> Callable[[random.Random, float], int]:
    return lambda rng, _: rng.randint(low, high)


def _around(mean: float, sd: float) -> Callable[[random.Random, float], int]:
    return lambda rng, _: round(rng.gauss(mean, sd))


def _half_and_half(rng: random.Random, _: float) -> int:
    return rng.randint(0, 2) if rng.random() < 0.5 else rng.randint(43, 47)


def _drifting(rng: random.Random, year: float) -> int:
    return round(2 + 28 * year + rng.gauss(0, 1.5))


def _sometimes_a_month(rng: random.Random, _: float) -> int:
    return rng.randint(30, 40) if rng.random() < 0.2 else rng.randint(0, 2)


CLIENTS = (
    Habit("Prompt Ltd", Decimal("8000"), "monthly", 1, date(2026, 1, 1), _uniform(0, 3)),
    Habit("Twenty Days Inc", Decimal("12000"), "monthly", 5, date(2026, 1, 5), _around(20, 2)),
    Habit("Early Bird Co", Decimal("6000"), "monthly", 10, date(2026, 1, 20), _uniform(-10, -5)),
    Habit("Half Half LLC", Decimal("10000"), "monthly", 15, date(2026, 1, 15), _half_and_half),
    Habit("Drifter GmbH", Decimal("9000"), "monthly", 20, date(2026, 1, 20), _drifting),
    Habit("Net Sixty SA", Decimal("15000"), "monthly", 25, date(2026, 1, 25), _around(60, 3)),
    Habit("Weekly Retainer", Decimal("2000"), "weekly", None, date(2026, 1, 2), _uniform(7, 10)),
    Habit("Fortnight Co", Decimal("4000"), "biweekly", None, date(2026, 1, 9), _uniform(0, 5)),
    Habit("Thirty Days Ltd", Decimal("7000"), "monthly", 28, date(2026, 1, 28), _uniform(28, 35)),
    Habit("Random Ltd", Decimal("5000"), "monthly", 12, date(2026, 1, 12), _uniform(0, 30)),
    Habit("Quarterly Big", Decimal("30000"), "quarterly", 1, date(2026, 1, 1), _uniform(10, 20)),
    Habit("Small Ontime", Decimal("1500"), "monthly", 3, date(2026, 1, 3), _uniform(0, 1)),
    Habit("Variable Co", Decimal("3000"), "monthly", 8, date(2026, 1, 8), _uniform(5, 15)),
    Habit("Semi Co", Decimal("2500"), "semimonthly", None, date(2026, 1, 15), _uniform(0, 10)),
    Habit("Sometimes Late", Decimal("4500"), "monthly", 18, date(2026, 1, 18), _sometimes_a_month),
)
BILLS = (
    ("Payroll", Decimal("30000"), "semimonthly", None, date(2026, 1, 15), "payroll"),
    ("Office Rent", Decimal("8000"), "monthly", 1, date(2026, 1, 1), "rent"),
    ("Cloud Software", Decimal("2000"), "monthly", 10, date(2026, 1, 10), "software"),
    ("Sales Tax", Decimal("12000"), "quarterly", 20, date(2026, 1, 20), "tax"),
)


@dataclass(frozen=True)
class Invoice:
    client: str
    due: date
    amount: Decimal
    paid_on: date


def every(frequency: str, first: date, day: int | None) -> RecurrenceSpec:
    return Books.every(frequency, first, day=day)


def dues(frequency: str, first: date, day: int | None, until: date) -> list[date]:
    """The due dates the product generates for the recurrence (no business-day shift)."""
    return [o.due_date for o in every(frequency, first, day).recurrence().occurrences(first, until)]


def simulate(seed: int = 16, *, start: date = START, end: date = END) -> list[Invoice]:
    """Every invoice due in the year and the day its client paid it (which may be after ``end``)."""
    rng = random.Random(seed)
    invoices = []
    for habit in CLIENTS:
        for due in dues(habit.frequency, habit.first_due, habit.day, end):
            year = (due - start).days / (end - start).days
            invoices.append(Invoice(habit.name, due, habit.amount, due + timedelta(days=habit.delay(rng, year))))
    return sorted(invoices, key=lambda i: (i.due, i.client))


def bill_payments(end: date = END) -> list[tuple[str, date, Decimal]]:
    """Every bill due in the year, paid on its due date."""
    return sorted((name, due, amount) for name, amount, frequency, day, first, _ in BILLS for due in dues(frequency, first, day, end))


async def drive(
    sessions: async_sessionmaker[AsyncSession], *, by: str, seed: int = 16, settings: Settings = SCHEDULE_PATH,
    start: date = START, end: date = END,
) -> str:
    """The year through the product, day by day; returns the account's id.

    Each day's payments are recorded with ``record_payment`` on their real date: ``by="invoice"``
    names the invoice (its due date, as ``/tamio paid "Acme" 5000 for 2026-03-05`` does), ``by="client"``
    names only the client (oldest open invoice first). Every Monday at 6 AM the morning job runs first.
    """
    async with sessions() as db, db.begin():
        books = await Books.open(db, today=start, name=f"Replay by {by} ({seed})", settings=settings)
        await books.cash("Operating", str(OPENING_CASH))
        for habit in CLIENTS:
            await books.client(habit.name, str(habit.amount), every(habit.frequency, habit.first_due, habit.day))
        for name, amount, frequency, day, first, category in BILLS:
            await books.expense(name, str(amount), every(frequency, first, day), category=category)
        account_id = books.account.id
    paid: dict[date, list[tuple[str, date, Decimal]]] = defaultdict(list)
    for invoice in simulate(seed, start=start, end=end):
        if invoice.paid_on <= end:
            paid[invoice.paid_on].append((invoice.client, invoice.due, invoice.amount))
    for name, due, amount in bill_payments(end):
        paid[due].append((name, due, amount))
    day = start
    while day <= end:
        now = datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)
        if day.weekday() == 0:
            async with sessions() as db, db.begin():
                account = await db.get(Account, account_id)
                assert account is not None
                await morning(db, account, JobRun(job="morning", slot=now, now=now, settings=settings))
        if paid.get(day):
            async with sessions() as db, db.begin():
                account = await db.get(Account, account_id)
                assert account is not None
                for name, due, amount in sorted(paid[day]):
                    payer = await find_payer(db, account_id=account_id, name=name)
                    await record_payment(
                        db, account=account, amount=amount, currency="USD", payment_date=day, counterparty=payer,
                        invoice=due.isoformat() if by == "invoice" or isinstance(payer, ExpenseBucket) else None,
                        actor="replay", now=now + timedelta(hours=8),
                    )
        day += timedelta(days=1)
    return account_id
