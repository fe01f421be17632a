"""``POST /api/v1/forecast/scenarios`` (a what-if, nothing saved) and ``/api/v1/data/scenarios`` (saved ones).

A saved scenario is evaluated on today's data whenever it is read; its changes are resolved then,
so a name that no longer exists is a 404 naming it. Saving evaluates first, so a scenario that
names an unknown client is refused, never stored.
"""

from __future__ import annotations

from tamio.accounts.permissions import Operation
from tamio.api.registry import Call, Router
from tamio.api.schemas.scenarios import ScenarioForecastOut, ScenarioIn, ScenarioList, ScenarioOut, WhatIfIn
from tamio.errors import Conflict, NotFound
from tamio.scenarios.changes import Scenario
from tamio.scenarios.inline import parse_changes
from tamio.scenarios.models import SavedScenario
from tamio.scenarios.service import (
    delete_scenario,
    get_scenario,
    get_scenario_by_id,
    list_scenarios,
    save_scenario,
    scenario_of,
    what_if,
)

router = Router("What-if scenarios")


async def _evaluated(call: Call, scenario: Scenario, *, weeks: int = 13) -> ScenarioForecastOut:
    result = await what_if(call.db, account=call.account, scenario=scenario, settings=call.settings, today=call.today, now=call.now,
                           weeks=weeks)
    return ScenarioForecastOut.model_validate(result.to_json())


def _read(call: Call, texts: list[str]) -> Scenario:
    return Scenario(changes=parse_changes(texts, today=call.today, base_currency=call.account.base_currency))


def _out(saved: SavedScenario, base_currency: str, forecast: ScenarioForecastOut | None = None) -> ScenarioOut:
    return ScenarioOut(
        id=saved.id, name=saved.name, changes=saved.changes, described=[c.describe(base_currency) for c in scenario_of(saved.changes).changes],
        created_by=saved.created_by, created_at=saved.created_at, updated_at=saved.updated_at, forecast=forecast,
    )


@router.route("POST", "/forecast/scenarios", body=WhatIfIn, response=ScenarioForecastOut, summary="Try a what-if on the forecast")
async def evaluate_scenario(call: Call) -> ScenarioForecastOut:
    """The forecast with the changes applied, beside the real one; nothing is saved or changed."""
    body = call.body(WhatIfIn)
    return await _evaluated(call, _read(call, body.what_if), weeks=body.weeks)


@router.route("GET", "/data/scenarios", response=ScenarioList, summary="List saved scenarios")
async def list_saved_scenarios(call: Call) -> ScenarioList:
    saved = await list_scenarios(call.db, account_id=call.account.id)
    return ScenarioList(scenarios=[_out(s, call.account.base_currency) for s in saved])


@router.route(
    "POST", "/data/scenarios", body=ScenarioIn, response=ScenarioOut, status=201, permission=Operation.MANAGE_DATA, errors=(409,),
    summary="Save a scenario",
)
async def create_scenario(call: Call) -> ScenarioOut:
    """A named scenario; 409 when the name is taken."""
    body = call.body(ScenarioIn)
    scenario = _read(call, body.what_if)
    forecast = await _evaluated(call, scenario)
    saved = await save_scenario(call.db, account=call.account, name=body.name, scenario=scenario, actor=call.actor, now=call.now,
                                replace=False)
    return _out(saved, call.account.base_currency, forecast)


@router.route("GET", "/data/scenarios/{scenario_id}", response=ScenarioOut, summary="Get a scenario, evaluated on today's data")
async def get_saved_scenario(call: Call) -> ScenarioOut:
    saved = await get_scenario_by_id(call.db, account_id=call.account.id, scenario_id=call.path["scenario_id"])
    return _out(saved, call.account.base_currency, await _evaluated(call, scenario_of(saved.changes)))


@router.route(
    "PUT", "/data/scenarios/{scenario_id}", body=ScenarioIn, response=ScenarioOut, permission=Operation.MANAGE_DATA, errors=(409,),
    summary="Replace a scenario's name and changes",
)
async def replace_scenario(call: Call) -> ScenarioOut:
    saved = await get_scenario_by_id(call.db, account_id=call.account.id, scenario_id=call.path["scenario_id"])
    body = call.body(ScenarioIn)
    try:
        same_name = await get_scenario(call.db, account_id=call.account.id, name=body.name)
    except NotFound:
        same_name = None
    if same_name is not None and same_name.id != saved.id:
        raise Conflict(f"Another scenario is called `{same_name.name}`.", hint="Choose another name.")
    scenario = _read(call, body.what_if)
    forecast = await _evaluated(call, scenario)
    if saved.name != body.name:
        saved.name = body.name
    saved = await save_scenario(call.db, account=call.account, name=body.name, scenario=scenario, actor=call.actor, now=call.now)
    return _out(saved, call.account.base_currency, forecast)


@router.route("DELETE", "/data/scenarios/{scenario_id}", permission=Operation.MANAGE_DATA, status=204, summary="Delete a scenario")
async def delete_saved_scenario(call: Call) -> None:
    saved = await get_scenario_by_id(call.db, account_id=call.account.id, scenario_id=call.path["scenario_id"])
    await delete_scenario(call.db, account=call.account, scenario=saved, actor=call.actor)
