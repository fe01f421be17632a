"""Problem JSON for every failure (never a stack trace), and an OpenAPI document that matches the routes."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.api import all_routes, create_api
from tamio.api.openapi import PREFIX
from tamio.config import Settings
from tests.api.conftest import START, Api, Business, Reply, assert_problem, serve
from tests.fake_clock import FakeClock

pytestmark = pytest.mark.backends("sqlite")


async def test_unknown_paths_and_methods_are_problem_json(api: Api, business: Business) -> None:
    missing = await api.get("/no/such/thing", token=business.viewer)
    assert "openapi.json" in str(assert_problem(missing, 404)["detail"])
    wrong_method = await api.call("DELETE", "/data/clients", token=business.viewer)
    assert_problem(wrong_method, 405)
    assert "GET" in wrong_method.headers["Allow"]
    weird_id = await api.get("/data/clients/..%2F..%2Fetc", token=business.viewer)
    assert_problem(weird_id, 404)


async def test_validation_problems_list_every_wrong_field(api: Api, business: Business) -> None:
    reply = await api.post("/data/cash-accounts", token=business.approver, json={"name": "", "balance": 12.5, "colour": "red"})
    problem = assert_problem(reply, 422)
    assert problem["type"] == "urn:tamio:problem:invalid-input" and problem["title"] == "Invalid input"
    errors = {e["field"]: e["message"] for e in problem["errors"]}  # type: ignore[union-attr]
    assert set(errors) == {"name", "balance", "colour"}
    assert "string" in errors["balance"]


async def test_a_pattern_mismatch_says_what_is_expected_not_the_regex(api: Api, business: Business) -> None:
    body = {"name": "two\nlines", "contact_email": "not-an-email", "billing": {"amount": "10", "currency": "US", "recurrence": {"frequency": "once", "start_date": "2026-12-07"}}}
    problem = assert_problem(await api.post("/data/clients", token=business.approver, json=body), 422)
    errors = {e["field"]: e["message"] for e in problem["errors"]}  # type: ignore[union-attr]
    assert errors == {
        "name": "must be one line, without control characters",
        "contact_email": "must be an email address such as ap@client.com",
        "billing.currency": "must be a three-letter currency code such as USD",
    }
    approve = await api.post(f"/pipeline/actions/{business.action_id}/approve", token=business.approver, json={"option_id": "opt one"})
    assert [e["message"] for e in assert_problem(approve, 422)["errors"]] == [  # type: ignore[union-attr]
        "must be an id such as cli_0f9e8d7c6b5a4938 (letters, digits, _ and -, at most 40)"
    ]


async def test_a_whole_number_written_as_43_point_0_is_an_integer_as_json_schema_says(api: Api, business: Business) -> None:
    path = f"/data/user-config/{business.account_id}"
    reply = await api.call("PUT", path, token=business.admin, json={"runway_buffer_months": 4.0, "late_payment_threshold_days": 1e1})
    assert reply.status == 200, reply.text
    assert (reply.json()["runway_buffer_months"], reply.json()["late_payment_threshold_days"]) == (4, 10)
    fraction = await api.call("PUT", path, token=business.admin, json={"runway_buffer_months": 4.5})
    assert [e["field"] for e in assert_problem(fraction, 422)["errors"]] == ["runway_buffer_months"]  # type: ignore[union-attr]
    amount = await api.post("/data/cash-accounts", token=business.approver, json={"name": "Petty", "balance": 12.0})
    assert [e["field"] for e in assert_problem(amount, 422)["errors"]] == ["balance"]  # type: ignore[union-attr]  # amounts stay strings


@pytest.fixture
async def exploding_api(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> AsyncIterator[str]:
    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("password=hunter2 in a connection string")

    api = create_api(settings, session_factory, clock=FakeClock(START))
    api.router.add_get("/explode", explode)
    app = web.Application()
    app.add_subapp(PREFIX, api)
    runner, base = await serve(app)
    try:
        yield base
    finally:
        await runner.cleanup()


async def test_an_unexpected_error_is_a_500_with_a_correlation_id_and_no_details(
    exploding_api: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="tamio.api")
    async with aiohttp.ClientSession() as http, http.get(exploding_api + "/api/v1/explode") as response:
        reply = Reply(response.status, response.headers, response.content_type, await response.text())
    problem = assert_problem(reply, 500)
    assert "hunter2" not in reply.text and "RuntimeError" not in reply.text
    correlation = str(problem["correlation_id"])
    assert re.fullmatch(r"[0-9a-f]{12}", correlation) and correlation in str(problem["detail"])
    logged = [r for r in caplog.records if correlation in r.getMessage()]
    assert logged and logged[0].exc_info is not None


async def test_the_openapi_document_describes_every_route(api: Api) -> None:
    reply = await api.get("/openapi.json")  # public: it holds no data
    assert reply.status == 200
    document = reply.json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API token, tamio_..."}
    }
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served = {(r.method, PREFIX + r.path) for r in all_routes()}
    assert documented == served and len(served) == len(all_routes())

    text = reply.text
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in document["components"]["schemas"], ref
    for route in all_routes():
        operation = document["paths"][PREFIX + route.path][route.method.lower()]
        assert operation["operationId"] == route.operation_id
        assert str(route.status) in operation["responses"]
        if route.body is not None:
            content = operation["requestBody"]["content"]
            schema = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            assert schema.startswith(route.body.__name__)
            uploads = ["multipart/form-data", *route.upload.media_types] if route.upload else []
            assert sorted(content) == sorted(["application/json", *uploads])
    ecb = document["paths"][PREFIX + "/data/exchange-rates/import-ecb"]["post"]["requestBody"]["content"]
    assert ecb["multipart/form-data"]["schema"]["required"] == ["file"] and "application/xml" in ecb


async def test_amounts_are_strings_in_the_document(api: Api) -> None:
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    billing = schemas["BillingIn"]["properties"]["amount"]
    assert billing["type"] == "string" and "pattern" in billing
    week = schemas["ForecastWeekOut"]["properties"]["closing_balance"]
    assert week["type"] == "string"
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            assert prop.get("type") != "number", f"{name}.{field} is a float"


async def test_fields_a_change_may_not_clear_are_not_nullable_in_the_document(api: Api, business: Business) -> None:
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    for model, fields in (("ClientUpdate", ("name", "status", "tags", "avg_payment_delay_days")), ("ExpenseUpdate", ("name", "status", "category", "tags"))):
        for field in fields:
            assert {"type": "null"} not in schemas[model]["properties"][field].get("anyOf", []), (model, field)
            assert "default" not in schemas[model]["properties"][field], (model, field)
    assert {"type": "null"} in schemas["ClientUpdate"]["properties"]["notes"]["anyOf"]  # this one may be cleared
    refused = await api.call("PATCH", f"/data/clients/{business.client_id}", token=business.approver, json={"status": None})
    assert assert_problem(refused, 422)["errors"] == [{"field": "status", "message": "must not be null"}]
