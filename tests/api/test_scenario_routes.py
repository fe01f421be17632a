"""What-if scenarios over HTTP: POST /forecast/scenarios evaluates without saving (what the CLI
prints), CRUD under /data/scenarios, problem JSON for bad input, roles, and the OpenAPI document."""

from __future__ import annotations

from decimal import Decimal

from tamio.api import openapi_document
from tests.api.conftest import Api, Business, assert_problem, dump_database
from tests.api.test_data_routes import _cli_forecast

LATE = 'late "Acme Corp" 30'
HIRE = 'payroll "Engineer" 8000 monthly'


async def test_a_what_if_is_the_forecast_beside_the_baseline_and_writes_nothing(api: Api, business: Business) -> None:
    plain = (await api.get("/forecast", token=business.viewer)).json()  # extends the schedules' horizon on first use
    before = await dump_database(api.sessions, ignore=frozenset({("api_tokens", "last_used_at")}))
    reply = await api.post("/forecast/scenarios", token=business.viewer, json={"what_if": [LATE, HIRE]})
    assert reply.status == 200, reply.text
    shown = reply.json()
    assert shown["baseline_lowest_closing_balance"] == plain["lowest_closing_balance"]
    assert shown["baseline_runway_weeks"] == plain["runway_weeks"]
    for week, real in zip(shown["weeks"], plain["weeks"], strict=True):
        assert week["baseline_closing_balance"] == real["closing_balance"]
        assert Decimal(week["difference"]) == Decimal(week["closing_balance"]) - Decimal(real["closing_balance"])
    assert Decimal(shown["lowest_closing_balance"]) < Decimal(plain["lowest_closing_balance"])
    assert len(shown["changes"]) == 2
    assert await dump_database(api.sessions, ignore=frozenset({("api_tokens", "last_used_at")})) == before


async def test_the_api_and_the_cli_agree(api: Api, business: Business) -> None:
    reply = await api.post("/forecast/scenarios", token=business.viewer, json={"what_if": [LATE]})
    assert reply.json() == await _cli_forecast(api, business.account_id, "--what-if", LATE)


async def test_bad_input_is_problem_json(api: Api, business: Business) -> None:
    unknown = assert_problem(await api.post("/forecast/scenarios", token=business.viewer, json={"what_if": ['lose "Nobody Ltd"']}), 404)
    assert "There is no client called `Nobody Ltd`." in unknown["detail"]
    amount = assert_problem(await api.post("/forecast/scenarios", token=business.viewer, json={"what_if": ['expense "AWS" 12,00.5']}), 422)
    assert "I couldn't read the amount `12,00.5`." in amount["detail"]
    assert_problem(await api.post("/forecast/scenarios", token=business.viewer, json={"what_if": []}), 422)
    assert_problem(await api.post("/forecast/scenarios", token=business.viewer, json={"what_if": ["late"] * 21}), 422)


async def test_saved_scenarios_crud_and_roles(api: Api, business: Business) -> None:
    refused = await api.post("/data/scenarios", token=business.viewer, json={"name": "Hire", "what_if": [HIRE]})
    assert_problem(refused, 403)
    created = await api.post("/data/scenarios", token=business.approver, json={"name": "Hire", "what_if": [HIRE]})
    assert created.status == 201, created.text
    saved = created.json()
    assert saved["name"] == "Hire" and saved["changes"][0]["kind"] == "add" and saved["forecast"]["changes"]
    assert_problem(await api.post("/data/scenarios", token=business.approver, json={"name": "hire", "what_if": [LATE]}), 409)
    listed = (await api.get("/data/scenarios", token=business.viewer)).json()["scenarios"]
    assert sorted(s["name"] for s in listed) == ["Acme late", "Hire"]
    one = (await api.get(f"/data/scenarios/{saved['id']}", token=business.viewer)).json()
    evaluated = (await api.post("/forecast/scenarios", token=business.viewer, json={"what_if": [HIRE]})).json()
    assert one["forecast"] == evaluated
    replaced = await api.call("PUT", f"/data/scenarios/{saved['id']}", token=business.approver, json={"name": "Hire late", "what_if": [HIRE, LATE]})
    assert replaced.status == 200, replaced.text
    assert replaced.json()["name"] == "Hire late" and len(replaced.json()["changes"]) == 2
    assert (await api.call("DELETE", f"/data/scenarios/{saved['id']}", token=business.approver)).status == 204
    assert_problem(await api.get(f"/data/scenarios/{saved['id']}", token=business.viewer), 404)
    ghost = await api.post("/data/scenarios", token=business.approver, json={"name": "Ghost", "what_if": ['lose "Ghost Ltd"']})
    assert "Ghost Ltd" in assert_problem(ghost, 404)["detail"]
    assert sorted(s["name"] for s in (await api.get("/data/scenarios", token=business.viewer)).json()["scenarios"]) == ["Acme late"]


def test_the_routes_are_in_the_openapi_document() -> None:
    paths = openapi_document()["paths"]
    assert set(paths["/api/v1/forecast/scenarios"]) == {"post"}
    assert set(paths["/api/v1/data/scenarios"]) == {"get", "post"}
    assert set(paths["/api/v1/data/scenarios/{scenario_id}"]) == {"get", "put", "delete"}
    week = openapi_document()["components"]["schemas"]["ScenarioWeekOut"]["properties"]
    assert {"baseline_closing_balance", "difference", "closing_balance"} <= set(week)
