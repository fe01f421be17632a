"""What-if scenarios: evaluate changes over today's data, and keep named ones (audited).

Evaluation loads the forecast's inputs as the real forecast does (``load_forecast_inputs``), builds
the base forecast once, resolves each change into a delta of those inputs (``resolve``) and runs the
scenario engine. Nothing is written: the session is only read, and a scenario is never applied.

    result = await what_if(db, account=account, scenario=Scenario(changes=[Late(name="Acme Corp", days=30)]),
                           settings=settings, today=date(2026, 12, 7), now=now)
    await save_scenario(db, account=account, name="Acme late", scenario=scenario, actor="U123", now=now)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import ValidationError as PydanticError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.service import AuditService
from tamio.config import Settings
from tamio.errors import Conflict, NotFound, TamioError, ValidationError
from tamio.forecast.service import load_forecast_inputs
from tamio.limits import check_name
from tamio.scenarios.changes import MAX_CHANGES, Scenario
from tamio.scenarios.engine import ScenarioBase, ScenarioResult, evaluate
from tamio.scenarios.models import SavedScenario
from tamio.scenarios.resolve import Resolver

MAX_SAVED = 100


async def load_base(
    db: AsyncSession, *, account: Account, settings: Settings, today: date, now: datetime, as_of: date | None = None, weeks: int = 13,
) -> ScenarioBase:
    """The base forecast of the account, as ``calculate_forecast`` computes it, ready for deltas."""
    start = as_of or today
    inputs = await load_forecast_inputs(db, account.id, as_of=start, weeks=weeks, settings=settings)
    return ScenarioBase.of(inputs, as_of=start, weeks=weeks)


async def what_if(
    db: AsyncSession, *, account: Account, scenario: Scenario, settings: Settings, today: date, now: datetime,
    as_of: date | None = None, weeks: int = 13,
) -> ScenarioResult:
    """The forecast with the scenario's changes, beside the real one; nothing is written."""
    base = await load_base(db, account=account, settings=settings, today=today, now=now, as_of=as_of, weeks=weeks)
    resolver = Resolver(db, account=account, base=base, today=today)
    delta = await resolver.delta(scenario.changes)
    return evaluate(base, delta, changes=resolver.described())


def scenario_of(stored: list[dict[str, Any]]) -> Scenario:
    try:
        return Scenario.model_validate({"changes": stored})
    except PydanticError as exc:  # a stored scenario that no longer reads: say which change
        first = exc.errors()[0]
        raise ValidationError(f"A saved change no longer reads: {first['msg']}.") from exc


async def list_scenarios(db: AsyncSession, *, account_id: str) -> list[SavedScenario]:
    rows = await db.execute(select(SavedScenario).where(SavedScenario.user_id == account_id).order_by(SavedScenario.name))
    return list(rows.scalars().all())


async def get_scenario(db: AsyncSession, *, account_id: str, name: str) -> SavedScenario:
    wanted = check_name(name, what="The scenario's name")
    found = (await db.execute(
        select(SavedScenario).where(SavedScenario.user_id == account_id, func.lower(SavedScenario.name) == wanted.lower())
    )).scalar_one_or_none()
    if found is None:
        raise NotFound(f"There is no scenario called `{wanted}`.", hint="`tamio scenario list` shows the saved ones.")
    return found


async def get_scenario_by_id(db: AsyncSession, *, account_id: str, scenario_id: str) -> SavedScenario:
    found = await db.get(SavedScenario, scenario_id)
    if found is None or found.user_id != account_id:
        raise NotFound(f"There is no scenario `{scenario_id}` in this account.")
    return found


async def save_scenario(
    db: AsyncSession, *, account: Account, name: str, scenario: Scenario, actor: str, now: datetime, replace: bool = True,
) -> SavedScenario:
    """Save (or, with ``replace``, overwrite) the scenario called ``name``; audited."""
    name = check_name(name, what="The scenario's name")
    if not scenario.changes:
        raise ValidationError("A scenario needs at least one change.", hint='Add one with --what-if \'late "Acme Corp" 30\'.')
    if len(scenario.changes) > MAX_CHANGES:
        raise ValidationError(f"A scenario holds at most {MAX_CHANGES} changes.")
    changes = scenario.model_dump(mode="json")["changes"]
    audit = AuditService(db, account.id, actor=actor, clock=lambda: now)
    try:
        existing: SavedScenario | None = await get_scenario(db, account_id=account.id, name=name)
    except NotFound:
        existing = None
    if existing is not None:
        if not replace:
            raise Conflict(f"A scenario called `{existing.name}` already exists.", hint="Choose another name or delete it first.")
        old = existing.changes
        existing.changes, existing.updated_at = changes, now
        await db.flush()
        await audit.log_update("scenario", existing.id, {"changes": (old, changes)})
        return existing
    count = (await db.execute(select(func.count()).select_from(SavedScenario).where(SavedScenario.user_id == account.id))).scalar_one()
    if count >= MAX_SAVED:
        raise ValidationError(f"This account already keeps {MAX_SAVED} scenarios; delete one first.")
    saved = SavedScenario(user_id=account.id, name=name, changes=changes, created_by=actor[:64], created_at=now, updated_at=now)
    db.add(saved)
    await db.flush()
    await audit.log_create("scenario", saved.id, {"name": name, "changes": changes})
    return saved


async def delete_scenario(db: AsyncSession, *, account: Account, scenario: SavedScenario, actor: str, now: datetime) -> None:
    await AuditService(db, account.id, actor=actor, clock=lambda: now).log_delete("scenario", scenario.id, {"name": scenario.name, "changes": scenario.changes})
    await db.delete(scenario)
    await db.flush()


async def saved_effects(
    db: AsyncSession, *, account: Account, settings: Settings, today: date, now: datetime, limit: int = 5,
) -> list[tuple[SavedScenario, ScenarioResult | TamioError]]:
    """The first saved scenarios, each evaluated on today's data against one base forecast (or the
    error that stops it now, such as a client that no longer exists)."""
    saved = (await list_scenarios(db, account_id=account.id))[:limit]
    if not saved:
        return []
    base = await load_base(db, account=account, settings=settings, today=today, now=now)
    found: list[tuple[SavedScenario, ScenarioResult | TamioError]] = []
    for scenario in saved:
        try:
            changes = scenario_of(scenario.changes).changes
            resolver = Resolver(db, account=account, base=base, today=today)
            delta = await resolver.delta(changes)
            found.append((scenario, evaluate(base, delta, changes=resolver.described())))
        except TamioError as exc:
            found.append((scenario, exc))
    return found
