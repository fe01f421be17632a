"""What-if scenarios read like the business's books: each change kind moves the forecast exactly as
doing it for real would (applied in a savepoint, then rolled back), and evaluating one writes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import tamio.models  # noqa: F401
from tamio.audit.models import AuditHead, AuditLog
from tamio.data.models import CashAccount, Client, CounterpartyStatus, ExpenseBucket
from tamio.data.service import find_cash_account, set_balance
from tamio.errors import NotFound, ValidationError
from tamio.forecast.engine import Forecast
from tamio.forecast.service import calculate_forecast, extend_schedules
from tamio.obligations.counterparties import BillingLine, find_client, find_counterparty
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    AgreementStatus,
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
    ScheduleStatus,
)
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec
from tamio.obligations.service import ObligationService
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
    Scenario,
)
from tamio.scenarios.resolve import repayment
from tamio.scenarios.service import delete_scenario, get_scenario, list_scenarios, save_scenario, what_if
from tests.service.books import SCHEDULE_PATH, Books, at

MONDAY = date(2026, 12, 7)


async def generated_through_horizon(session: AsyncSession, books: Books) -> None:
    """Schedules generated through the forecast's weeks, as the 6 AM job leaves them: forecasts read them."""
    await extend_schedules(session, account_id=books.account.id, through=MONDAY + timedelta(weeks=13), settings=SCHEDULE_PATH,
                           today=MONDAY, now=at(MONDAY))


async def business(session: AsyncSession) -> Books:
    books = await Books.open(session, today=MONDAY)
    await generated_through_horizon(session, books)
    await books.cash("Operating", "48250")
    await books.cash("Credit line", "0", account_type="credit_line", credit_limit=Decimal("20000"))
    credit = await find_cash_account(session, account_id=books.account.id, name="Credit line")
    assert credit is not None
    credit.interest_rate_pct = Decimal("7.5")
    await books.client("Acme Corp", "12000", books.every("monthly", date(2026, 12, 9), day=9), avg_payment_delay_days=5)
    await books.client("Beta LLC", "4000.50", books.every("once", date(2026, 11, 20)))  # overdue
    await books.expense("Cloud Host", "2500", books.every("monthly", date(2026, 12, 20), day=20))
    await books.expense("Payroll", "21000", books.every("semimonthly", date(2026, 12, 15)), category="payroll")
    await session.flush()
    return books


async def real_forecast(session: AsyncSession, books: Books) -> Forecast:
    return await calculate_forecast(session, books.account.id, as_of=MONDAY, settings=SCHEDULE_PATH)


async def evaluated(session: AsyncSession, books: Books, *changes: Change) -> tuple[Forecast, Forecast]:
    result = await what_if(session, account=books.account, scenario=Scenario(changes=list(changes)), settings=SCHEDULE_PATH,
                           today=MONDAY, now=at(MONDAY))
    return result.forecast, result.baseline


def closings(forecast: Forecast) -> list[Decimal]:
    return [w.closing_balance for w in forecast.weeks]


async def stored_state(session: AsyncSession) -> tuple[int, ...]:
    counts = []
    for model in (ObligationAgreement, ObligationSchedule, Client, ExpenseBucket, CashAccount, AuditLog):
        counts.append((await session.execute(select(func.count()).select_from(model))).scalar_one())
    heads = (await session.execute(select(func.coalesce(func.sum(AuditHead.seq), 0)))).scalar_one()
    return (*counts, heads)


# -- doing it for real ---------------------------------------------------------------------------


def obligations(books: Books) -> ObligationService:
    return ObligationService(books.session, account=books.account, settings=SCHEDULE_PATH, today=MONDAY, now=at(MONDAY))


async def agreements_of(session: AsyncSession, entity: Client | ExpenseBucket) -> list[ObligationAgreement]:
    column = ObligationAgreement.client_id if isinstance(entity, Client) else ObligationAgreement.expense_bucket_id
    return list((await session.execute(select(ObligationAgreement).where(column == entity.id))).scalars().all())


async def for_real(session: AsyncSession, books: Books, change: Change) -> None:
    account_id = books.account.id
    if isinstance(change, Late):
        client = await find_client(session, account_id=account_id, name=change.name)
        assert client is not None
        client.avg_payment_delay_days += change.days
    elif isinstance(change, Lose):
        client = await find_client(session, account_id=account_id, name=change.name)
        assert client is not None
        rows = await session.execute(select(ObligationSchedule).where(
            ObligationSchedule.client_id == client.id, ObligationSchedule.status.in_(OPEN_SCHEDULE_STATUSES)))
        for schedule in rows.scalars():
            schedule.status = ScheduleStatus.CANCELLED
    elif isinstance(change, Remove):
        entity = await find_counterparty(session, account_id=account_id, name=change.name)
        for agreement in await agreements_of(session, entity):
            await obligations(books).cancel_agreement(agreement)
    elif isinstance(change, Pause):
        entity = await find_counterparty(session, account_id=account_id, name=change.name)
        entity.status = CounterpartyStatus.PAUSED
    elif isinstance(change, ChangeAmount):
        entity = await find_counterparty(session, account_id=account_id, name=change.name)
        active = [a for a in await agreements_of(session, entity) if a.status == AgreementStatus.ACTIVE]
        await obligations(books).update_agreement(active[0], amount=change.amount)
    elif isinstance(change, Move):
        entity = await find_counterparty(session, account_id=account_id, name=change.name)
        ids = [a.id for a in await agreements_of(session, entity)]
        first = (await session.execute(select(ObligationSchedule).where(
            ObligationSchedule.obligation_id.in_(ids), ObligationSchedule.status.in_(OPEN_SCHEDULE_STATUSES),
        ).order_by(ObligationSchedule.due_date, ObligationSchedule.id).limit(1))).scalar_one()
        first.delayed_from, first.due_date = first.due_date, change.to
    elif isinstance(change, AddObligation):
        kinds = {"client": ObligationType.REVENUE, "expense": ObligationType.EXPENSE, "payroll": ObligationType.PAYROLL, "tax": ObligationType.TAX}
        line = BillingLine(change.amount, change.currency, change.spec(), kinds[change.obligation_kind])
        existing = await find_client(session, account_id=account_id, name=change.name)
        if existing is not None:
            await books.service.add_billing_line(existing, line)
        elif change.obligation_kind == "client":
            await books.service.create_client(name=change.name, billing=line, source="manual")
        else:
            category = {"expense": "operating", "payroll": "payroll", "tax": "tax"}[change.obligation_kind]
            await books.service.create_expense(name=change.name, billing=line, category=category, source="manual")
    elif isinstance(change, OneOff):
        await obligations(books).create_standalone(
            obligation_type=ObligationType.REVENUE if change.direction == "in" else ObligationType.EXPENSE,
            spec=RecurrenceSpec(Frequency.ONCE, start_date=change.on), amount=change.amount, currency="USD", description="one-off",
        )
    elif isinstance(change, Draw):
        line = await find_cash_account(session, account_id=account_id, name=change.credit_line)
        assert line is not None and change.on == MONDAY
        operating = await find_cash_account(session, account_id=account_id, name="Operating")
        assert operating is not None
        await set_balance(session, account=books.account, name="Operating", amount=operating.balance + change.amount, currency="USD",
                          on_date=MONDAY, now=at(MONDAY))
        repay, interest = repayment(change.amount, line.interest_rate_pct, on=change.on, currency="USD")
        await obligations(books).create_standalone(
            obligation_type=ObligationType.EXPENSE, spec=RecurrenceSpec(Frequency.ONCE, start_date=repay),
            amount=change.amount + interest, currency="USD", description="repayment",
        )
    elif isinstance(change, Balance):
        cash = await find_cash_account(session, account_id=account_id, name=change.cash_account)
        assert cash is not None
        await set_balance(session, account=books.account, name=cash.name, amount=change.amount, currency=cash.currency,
                          on_date=MONDAY, now=at(MONDAY))
    await session.flush()


async def agrees_with_doing_it(session: AsyncSession, books: Books, *changes: Change) -> Forecast:
    """The scenario's weeks equal the real forecast after doing the same for real (then undone)."""
    before = await stored_state(session)
    scenario, baseline = await evaluated(session, books, *changes)
    assert await stored_state(session) == before
    assert closings(baseline) == closings(await real_forecast(session, books))
    savepoint = await session.begin_nested()
    for change in changes:
        await for_real(session, books, change)
    real = await real_forecast(session, books)
    await savepoint.rollback()
    assert closings(scenario) == closings(real)
    assert (scenario.lowest_closing_balance, scenario.lowest_week_start, scenario.runway_weeks) == (
        real.lowest_closing_balance, real.lowest_week_start, real.runway_weeks)
    assert [(w.inflows, w.outflows) for w in scenario.weeks] == [(w.inflows, w.outflows) for w in real.weeks]
    return scenario


def spec(frequency: str, start: date, **kwargs: object) -> dict[str, object]:
    return RecurrenceSpec(Frequency(frequency), start_date=start, **kwargs).to_config()  # type: ignore[arg-type]


CHANGES: list[tuple[str, Change]] = [
    ("late", Late(name="Acme Corp", days=30)),
    ("lose", Lose(name="Beta LLC")),
    ("lose recurring", Lose(name="acme corp")),
    ("remove", Remove(name="Cloud Host")),
    ("pause", Pause(name="Acme Corp")),
    ("amount", ChangeAmount(name="Cloud Host", amount=Decimal("3100"))),
    ("move", Move(name="Cloud Host", to=date(2027, 1, 29))),
    ("add", AddObligation(name="New hire", obligation_kind="payroll", amount=Decimal("8000"), currency="USD",
                          recurrence=spec("monthly", date(2027, 1, 1), day=1))),
    ("add to existing client", AddObligation(name="Acme Corp", obligation_kind="client", amount=Decimal("700"), currency="USD",
                                             recurrence=spec("weekly", MONDAY))),
    ("add with arrears", AddObligation(name="Old lease", obligation_kind="expense", amount=Decimal("1500"), currency="USD",
                                       recurrence=spec("monthly", date(2026, 10, 5), day=5))),
    ("once in", OneOff(direction="in", amount=Decimal("5000"), on=date(2027, 1, 15))),
    ("once out", OneOff(direction="out", amount=Decimal("2500.25"), on=MONDAY)),
    ("draw", Draw(credit_line="Credit line", amount=Decimal("5000"), on=MONDAY)),
    ("balance", Balance(cash_account="Operating", amount=Decimal("30000"))),
]


@pytest.mark.parametrize(("label", "change"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_each_change_moves_the_forecast_as_doing_it_would(session: AsyncSession, label: str, change: Change) -> None:
    books = await business(session)
    scenario = await agrees_with_doing_it(session, books, change)
    baseline = await real_forecast(session, books)
    assert closings(scenario) != closings(baseline), label


async def test_several_changes_together(session: AsyncSession) -> None:
    books = await business(session)
    await agrees_with_doing_it(
        session, books, Late(name="Acme Corp", days=12), Remove(name="Cloud Host"), OneOff(direction="out", amount=Decimal("900"), on=date(2027, 2, 2)),
        Balance(cash_account="Operating", amount=Decimal("40000")),
        AddObligation(name="Rent", obligation_kind="expense", amount=Decimal("1800"), currency="USD", recurrence=spec("monthly", date(2026, 12, 28), day=28)),
    )


async def test_no_changes_is_the_real_forecast(session: AsyncSession) -> None:
    books = await business(session)
    result = await what_if(session, account=books.account, scenario=Scenario(), settings=SCHEDULE_PATH, today=MONDAY, now=at(MONDAY))
    assert result.forecast == result.baseline == await real_forecast(session, books)
    assert set(result.differences) == {Decimal(0)}


async def test_the_json_carries_the_baseline_beside_each_week(session: AsyncSession) -> None:
    books = await business(session)
    result = await what_if(session, account=books.account, scenario=Scenario(changes=[Lose(name="Acme Corp")]), settings=SCHEDULE_PATH,
                           today=MONDAY, now=at(MONDAY))
    shown = result.to_json()
    base = result.baseline
    assert shown["baseline_lowest_closing_balance"] == format(base.lowest_closing_balance, "f")
    assert shown["baseline_runway_weeks"] == (None if base.runway_weeks is None else format(base.runway_weeks, "f"))
    for week, real in zip(shown["weeks"], base.weeks, strict=True):
        assert Decimal(week["baseline_closing_balance"]) == real.closing_balance
        assert Decimal(week["difference"]) == Decimal(week["closing_balance"]) - real.closing_balance
    assert Decimal(shown["weeks"][-1]["difference"]) < 0


@pytest.mark.parametrize(("change", "named"), [
    (Late(name="Nobody Inc", days=3), "There is no client called `Nobody Inc`."),
    (Lose(name="Cloud Host"), "There is no client called `Cloud Host`."),
    (Remove(name="Ghost"), "There is no client or expense called `Ghost`."),
    (Draw(credit_line="Overdraft", amount=Decimal("100"), on=MONDAY), "There is no credit line called `Overdraft`."),
    (Balance(cash_account="Petty cash", amount=Decimal("1")), "There is no bank or savings account called `Petty cash`."),
])
async def test_an_unknown_name_is_named(session: AsyncSession, change: Change, named: str) -> None:
    books = await business(session)
    with pytest.raises(NotFound) as caught:
        await evaluated(session, books, change)
    assert caught.value.message == named


async def test_a_draw_beyond_the_credit_left_is_refused(session: AsyncSession) -> None:
    books = await business(session)
    with pytest.raises(ValidationError, match="left to draw"):
        await evaluated(session, books, Draw(credit_line="Credit line", amount=Decimal("20000.01"), on=MONDAY))


async def test_saved_scenarios_are_kept_per_account_and_audited(session: AsyncSession) -> None:
    books = await business(session)
    other = await Books.open(session, today=MONDAY, name="Other Ltd")
    scenario = Scenario(changes=[Late(name="Acme Corp", days=30)])
    saved = await save_scenario(session, account=books.account, name="Acme late", scenario=scenario, actor="U1", now=at(MONDAY))
    assert [s.name for s in await list_scenarios(session, account_id=books.account.id)] == ["Acme late"]
    assert await list_scenarios(session, account_id=other.account.id) == []
    with pytest.raises(NotFound, match="no scenario called `Acme late`"):
        await get_scenario(session, account_id=other.account.id, name="Acme late")
    again = await save_scenario(session, account=books.account, name="acme LATE", scenario=Scenario(changes=[Lose(name="Acme Corp")]),
                                actor="U1", now=at(MONDAY))
    assert again.id == saved.id and again.changes == [{"kind": "lose", "name": "Acme Corp"}]
    await delete_scenario(session, account=books.account, scenario=again, actor="U1", now=at(MONDAY))
    assert await list_scenarios(session, account_id=books.account.id) == []
    kinds = (await session.execute(select(AuditLog.action).where(AuditLog.entity_type == "scenario").order_by(AuditLog.seq))).scalars().all()
    assert list(kinds) == ["create", "update", "delete"]
    with pytest.raises(ValidationError, match="at least one change"):
        await save_scenario(session, account=books.account, name="Empty", scenario=Scenario(), actor="U1", now=at(MONDAY))


async def test_a_move_to_the_past_is_refused(session: AsyncSession) -> None:
    books = await business(session)
    with pytest.raises(ValidationError, match="in the past"):
        await evaluated(session, books, Move(name="Cloud Host", to=MONDAY - timedelta(days=1)))


Check = Callable[[AsyncSession], Awaitable[None]]


async def test_a_changed_amount_and_a_balance_are_written_in_their_own_currency(session: AsyncSession) -> None:
    books = await business(session)
    from tamio.currency.service import add_rate

    await add_rate(session, base_currency="EUR", quote_currency="USD", rate=Decimal("1.08"), rate_date=MONDAY, account_id=None)
    await books.cash("Paris", "1000", currency="EUR")
    await books.client("Lyon SA", "3000", books.every("monthly", date(2026, 12, 18), day=18), currency="EUR")
    result = await what_if(session, account=books.account, settings=SCHEDULE_PATH, today=MONDAY, now=at(MONDAY), scenario=Scenario(changes=[
        ChangeAmount(name="Acme Corp", amount=Decimal("13000")), ChangeAmount(name="Lyon SA", amount=Decimal("3500")),
        Balance(cash_account="Paris", amount=Decimal("2500.5")), Balance(cash_account="Operating", amount=Decimal("40000")),
    ]))
    assert list(result.changes) == ["Acme Corp at $13,000.00 each time", "Lyon SA at €3,500.00 each time", "Paris holds €2,500.50",
                              "Operating holds $40,000.00"]
