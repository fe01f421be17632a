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
from tests.api.conftest import Api, Business, Reply, assert_problem, serve

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


@pytest.fixture
async def exploding_api(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> AsyncIterator[str]:
    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("password=hunter2 in a connection string")

    api = create_api(settings, session_factory)
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
            schema = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            assert schema.startswith(route.body.__name__)


async def test_amounts_are_strings_in_the_document(api: Api) -> None:
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    billing = schemas["BillingIn"]["properties"]["amount"]
    assert billing["type"] == "string" and "pattern" in billing
    week = schemas["ForecastWeekOut"]["properties"]["closing_balance"]
    assert week["type"] == "string"
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            assert prop.get("type") != "number", f"{name}.{field} is a float"
