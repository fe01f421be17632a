"""Each change of a scenario, resolved against today's data into a ``Delta`` of the forecast's inputs.

Every change means what doing it for real would do to the forecast, and nothing is written:

- ``remove NAME``: its agreements cancelled, so its schedules due from today (scheduled or queued)
  are no longer expected; what is overdue or partly paid still is (``ObligationService.cancel_agreement``);
- ``pause NAME``: what its recurrence alone put there stops (the forecast's dormant rule);
- ``amount NAME AMOUNT``: its one active agreement's future generated schedules at the new amount,
  converted at today's rate (``update_agreement``);
- ``move NAME to DATE``: its next open payment on another date (an agreed delay);
- ``late NAME DAYS`` / ``lose NAME``: the client's usual delay longer by DAYS / none of its open
  receivables arriving;
- ``add ...``: the agreement ``/tamio add`` would create, its schedules through the horizon;
- ``once in|out``, ``draw``, ``balance``: an expected movement, a credit draw with its repayment
  (``draw_delta``, which the credit-draw action shares), a cash account's balance set.

A client, vendor, credit line or cash account that does not exist is an error naming it. Each
change is resolved against today's data, not against the changes before it, and their deltas add
up: two changes of one thing (two moves of one vendor, a draw and a balance set for the account it
lands in) are not applied one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.currency.service import RateBook
from tamio.data.models import CashAccountType, Client, CounterpartyStatus, ExpenseBucket
from tamio.data.service import find_cash_account
from tamio.errors import NotFound, ValidationError
from tamio.forecast.engine import INFLOW, OUTFLOW
from tamio.forecast.expected import ExpectedKey, is_plain, key_of
from tamio.limits import check_converted
from tamio.money import format_money, quantize
from tamio.obligations.counterparties import find_client, find_counterparty, find_expense
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    AgreementStatus,
    ObligationAgreement,
    ObligationSchedule,
    ScheduleStatus,
)
from tamio.scenarios.changes import (
    AddObligation,
    Balance,
    Change,
    ChangeAmount,
    Draw,
    Late,
    Lose,
    Move,
    OneOff,
    Pause,
    Remove,
)
from tamio.scenarios.engine import Delta, ScenarioBase, add_amount

ZERO = Decimal(0)
REPAYMENT_DAYS = 120  # revolving credit repaid after the 13-week horizon
DORMANT = (CounterpartyStatus.PAUSED, CounterpartyStatus.ENDED)
CANCELLABLE = (ScheduleStatus.SCHEDULED, ScheduleStatus.QUEUED)


@dataclass(frozen=True)
class OpenSchedule:
    """An open schedule of a counterparty as the forecast counts it."""

    id: str
    key: ExpectedKey
    amount: Decimal  # in the base currency, what is still open
    status: ScheduleStatus
    plain: bool
    replaceable: bool
    agreement_id: str


def repayment(amount: Decimal, rate_pct: Decimal | None, *, on: date, currency: str) -> tuple[date, Decimal]:
    """When a draw of ``amount`` on ``on`` is repaid, and how much (with simple interest)."""
    interest = quantize(amount * (rate_pct or ZERO) / 100 * REPAYMENT_DAYS / 365, currency)
    return on + timedelta(days=REPAYMENT_DAYS), interest


def draw_delta(base: ScenarioBase, *, amount: Decimal, on: date, rate_pct: Decimal | None) -> Delta:
    """A credit draw: the money in (cash today, or expected on ``on``), the repayment with interest out."""
    repay, interest = repayment(amount, rate_pct, on=on, currency=base.base_currency)
    amounts: dict[ExpectedKey, Decimal] = {}
    add_amount(amounts, ExpectedKey(repay, OUTFLOW, "fixed", "tamio", None), amount + interest)
    if on <= base.as_of:
        return Delta(amounts=amounts, opening=amount)
    add_amount(amounts, ExpectedKey(on, INFLOW, "fixed", "tamio", None), amount)
    return Delta(amounts=amounts)


async def _open_schedules(
    db: AsyncSession, base: ScenarioBase, entity: Client | ExpenseBucket, *, today: date,
) -> list[OpenSchedule]:
    """The counterparty's open schedules the forecast counts, in due-date order (two queries: its
    agreements, then their schedules by the indexed agreement id)."""
    os_, oa = ObligationSchedule, ObligationAgreement
    owner = oa.client_id == entity.id if isinstance(entity, Client) else oa.expense_bucket_id == entity.id
    statuses = {row.id: row.status for row in await db.execute(select(oa.id, oa.status).where(oa.user_id == entity.user_id, owner))}
    if not statuses:
        return []
    rows = (await db.execute(
        select(os_)
        .where(os_.obligation_id.in_(list(statuses)), os_.status.in_(OPEN_SCHEDULE_STATUSES), os_.due_date <= base.horizon_end)
        .order_by(os_.due_date, os_.id)
    )).scalars().all()
    dormant_entity = entity.status in DORMANT
    found = []
    for schedule in rows:
        agreement_status = statuses[schedule.obligation_id]
        plain = is_plain(status=schedule.status, paid_amount=schedule.paid_amount, delayed_from=schedule.delayed_from,
                         source=schedule.source, due=schedule.due_date, as_of=base.as_of)
        dormant = dormant_entity or agreement_status in (AgreementStatus.CANCELLED, AgreementStatus.ENDED)
        if dormant and plain:
            continue  # the forecast does not expect it now
        found.append(OpenSchedule(
            id=schedule.id,
            key=key_of(schedule.due_date, schedule.direction, schedule.amount_type, schedule.origin, schedule.client_id),
            amount=(schedule.base_currency_amount or ZERO) - schedule.paid_base_amount,
            status=schedule.status,
            plain=plain,
            replaceable=(schedule.status == ScheduleStatus.SCHEDULED and schedule.paid_amount == 0
                         and schedule.due_date >= today and schedule.source == "generated"),
            agreement_id=schedule.obligation_id,
        ))
    return found


def _taken(schedules: Sequence[OpenSchedule]) -> Delta:
    amounts: dict[ExpectedKey, Decimal] = {}
    for schedule in schedules:
        add_amount(amounts, schedule.key, -schedule.amount)
    return Delta(amounts=amounts)


async def _client(db: AsyncSession, account: Account, name: str) -> Client:
    client = await find_client(db, account_id=account.id, name=name)
    if client is None:
        raise NotFound(f"There is no client called `{name}`.", hint="Check the spelling; names are matched ignoring case.")
    return client


async def _convert(db: AsyncSession, account: Account, amount: Decimal, currency: str, today: date) -> Decimal:
    if currency == account.base_currency:  # what the rate book gives at a rate of 1, without reading rates
        return check_converted(quantize(amount, currency), currency)
    book = await RateBook.load(db, [currency, account.base_currency], today, account_id=account.id)
    converted = book.convert(amount, currency, account.base_currency, today).amount
    return check_converted(converted, account.base_currency)


class Resolver:
    """Resolves changes for one account against one base forecast."""

    def __init__(self, db: AsyncSession, *, account: Account, base: ScenarioBase, today: date) -> None:
        self.db, self.account, self.base, self.today = db, account, base, today
        self._currency: str | None = None  # the currency the change's amount is in, once resolved
        self._described: list[str] = []

    async def delta(self, changes: Sequence[Change]) -> Delta:
        total = Delta()
        for change in changes:
            self._currency = None
            total = total + await self.one(change)
            self._described.append(change.describe(self.account.base_currency, self._currency))
        return total

    def described(self) -> list[str]:
        """What each change resolved by ``delta`` does, in words, its amounts in their own currencies."""
        return list(self._described)

    async def one(self, change: Change) -> Delta:
        if isinstance(change, Late):
            return Delta(later={(await _client(self.db, self.account, change.name)).id: change.days})
        if isinstance(change, Lose):
            client = await _client(self.db, self.account, change.name)
            return Delta(amounts={key: -self.base.totals[key] for key in self.base.keys_of_client(client.id)})
        if isinstance(change, Remove | Pause | ChangeAmount | Move):
            entity = await find_counterparty(self.db, account_id=self.account.id, name=change.name)
            schedules = await _open_schedules(self.db, self.base, entity, today=self.today)
            if isinstance(change, Remove):
                return _taken([s for s in schedules if s.status in CANCELLABLE and s.key.due >= self.today])
            if isinstance(change, Pause):
                return _taken([s for s in schedules if s.plain and entity.status not in DORMANT])
            if isinstance(change, ChangeAmount):
                return await self._new_amount(entity, schedules, change.amount)
            return self._moved(entity, schedules, change.to)
        if isinstance(change, AddObligation):
            return await self._added(change)
        if isinstance(change, OneOff):
            direction = INFLOW if change.direction == "in" else OUTFLOW
            amount = quantize(change.amount, self.account.base_currency)
            return Delta(amounts={ExpectedKey(change.on, direction, "fixed", "manual", None): amount})
        if isinstance(change, Draw):
            return await self._draw(change)
        return await self._balance(change)

    async def _new_amount(self, entity: Client | ExpenseBucket, schedules: Sequence[OpenSchedule], amount: Decimal) -> Delta:
        agreements = (await self.db.execute(
            select(ObligationAgreement).where(
                or_(ObligationAgreement.client_id == entity.id, ObligationAgreement.expense_bucket_id == entity.id),
                ObligationAgreement.user_id == self.account.id, ObligationAgreement.status == AgreementStatus.ACTIVE,
            )
        )).scalars().all()
        if len(agreements) != 1:
            raise ValidationError(
                f"`{entity.name}` has {len(agreements) or 'no'} active amount{'' if len(agreements) == 1 else 's'}; "
                "I can change the amount only of one that has exactly one.",
                hint=f"Try `remove \"{entity.name}\"` and an `add` with the new amount instead.",
            )
        agreement = agreements[0]
        self._currency = agreement.currency
        new_base = await _convert(self.db, self.account, quantize(amount, agreement.currency), agreement.currency, self.today)
        amounts: dict[ExpectedKey, Decimal] = {}
        for schedule in schedules:
            if schedule.agreement_id == agreement.id and schedule.replaceable:
                add_amount(amounts, schedule.key, new_base - schedule.amount)
        return Delta(amounts=amounts)

    def _moved(self, entity: Client | ExpenseBucket, schedules: Sequence[OpenSchedule], to: date) -> Delta:
        if to < self.today:
            raise ValidationError(f"The new date {to.isoformat()} is in the past.", hint=f"Use today ({self.today.isoformat()}) or later.")
        payable = [s for s in schedules if s.amount > 0]
        if not payable:
            raise ValidationError(f"`{entity.name}` has no open payment in the next {self.base.weeks} weeks to move.")
        first = payable[0]
        amounts: dict[ExpectedKey, Decimal] = {}
        add_amount(amounts, first.key, -first.amount)
        moved = ExpectedKey(to, first.key.direction, first.key.amount_type, first.key.origin, first.key.client_id)
        add_amount(amounts, moved, first.amount)
        return Delta(amounts=amounts)

    async def _added(self, change: AddObligation) -> Delta:
        spec = change.spec()
        existing: Client | ExpenseBucket | None
        if change.obligation_kind == "client":
            existing = await find_client(self.db, account_id=self.account.id, name=change.name)
        else:
            existing = await find_expense(self.db, account_id=self.account.id, name=change.name)
        base_amount = await _convert(self.db, self.account, quantize(change.amount, change.currency), change.currency, self.today)
        direction = INFLOW if change.obligation_kind == "client" else OUTFLOW
        origin = existing.source if existing is not None else "manual"
        client_id = existing.id if isinstance(existing, Client) else None
        start = min(spec.start_date, self.today)  # a new agreement's arrears are owed, as ObligationService schedules them
        amounts: dict[ExpectedKey, Decimal] = {}
        for occurrence in spec.recurrence().occurrences(start, self.base.horizon_end):
            add_amount(amounts, ExpectedKey(occurrence.due_date, direction, "fixed", origin, client_id), base_amount)
        return Delta(amounts=amounts)

    async def _draw(self, change: Draw) -> Delta:
        line = await find_cash_account(self.db, account_id=self.account.id, name=change.credit_line)
        if line is None or line.account_type != CashAccountType.CREDIT_LINE:
            what = "There is no credit line" if line is None else f"`{line.name}` is a {line.account_type.value.replace('_', ' ')} account, not a credit line;"
            raise NotFound(f"{what} called `{change.credit_line}`." if line is None else f"{what} I can only draw on a credit line.")
        if change.on < self.today:
            raise ValidationError(f"The draw date {change.on.isoformat()} is in the past.", hint=f"Use today ({self.today.isoformat()}) or later.")
        available = max(ZERO, (line.credit_limit or ZERO) - line.drawn_amount)
        amount = quantize(change.amount, self.account.base_currency)
        if amount > available:
            raise ValidationError(
                f"{line.name} has {format_money(available, line.currency)} left to draw, less than {format_money(amount, line.currency)}.",
                field_errors={"amount": f"at most {available}"},
            )
        return draw_delta(self.base, amount=amount, on=change.on, rate_pct=line.interest_rate_pct)

    async def _balance(self, change: Balance) -> Delta:
        cash = await find_cash_account(self.db, account_id=self.account.id, name=change.cash_account)
        if cash is None or cash.account_type == CashAccountType.CREDIT_LINE:
            raise NotFound(
                f"There is no bank or savings account called `{change.cash_account}`.",
                hint="`/tamio balance` lists them; a credit line's use is a `draw`.",
            )
        self._currency = cash.currency
        amount = quantize(change.amount, cash.currency)
        new_base = await _convert(self.db, self.account, amount, cash.currency, self.today)
        return Delta(opening=new_base - (cash.base_currency_amount or ZERO))
