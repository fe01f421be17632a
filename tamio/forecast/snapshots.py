"""Forecast against actual, from the forecasts the 6 AM job stored, and from a replay of the ledger.

``take_snapshot`` stores the day's forecast (and the due-date baseline's closing balances beside
it). ``snapshot_outcomes`` pairs every stored week with the balance that came true at its end: the
opening balance of the snapshot taken the next morning (or, when none was, the last snapshot before
it plus the payments recorded since). ``refresh_calibration`` turns those outcomes into the band's
calibration, stored on the account for every forecast to read; ``forecast_accuracy`` scores them
for ``tamio forecast accuracy`` and ``/tamio forecast accuracy``.

``run_backtest`` (``tamio forecast backtest``) scores forecasts that were never stored: it replays
the account's ledger at weekly cut-offs (``tamio.forecast.accuracy.backtest``).

    await take_snapshot(db, account_id=account.id, today=today, now=now, settings=settings)
    rows = await forecast_accuracy(db, account_id=account.id, today=today, weeks=13)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.errors import ValidationError
from tamio.forecast.accuracy import (
    HORIZONS,
    AccuracyRow,
    Ledger,
    LedgerPayment,
    LedgerSchedule,
    Outcome,
    backtest,
    calibration_from,
    score,
)
from tamio.forecast.band import HORIZONS as WEEKS
from tamio.forecast.models import ForecastSnapshot
from tamio.forecast.service import load_forecast_inputs
from tamio.obligations.models import (
    Direction,
    ObligationSchedule,
    PaymentEvent,
    PaymentStatus,
    ScheduleStatus,
)

CALIBRATION_HISTORY = timedelta(days=364)  # outcomes older than this no longer calibrate the band
GAP_DAYS = 6  # a missing morning's balance is read from the last snapshot this close before it
ZERO = Decimal(0)


@dataclass(frozen=True)
class Accuracy:
    """What ``tamio forecast accuracy`` and ``backtest`` print: the rows and what they cover."""

    rows: tuple[AccuracyRow, ...]
    first: date | None  # first forecast scored
    last: date | None  # last day whose balance was compared
    source: str  # "snapshots" | "backtest"
    base_currency: str


async def take_snapshot(db: AsyncSession, *, account_id: str, today: date, now: datetime, settings: Settings) -> ForecastSnapshot:
    """Store today's forecast (replacing one taken earlier today: the last of the day counts)."""
    inputs = await load_forecast_inputs(db, account_id, as_of=today, weeks=WEEKS, settings=settings)
    forecast = inputs.forecast(as_of=today, weeks=WEEKS, keep_items=False)
    baseline = inputs.baseline(as_of=today, weeks=WEEKS)
    weeks = [
        {"close": str(w.closing_balance), "low": str(w.low), "high": str(w.high), "spread": str(w.spread), "lean": str(w.lean),
         "baseline": str(b.closing_balance)}
        for w, b in zip(forecast.weeks, baseline.weeks, strict=True)
    ]
    found = (await db.execute(select(ForecastSnapshot).where(ForecastSnapshot.user_id == account_id, ForecastSnapshot.as_of == today))).scalar_one_or_none()
    if found is None:
        found = ForecastSnapshot(user_id=account_id, as_of=today)
        db.add(found)
    found.opening_balance = forecast.opening_balance
    found.weeks = weeks
    found.taken_at = now
    await db.flush()
    return found


async def snapshot_outcomes(db: AsyncSession, *, account_id: str, since: date, through: date) -> list[Outcome]:
    """Every stored week that ended between ``since`` and ``through`` (inclusive), with what came true."""
    first = since - timedelta(days=7 * WEEKS)
    snapshots = list(
        (
            await db.execute(
                select(ForecastSnapshot.as_of, ForecastSnapshot.opening_balance, ForecastSnapshot.weeks)
                .where(ForecastSnapshot.user_id == account_id, ForecastSnapshot.as_of >= first, ForecastSnapshot.as_of <= through + timedelta(days=1))
                .order_by(ForecastSnapshot.as_of)
            )
        ).all()
    )
    opening = {row.as_of: row.opening_balance for row in snapshots}
    moves = await _cash_moves(db, account_id=account_id, first=first, last=through)
    outcomes = []
    for row in snapshots:
        for h, week in enumerate(row.weeks or (), start=1):
            last_day = row.as_of + timedelta(days=7 * h - 1)
            if not since <= last_day <= through:
                continue
            actual = _balance_after(last_day, opening, moves)
            if actual is None:
                continue
            outcomes.append(Outcome(
                made_on=row.as_of, weeks_ahead=h, forecast=Decimal(week["close"]), baseline=Decimal(week["baseline"]),
                low=Decimal(week["low"]), high=Decimal(week["high"]), spread=Decimal(week["spread"]), lean=Decimal(week.get("lean", "0")),
                actual=actual,
            ))
    return outcomes


def _balance_after(day: date, opening: dict[date, Decimal], moves: dict[date, Decimal]) -> Decimal | None:
    """Cash at the end of ``day``: the next morning's opening balance, or the last one within
    ``GAP_DAYS`` before it plus the payments recorded for the days between."""
    for back in range(0, GAP_DAYS + 1):
        morning = day + timedelta(days=1 - back)
        if morning in opening:
            return opening[morning] + sum((moves.get(morning + timedelta(days=i), ZERO) for i in range(back)), ZERO)
    return None


async def _cash_moves(db: AsyncSession, *, account_id: str, first: date, last: date) -> dict[date, Decimal]:
    pe = PaymentEvent
    moves: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for direction, amount, day in await db.execute(
        select(pe.direction, pe.base_currency_amount, pe.payment_date).where(
            pe.user_id == account_id, pe.status == PaymentStatus.COMPLETED, pe.cash_account_id.is_not(None),
            pe.payment_date >= first, pe.payment_date <= last,
        )
    ):
        moves[day] += (amount or ZERO) if direction == Direction.INFLOW else -(amount or ZERO)
    return moves


async def refresh_calibration(db: AsyncSession, *, account: Account, today: date) -> int:
    """Calibrate the account's band from its scored snapshots of the last year; how many were scored."""
    outcomes = await snapshot_outcomes(db, account_id=account.id, since=today - CALIBRATION_HISTORY, through=today - timedelta(days=1))
    account.forecast_calibration = calibration_from(outcomes, as_of=today).to_json() if outcomes else None
    await db.flush()
    return len(outcomes)


async def forecast_accuracy(db: AsyncSession, *, account: Account, today: date, weeks: int = 13) -> Accuracy:
    """Past forecasts for the weeks that ended in the last ``weeks`` weeks, against what happened."""
    if not 1 <= weeks <= 104:
        raise ValidationError(f"{weeks} weeks is out of range; look back 1 to 104 weeks.", field_errors={"weeks": "1 to 104"})
    outcomes = await snapshot_outcomes(db, account_id=account.id, since=today - timedelta(days=7 * weeks), through=today - timedelta(days=1))
    return _accuracy(outcomes, source="snapshots", base_currency=account.base_currency)


async def run_backtest(db: AsyncSession, *, account: Account, start: date, end: date, today: date) -> Accuracy:
    """Replay the ledger at weekly cut-offs from ``start``, scored up to ``end`` (at most yesterday)."""
    yesterday = today - timedelta(days=1)
    end = min(end, yesterday)
    if start + timedelta(days=6) > end:
        raise ValidationError(
            f"A backtest needs at least a week of history between --from and --to (up to yesterday, {yesterday:%Y-%m-%d}); "
            f"got {start:%Y-%m-%d} to {end:%Y-%m-%d}.",
            field_errors={"from": "at least a week before --to"},
        )
    ledger = await load_ledger(db, account_id=account.id, through=end + timedelta(days=7 * WEEKS))
    outcomes = backtest(ledger, start=start, end=end, currency=account.base_currency)
    return _accuracy(outcomes, source="backtest", base_currency=account.base_currency)


def _accuracy(outcomes: list[Outcome], *, source: str, base_currency: str) -> Accuracy:
    scored = [o for o in outcomes if o.weeks_ahead in HORIZONS]
    return Accuracy(
        rows=tuple(score(scored)), first=min((o.made_on for o in scored), default=None),
        last=max((o.made_on + timedelta(days=7 * o.weeks_ahead - 1) for o in scored), default=None), source=source,
        base_currency=base_currency,
    )


async def load_ledger(db: AsyncSession, *, account_id: str, through: date) -> Ledger:
    """The account's schedules due by ``through`` (not cancelled) and its completed payments."""
    os_, pe = ObligationSchedule, PaymentEvent
    schedules = tuple(
        LedgerSchedule(
            id=row.id, due=row.due_date, direction=row.direction.value, amount_type=row.amount_type.value, origin=row.origin,
            client_id=row.client_id, base_amount=row.base_currency_amount or ZERO,
        )
        for row in await db.execute(
            select(os_.id, os_.due_date, os_.direction, os_.amount_type, os_.origin, os_.client_id, os_.base_currency_amount)
            .where(os_.user_id == account_id, os_.due_date <= through, os_.status != ScheduleStatus.CANCELLED)
            .order_by(os_.due_date, os_.id)
        )
    )
    payments = tuple(
        LedgerPayment(schedule_id=row.schedule_id, direction=row.direction.value, base_amount=row.base_currency_amount or ZERO, paid_on=row.payment_date)
        for row in await db.execute(
            select(pe.schedule_id, pe.direction, pe.base_currency_amount, pe.payment_date)
            .where(pe.user_id == account_id, pe.status == PaymentStatus.COMPLETED, pe.payment_date <= through)
            .order_by(pe.payment_date, pe.id)
        )
    )
    return Ledger(schedules=schedules, payments=payments)
