"""ObligationService: agreements and their schedules, kept in step with clients and expense buckets.

Creating or updating a client or expense bucket creates or updates its ObligationAgreement (when
``USE_OBLIGATION_SYSTEM`` is on) in the caller's transaction, with an audit row (design: "Creating a
Client/Expense"). Schedules are generated for a rolling horizon (3 months by default and never
less than the forecast's 13 weeks). Regeneration replaces only future, unpaid schedules and is
idempotent; cancelling an agreement cancels its future schedules.

    service = ObligationService(db, account=account, settings=settings, today=date(2026, 12, 1), now=now)
    agreement = await service.create_obligation_from_client(client, spec, amount=Decimal("5000"), currency="EUR")
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.service import AuditService
from tamio.bulk import copy_rows
from tamio.config import Settings
from tamio.currency.service import RateBook
from tamio.data.models import Client, ExpenseBucket
from tamio.db import new_id
from tamio.errors import NotFound, ValidationError
from tamio.money import normalize_currency, quantize
from tamio.obligations.models import (
    AgreementStatus,
    AmountType,
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
    Scheduled,
    ScheduleStatus,
)
from tamio.obligations.schemas import RecurrenceSpec

FORECAST_WEEKS = 13


def horizon_end(today: date, months: int = 3) -> date:
    """The last day schedules are generated for: ``months`` ahead, and never less than 13 weeks."""
    return max(today + relativedelta(months=months), today + timedelta(weeks=FORECAST_WEEKS + 1))


def direction_for(obligation_type: ObligationType) -> Direction:
    return Direction.INFLOW if obligation_type == ObligationType.REVENUE else Direction.OUTFLOW


def obligation_type_for_bucket(bucket: ExpenseBucket) -> ObligationType:
    category = bucket.category.value
    if category == "payroll":
        return ObligationType.PAYROLL
    if category in ("tax", "statutory"):
        return ObligationType.TAX
    return ObligationType.EXPENSE


def base_amount_of(agreement: ObligationAgreement, amount: Decimal, base_currency: str) -> Decimal:
    """An amount in the agreement's currency, in the base currency at the agreement's stored rate."""
    rate = agreement.exchange_rate_used if agreement.exchange_rate_used is not None else Decimal(1)
    return quantize(amount * rate, base_currency)


class ObligationService:
    def __init__(
        self,
        db: AsyncSession,
        *,
        account: Account,
        settings: Settings,
        today: date,
        now: datetime,
        actor: str = "system",
    ) -> None:
        self.db = db
        self.account = account
        self.settings = settings
        self.today = today
        self.now = now
        self.audit = AuditService(db, account.id, actor=actor, clock=lambda: self.now)
        self._books: dict[tuple[str, ...], RateBook] = {}

    @property
    def horizon(self) -> date:
        return horizon_end(self.today, self.settings.schedule_horizon_months)

    @property
    def generation_end(self) -> date:
        """How far schedules are generated: the rolling horizon, or further when the account's other
        obligations already reach further (``Account.schedules_through`` stays true for every one)."""
        through = self.account.schedules_through
        return max(self.horizon, through) if through is not None else self.horizon

    async def _book(self, currencies: Iterable[str]) -> RateBook:
        key = tuple(sorted(set(currencies) | {self.account.base_currency}))
        if key not in self._books:
            self._books[key] = await RateBook.load(self.db, key, self.today, account_id=self.account.id)
        return self._books[key]

    # -- agreements -------------------------------------------------------------------------

    async def create_obligation_from_client(
        self,
        client: Client,
        spec: RecurrenceSpec,
        *,
        amount: Decimal,
        currency: str,
        amount_type: AmountType = AmountType.FIXED,
        import_key: str | None = None,
        source: str | None = None,
        description: str = "",
    ) -> ObligationAgreement:
        return await self._create(
            obligation_type=ObligationType.REVENUE,
            client_id=client.id,
            expense_bucket_id=None,
            spec=spec,
            amount=amount,
            currency=currency,
            amount_type=amount_type,
            import_key=import_key,
            source=source or client.source,
            description=description or client.name,
        )

    async def create_obligation_from_expense(
        self,
        bucket: ExpenseBucket,
        spec: RecurrenceSpec,
        *,
        amount: Decimal,
        currency: str,
        obligation_type: ObligationType | None = None,
        amount_type: AmountType = AmountType.FIXED,
        import_key: str | None = None,
        source: str | None = None,
        description: str = "",
    ) -> ObligationAgreement:
        return await self._create(
            obligation_type=obligation_type or obligation_type_for_bucket(bucket),
            client_id=None,
            expense_bucket_id=bucket.id,
            spec=spec,
            amount=amount,
            currency=currency,
            amount_type=amount_type,
            import_key=import_key,
            source=source or bucket.source,
            description=description or bucket.name,
        )

    async def create_standalone(
        self,
        *,
        obligation_type: ObligationType,
        spec: RecurrenceSpec,
        amount: Decimal,
        currency: str,
        description: str,
        cash_account_id: str | None = None,
        source: str = "tamio",
    ) -> ObligationAgreement:
        """An obligation with no client or vendor behind it (a credit-line repayment)."""
        agreement = await self._create(
            obligation_type=obligation_type,
            client_id=None,
            expense_bucket_id=None,
            spec=spec,
            amount=amount,
            currency=currency,
            amount_type=AmountType.FIXED,
            import_key=None,
            source=source,
            description=description,
        )
        agreement.cash_account_id = cash_account_id
        return agreement

    async def _create(
        self,
        *,
        obligation_type: ObligationType,
        client_id: str | None,
        expense_bucket_id: str | None,
        spec: RecurrenceSpec,
        amount: Decimal,
        currency: str,
        amount_type: AmountType,
        import_key: str | None,
        source: str,
        description: str,
    ) -> ObligationAgreement:
        currency = normalize_currency(currency)
        if amount <= 0:
            raise ValidationError("The amount must be more than zero.", field_errors={"amount": "must be more than zero"})
        amount = quantize(amount, currency)
        try:
            rrule = spec.rrule()
        except ValueError as exc:
            raise ValidationError(str(exc), field_errors={"frequency": str(exc)}) from exc
        book = await self._book([currency])
        conversion = book.convert(amount, currency, self.account.base_currency, self.today)
        agreement = ObligationAgreement(
            id=new_id("obl"),
            user_id=self.account.id,
            client_id=client_id,
            expense_bucket_id=expense_bucket_id,
            obligation_type=obligation_type,
            direction=direction_for(obligation_type),
            description=description[:300],
            base_amount=amount,
            currency=currency,
            base_currency_amount=conversion.amount,
            exchange_rate_used=conversion.rate,
            exchange_rate_date=conversion.rate_date,
            amount_type=amount_type,
            frequency=spec.frequency,
            rrule=rrule,
            business_day_convention=spec.convention,
            holiday_calendar=spec.calendar,
            day_of_month=spec.day,
            start_date=spec.start_date,
            end_date=spec.end_date,
            occurrence_count=spec.count,
            status=AgreementStatus.ACTIVE,
            source=source,
            import_key=import_key,
            created_at=self.now,  # the caller's clock: headcount_change compares it with the account's first day
        )
        self.db.add(agreement)
        await self.db.flush()
        await self.audit.log_create(
            "obligation_agreement",
            agreement.id,
            {"type": obligation_type, "amount": amount, "currency": currency, "rrule": rrule, "start_date": spec.start_date},
        )
        await self.generate_many([agreement], arrears=True)  # a start in the past: what fell due since is owed
        return agreement

    async def update_agreement(
        self,
        agreement: ObligationAgreement,
        *,
        amount: Decimal | None = None,
        currency: str | None = None,
        spec: RecurrenceSpec | None = None,
        amount_type: AmountType | None = None,
    ) -> ObligationAgreement:
        changes: dict[str, tuple[Any, Any]] = {}
        new_currency = normalize_currency(currency) if currency else agreement.currency
        if amount is not None or new_currency != agreement.currency:
            new_amount = quantize(amount if amount is not None else agreement.base_amount, new_currency)
            if new_amount <= 0:
                raise ValidationError("The amount must be more than zero.", field_errors={"amount": "must be more than zero"})
            if new_amount != agreement.base_amount or new_currency != agreement.currency:
                book = await self._book([new_currency])
                conversion = book.convert(new_amount, new_currency, self.account.base_currency, self.today)
                changes["amount"] = (agreement.base_amount, new_amount)
                if new_currency != agreement.currency:
                    changes["currency"] = (agreement.currency, new_currency)
                agreement.previous_amount = agreement.base_currency_amount
                agreement.amount_changed_at = self.now
                agreement.base_amount = new_amount
                agreement.currency = new_currency
                agreement.base_currency_amount = conversion.amount
                agreement.exchange_rate_used = conversion.rate
                agreement.exchange_rate_date = conversion.rate_date
        if spec is not None:
            rrule = spec.rrule()
            if (rrule, spec.start_date, spec.convention, spec.calendar) != (
                agreement.rrule,
                agreement.start_date,
                agreement.business_day_convention,
                agreement.holiday_calendar,
            ):
                changes["rrule"] = (agreement.rrule, rrule)
                agreement.frequency = spec.frequency
                agreement.rrule = rrule
                agreement.business_day_convention = spec.convention
                agreement.holiday_calendar = spec.calendar
                agreement.day_of_month = spec.day
                agreement.start_date = spec.start_date
                agreement.end_date = spec.end_date
                agreement.occurrence_count = spec.count
        if amount_type is not None and amount_type != agreement.amount_type:
            changes["amount_type"] = (agreement.amount_type, amount_type)
            agreement.amount_type = amount_type
        if changes:
            await self.db.flush()
            await self.audit.log_update("obligation_agreement", agreement.id, changes)
            await self.generate_schedules(agreement)
        return agreement

    async def cancel_agreement(self, agreement: ObligationAgreement) -> int:
        """Cancel the agreement and its future unpaid schedules; returns how many were cancelled."""
        if agreement.status == AgreementStatus.CANCELLED:
            return 0
        agreement.status = AgreementStatus.CANCELLED
        agreement.cancelled_at = self.now
        rows = (
            await self.db.execute(
                select(ObligationSchedule).where(
                    ObligationSchedule.obligation_id == agreement.id,
                    ObligationSchedule.due_date >= self.today,
                    ObligationSchedule.status.in_([ScheduleStatus.SCHEDULED, ScheduleStatus.QUEUED]),
                )
            )
        ).scalars().all()
        for schedule in rows:
            schedule.status = ScheduleStatus.CANCELLED
        await self.db.flush()
        await self.audit.log_update(
            "obligation_agreement", agreement.id, {"status": (AgreementStatus.ACTIVE, AgreementStatus.CANCELLED)}
        )
        return len(rows)

    async def schedules_of(self, agreement: ObligationAgreement) -> list[ObligationSchedule]:
        rows = await self.db.execute(
            select(ObligationSchedule).where(ObligationSchedule.obligation_id == agreement.id).order_by(ObligationSchedule.due_date)
        )
        return list(rows.scalars().all())

    async def get_agreement(self, agreement_id: str) -> ObligationAgreement:
        agreement = await self.db.get(ObligationAgreement, agreement_id)
        if agreement is None or agreement.user_id != self.account.id:
            raise NotFound(f"There is no obligation `{agreement_id}` in this account.")
        return agreement

    # -- schedules ---------------------------------------------------------------------------

    def _window_start(self, agreement: Scheduled, *, arrears: bool = False) -> date:
        # A one-off keeps its date even when past (an invoice already overdue); so does a new
        # agreement (``arrears``): what fell due between its start and today is owed, overdue.
        # Later refreshes start at today: the past is then what was paid, not what is expected.
        # (No rule date precedes the start, so today is the window even for a future start; a
        # business-day adjustment may move the first due date before the start itself.)
        if arrears or agreement.frequency.value == "once":
            return min(agreement.start_date, self.today)
        return self.today

    async def generate_schedules(self, agreement: ObligationAgreement, *, until: date | None = None) -> int:
        """Bring one agreement's future unpaid schedules in line with it; returns rows changed."""
        changed = await self.generate_many([agreement], until=until)
        return changed

    async def generate_many(
        self, agreements: Sequence[Scheduled], *, until: date | None = None, new: bool = False,
        inserted: list[dict[str, Any]] | None = None, arrears: bool = False,
    ) -> int:
        """Generate or refresh schedules for many agreements in a fixed number of queries (any objects
        with an agreement's fields will do: a bulk import passes plain records of rows it inserted).

        ``new``: the agreements were made in this transaction, so they have no schedules to look up
        (on PostgreSQL that lookup, over a table the same transaction keeps growing, is what made a
        100,000-row import crawl). ``inserted``, when given, receives the schedule rows inserted.
        ``arrears``: new agreements, whose occurrences from a start in the past are owed (overdue)."""
        end = until or self.generation_end
        if not agreements:
            return 0
        ids = [] if new else [a.id for a in agreements]
        existing: dict[str, dict[date, ObligationSchedule]] = {a.id: {} for a in agreements}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            rows = (
                await self.db.execute(select(ObligationSchedule).where(ObligationSchedule.obligation_id.in_(chunk)))
            ).scalars().all()
            for schedule in rows:
                existing[schedule.obligation_id][schedule.rule_date] = schedule
        new_rows: list[dict[str, Any]] = []
        stale: list[str] = []
        changed = 0
        for agreement in agreements:
            have = existing[agreement.id]
            if agreement.status != AgreementStatus.ACTIVE:
                continue
            spec_recurrence = RecurrenceSpec.from_config(
                {
                    "frequency": "custom",
                    "start_date": agreement.start_date.isoformat(),
                    "rrule": agreement.rrule,
                    "convention": agreement.business_day_convention.value,
                    "calendar": agreement.holiday_calendar,
                }
            ).recurrence()
            window_start = self._window_start(agreement, arrears=arrears)
            # Refresh schedules generated earlier beyond today's horizon too.
            agreement_end = max([end, *(s.due_date for s in have.values() if s.status == ScheduleStatus.SCHEDULED)])
            wanted = {o.rule_date: o.due_date for o in spec_recurrence.occurrences(window_start, agreement_end)}
            for rule_date, schedule in have.items():
                replaceable = (
                    schedule.status == ScheduleStatus.SCHEDULED
                    and schedule.paid_amount == 0
                    and schedule.due_date >= self.today
                    and schedule.source == "generated"
                )
                if not replaceable:
                    continue
                if rule_date not in wanted:
                    if schedule.delayed_from is None:  # a delayed payment keeps its agreed date once its rule date has passed
                        stale.append(schedule.id)
                    continue
                due = wanted[rule_date] if schedule.delayed_from is None else schedule.due_date
                base = agreement.base_currency_amount or Decimal(0)
                if (schedule.amount_type, schedule.origin) != (agreement.amount_type, agreement.source):
                    schedule.amount_type = agreement.amount_type
                    schedule.origin = agreement.source
                    changed += 1
                if (schedule.due_date, schedule.estimated_amount, schedule.currency, schedule.base_currency_amount) != (
                    due,
                    agreement.base_amount,
                    agreement.currency,
                    base,
                ):
                    schedule.due_date = due
                    schedule.estimated_amount = agreement.base_amount
                    schedule.currency = agreement.currency
                    schedule.base_currency_amount = base
                    schedule.exchange_rate_used = agreement.exchange_rate_used
                    schedule.exchange_rate_date = agreement.exchange_rate_date
                    changed += 1
            for rule_date, due_date in wanted.items():
                if rule_date in have or due_date > end:
                    continue
                new_rows.append(
                    {
                        "id": new_id("sch"),
                        "obligation_id": agreement.id,
                        "user_id": agreement.user_id,
                        "direction": agreement.direction,
                        "client_id": agreement.client_id,
                        "amount_type": agreement.amount_type,
                        "origin": agreement.source,
                        "rule_date": rule_date,
                        "due_date": due_date,
                        "estimated_amount": agreement.base_amount,
                        "paid_amount": Decimal(0),
                        "paid_base_amount": Decimal(0),
                        "status": ScheduleStatus.OVERDUE if due_date < self.today else ScheduleStatus.SCHEDULED,
                        "source": "generated",
                        "currency": agreement.currency,
                        "base_currency_amount": agreement.base_currency_amount,
                        "exchange_rate_used": agreement.exchange_rate_used,
                        "exchange_rate_date": agreement.exchange_rate_date,
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                )
        if stale:
            for chunk_start in range(0, len(stale), 500):
                await self.db.execute(
                    delete(ObligationSchedule).where(ObligationSchedule.id.in_(stale[chunk_start : chunk_start + 500]))
                )
        if inserted is not None:
            inserted.extend(new_rows)
        await copy_rows(self.db, ObligationSchedule, new_rows)  # Core rows (COPY on PostgreSQL): not the ORM's bulk insert
        await self.db.flush()
        return changed + len(new_rows) + len(stale)

    async def extend_horizon(self) -> int:
        """The daily job: every active agreement's schedules reach the rolling horizon."""
        return await self.extend_horizon_to(self.horizon)

    async def extend_horizon_to(self, until: date) -> int:
        """Generate every active agreement's schedules up to ``until`` (and at least the rolling
        horizon), and remember on a backfilled account that they reach that far (an account never
        backfilled may have billing lines without agreements: ``tamio.obligations.backfill`` first)."""
        agreements = (
            await self.db.execute(
                select(ObligationAgreement).where(
                    ObligationAgreement.user_id == self.account.id, ObligationAgreement.status == AgreementStatus.ACTIVE
                )
            )
        ).scalars().all()
        end = max(until, self.generation_end)
        changed = await self.generate_many(list(agreements), until=end)
        if self.account.schedules_through is not None:
            self.account.schedules_through = end
            await self.db.flush()
        return changed

    async def mark_overdue(self) -> int:
        """Schedules whose due date has passed unpaid become overdue."""
        rows = (
            await self.db.execute(
                select(ObligationSchedule).where(
                    ObligationSchedule.user_id == self.account.id,
                    ObligationSchedule.due_date < self.today,
                    ObligationSchedule.status.in_([ScheduleStatus.SCHEDULED, ScheduleStatus.PARTIALLY_PAID]),
                )
            )
        ).scalars().all()
        for schedule in rows:
            schedule.status = ScheduleStatus.OVERDUE
        await self.db.flush()
        return len(rows)
