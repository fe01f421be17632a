"""Clients, expenses, obligations, schedules, payments, cash accounts, rates and the forecast, over HTTP."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.api import install
from tamio.audit.models import AuditLog
from tamio.cli import main
from tamio.config import Settings
from tamio.currency.ecb import parse_ecb_document
from tamio.obligations.service import ObligationService
from tests.api.conftest import (
    API,
    START,
    Api,
    Business,
    api_settings,
    assert_problem,
    dump_database,
    serve,
    today,
)
from tests.fake_clock import FakeClock

pytestmark = pytest.mark.backends("sqlite")
ROOT = Path(__file__).resolve().parents[2]
ECB = ROOT / "tests" / "fixtures" / "ecb"


def monthly(day: int = 15) -> dict[str, object]:
    return {"frequency": "monthly", "start_date": today().isoformat(), "day": day}


# -- clients and expenses ---------------------------------------------------------------------------


async def test_creating_a_client_creates_its_obligation_and_schedules(api: Api, business: Business) -> None:
    reply = await api.post(
        "/data/clients", token=business.approver,
        json={"name": "Globex", "contact_email": "ap@globex.example", "tags": ["retainer"],
              "billing": {"amount": "4200.50", "currency": "usd", "recurrence": monthly()}},
    )
    assert reply.status == 201, reply.text
    client = reply.json()
    assert client["amount"] == "4200.50" and client["currency"] == "USD" and client["base_currency_amount"] == "4200.50"
    assert client["billing_lines"][0]["frequency"] == "monthly"
    agreement_id = client["billing_lines"][0]["agreement_id"]

    obligations = (await api.get("/data/obligations", token=business.viewer, params={"client_id": client["id"]})).json()["obligations"]
    assert [o["id"] for o in obligations] == [agreement_id]
    assert obligations[0]["amount"] == "4200.50" and obligations[0]["obligation_type"] == "revenue"
    schedules = (await api.get(f"/data/obligations/{agreement_id}/schedules", token=business.viewer)).json()["schedules"]
    assert len(schedules) >= 3 and all(s["estimated_amount"] == "4200.50" for s in schedules)
    assert all(s["due_date"].endswith("-15") for s in schedules)

    fetched = await api.get(f"/data/clients/{client['id']}", token=business.viewer)
    assert fetched.json() == client
    async with api.sessions() as db:
        audited = (await db.execute(select(func.count()).select_from(AuditLog).where(
            AuditLog.entity_id == client["id"], AuditLog.actor == business.member_ids["approver"]))).scalar_one()
    assert audited == 1


async def test_changing_a_clients_billing_updates_its_obligation(api: Api, business: Business) -> None:
    reply = await api.call(
        "PATCH", f"/data/clients/{business.client_id}", token=business.approver,
        json={"risk_level": "high", "billing": {"amount": "6000", "recurrence": monthly(-1)}},
    )
    assert reply.status == 200, reply.text
    assert reply.json()["risk_level"] == "high" and reply.json()["amount"] == "6000.00"
    obligation = (await api.get(f"/data/obligations/{business.client_obligation_id}", token=business.viewer)).json()
    assert obligation["amount"] == "6000.00" and obligation["previous_amount"] == "5000.00"

    ended = await api.call("PATCH", f"/data/clients/{business.client_id}", token=business.approver, json={"status": "ended"})
    assert ended.json()["status"] == "ended"
    obligation = (await api.get(f"/data/obligations/{business.client_obligation_id}", token=business.viewer)).json()
    assert obligation["status"] == "cancelled"


async def test_an_expense_in_the_payroll_category_is_a_payroll_obligation(api: Api, business: Business) -> None:
    reply = await api.post(
        "/data/expense-buckets", token=business.admin,
        json={"name": "HMRC VAT", "category": "tax", "criticality": "critical",
              "billing": {"amount": "6100", "recurrence": {"frequency": "quarterly", "start_date": today().isoformat(), "day": 7}}},
    )
    assert reply.status == 201, reply.text
    agreement_id = reply.json()["billing_lines"][0]["agreement_id"]
    obligation = (await api.get(f"/data/obligations/{agreement_id}", token=business.viewer)).json()
    assert obligation["obligation_type"] == "tax" and obligation["direction"] == "outflow"
    listed = (await api.get("/data/expense-buckets", token=business.viewer)).json()["expense_buckets"]
    assert {e["name"] for e in listed} == {"Payroll", "HMRC VAT"}
    patched = await api.call("PATCH", f"/data/expense-buckets/{business.expense_id}", token=business.approver, json={"notes": "bi-weekly soon"})
    assert patched.json()["notes"] == "bi-weekly soon"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "billing": {"amount": 4200.5, "recurrence": monthly()}}, "billing.amount"),
        ({"name": "X", "billing": {"amount": "4,200", "recurrence": monthly()}}, "billing.amount"),
        ({"name": "X", "billing": {"amount": "10.005", "currency": "USD", "recurrence": monthly()}}, "billing.amount"),
        ({"name": "X", "billing": {"amount": "10", "currency": "ZZZ", "recurrence": monthly()}}, "currency"),
        ({"name": "X", "billing": {"amount": "10", "recurrence": {**monthly(), "day": 0}}}, "billing.recurrence.day"),
        ({"name": "X", "billing": {"amount": "10", "recurrence": {**monthly(), "frequency": "weekly"}}}, "billing.recurrence.day"),
        ({"name": "X", "billing": {"amount": "10", "recurrence": {"frequency": "custom", "start_date": "2026-01-01", "rrule": "FREQ=HOURLY"}}},
         "billing.recurrence.rrule"),
        ({"name": "X", "amout": "10"}, "amout"),
        ({"name": ""}, "name"),
        ({"name": "X", "contact_email": "not an email"}, "contact_email"),
        ({"name": "X\u0000"}, "name"),
    ],
)
async def test_bad_input_is_422_problem_json_naming_the_field(api: Api, business: Business, body: dict[str, object], field: str) -> None:
    reply = await api.post("/data/clients", token=business.approver, json=body)
    problem = assert_problem(reply, 422)
    fields = [e["field"] for e in problem["errors"]]  # type: ignore[union-attr]
    assert field in fields, problem


async def test_a_second_client_or_expense_with_the_same_name_is_a_409_naming_the_field(api: Api, business: Business) -> None:
    for path, name in (("/data/clients", "acme CORP"), ("/data/expense-buckets", "payroll")):
        problem = assert_problem(await api.post(path, token=business.approver, json={"name": name}), 409)
        assert problem["errors"] == [{"field": "name", "message": "already exists"}] and "already" in str(problem["detail"])
    clients = (await api.get("/data/clients", token=business.viewer)).json()["clients"]
    assert [c["name"] for c in clients] == ["Acme Corp"]


async def test_malformed_json_is_422_and_nothing_is_saved(api: Api, business: Business) -> None:
    reply = await api.post("/data/clients", token=business.approver, data=b'{"name": "Half', headers={"Content-Type": "application/json"})
    assert_problem(reply, 422)
    clients = (await api.get("/data/clients", token=business.viewer)).json()["clients"]
    assert [c["name"] for c in clients] == ["Acme Corp"]


# -- obligations, schedules and payments --------------------------------------------------------


async def test_cancelling_an_obligation_cancels_its_future_schedules(api: Api, business: Business) -> None:
    reply = await api.post(f"/data/obligations/{business.expense_obligation_id}/cancel", token=business.approver)
    assert reply.status == 200, reply.text
    assert reply.json()["obligation"]["status"] == "cancelled" and reply.json()["schedules_cancelled"] >= 3
    open_left = (await api.get("/data/schedules", token=business.viewer,
                               params={"obligation_id": business.expense_obligation_id, "status": "scheduled"})).json()
    assert open_left["schedules"] == []
    again = await api.post(f"/data/obligations/{business.expense_obligation_id}/cancel", token=business.approver)
    assert again.json()["schedules_cancelled"] == 0


async def test_recording_a_payment_pays_the_schedule_and_moves_the_cash(api: Api, business: Business) -> None:
    schedule = (await api.get(f"/data/schedules/{business.schedule_id}", token=business.viewer)).json()
    assert schedule["status"] == "partially_paid" and schedule["remaining_amount"] == "4000.00"
    reply = await api.post("/data/payments", token=business.approver,
                           json={"amount": "4000", "schedule_id": business.schedule_id, "reference": "INV-7"})
    assert reply.status == 201, reply.text
    recorded = reply.json()
    assert recorded["matched"] and recorded["schedule"]["status"] == "paid"
    assert recorded["payment"]["amount"] == "4000.00" and recorded["payment"]["variance_vs_expected"] == "0.00"
    cash = (await api.get(f"/data/cash-accounts/{business.cash_account_id}", token=business.viewer)).json()
    assert cash["balance"] == "55000.00"
    listed = (await api.get("/data/payments", token=business.viewer, params={"client_id": business.client_id})).json()["payments"]
    assert {p["id"] for p in listed} == {business.payment_id, recorded["payment"]["id"]}
    one = (await api.get(f"/data/payments/{business.payment_id}", token=business.viewer)).json()
    assert one["amount"] == "1000.00"


async def test_a_payment_to_a_client_is_matched_to_its_open_schedule(api: Api, business: Business) -> None:
    reply = await api.post("/data/payments", token=business.approver, json={"amount": "4000.00", "client_id": business.client_id})
    assert reply.status == 201, reply.text
    assert reply.json()["matched"] and reply.json()["schedule"]["id"] == business.schedule_id


async def test_a_payment_pays_the_invoice_it_names_else_the_oldest_open_ones(api: Api, business: Business) -> None:
    listed = (await api.get("/data/schedules", token=business.viewer, params={"obligation_id": business.client_obligation_id})).json()
    first, second, third = listed["schedules"][:3]
    assert first["id"] == business.schedule_id and first["remaining_amount"] == "4000.00"
    problem = assert_problem(await api.post("/data/payments", token=business.approver,
                                            json={"amount": "10", "client_id": business.client_id, "invoice": "INV-404"}), 404)
    assert problem["detail"].startswith(f"Acme Corp has no open invoice `INV-404`. Open: {first['due_date']} (due ")
    named = await api.post("/data/payments", token=business.approver,
                           json={"amount": "5000", "client_id": business.client_id, "invoice": second["due_date"]})
    assert named.status == 201, named.text
    assert named.json()["schedule"]["id"] == second["id"] and named.json()["schedule"]["status"] == "paid"
    oldest_first = (await api.post("/data/payments", token=business.approver, json={"amount": "9000", "client_id": business.client_id})).json()
    assert [(p["schedule_id"], p["amount"]) for p in oldest_first["payments"]] == [(first["id"], "4000.00"), (third["id"], "5000.00")]
    assert [s["status"] for s in oldest_first["schedules"]] == ["paid", "paid"] and oldest_first["overpaid"] == "0.00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "10"}, "body"),
        ({"amount": "10", "schedule_id": "sch_1", "invoice": "INV-1"}, "body"),
        ({"amount": "10", "client_id": "x", "expense_bucket_id": "y"}, "body"),
        ({"amount": "-10", "direction": "inflow"}, "amount"),
        ({"amount": "10", "direction": "inflow", "payment_date": (today() + timedelta(days=3)).isoformat()}, "payment_date"),
    ],
)
async def test_bad_payments_are_refused(api: Api, business: Business, body: dict[str, object], field: str) -> None:
    problem = assert_problem(await api.post("/data/payments", token=business.approver, json=body), 422)
    assert field in [e["field"] for e in problem["errors"]]  # type: ignore[union-attr]


async def test_an_empty_date_range_is_422(api: Api, business: Business) -> None:
    reply = await api.get("/data/schedules", token=business.viewer, params={"due_from": "2026-02-01", "due_to": "2026-01-01"})
    assert_problem(reply, 422)
    weeks = await api.get("/forecast", token=business.viewer, params={"weeks": "0"})
    assert_problem(weeks, 422)


# -- cash accounts and rates ----------------------------------------------------------------------


async def test_cash_accounts_are_created_once_and_their_balance_set(api: Api, business: Business) -> None:
    created = await api.post("/data/cash-accounts", token=business.approver,
                             json={"name": "Euro account", "balance": "1000", "currency": "EUR"})
    assert created.status == 201, created.text
    euro = created.json()
    assert euro["base_currency_amount"] == "1080.00" and euro["exchange_rate_used"] == "1.08"
    duplicate = await api.post("/data/cash-accounts", token=business.approver, json={"name": "euro ACCOUNT", "balance": "1"})
    assert_problem(duplicate, 409)
    updated = await api.call("PUT", f"/data/cash-accounts/{euro['id']}/balance", token=business.approver, json={"balance": "-20.5"})
    assert updated.status == 200 and updated.json()["balance"] == "-20.50" and updated.json()["currency"] == "EUR"
    names = [c["name"] for c in (await api.get("/data/cash-accounts", token=business.viewer)).json()["cash_accounts"]]
    assert names == ["Euro account", "Operating"]
    no_rate = await api.post("/data/cash-accounts", token=business.approver, json={"name": "Yen", "balance": "1", "currency": "JPY"})
    problem = assert_problem(no_rate, 422)
    assert problem["title"] == "Missing exchange rate"


async def test_rates_are_added_by_admins_and_listed(api: Api, business: Business) -> None:
    added = await api.post("/data/exchange-rates", token=business.admin,
                           json={"base_currency": "gbp", "quote_currency": "USD", "rate": "1.2650", "rate_date": "2026-12-01"})
    assert added.status == 201, added.text
    assert added.json() | {"id": "-"} == {"id": "-", "own": True, "base_currency": "GBP", "quote_currency": "USD", "rate": "1.2650",
                                          "rate_date": "2026-12-01", "source": "api"}
    listed = (await api.get("/data/exchange-rates", token=business.viewer, params={"base": "GBP"})).json()["rates"]
    assert [(r["quote_currency"], r["rate"]) for r in listed] == [("USD", "1.2650")]
    same = await api.post("/data/exchange-rates", token=business.admin, json={"base_currency": "USD", "quote_currency": "usd", "rate": "1"})
    assert_problem(same, 422)


async def test_rates_filter_by_the_names_they_carry_and_a_bad_currency_names_its_field(api: Api, business: Business) -> None:
    await api.post("/data/exchange-rates", token=business.admin, json={"base_currency": "GBP", "quote_currency": "USD", "rate": "1.2650"})
    by_long = await api.get("/data/exchange-rates", token=business.viewer, params={"base_currency": "GBP", "quote_currency": "USD"})
    assert by_long.status == 200, by_long.text
    assert [(r["base_currency"], r["quote_currency"]) for r in by_long.json()["rates"]] == [("GBP", "USD")]
    both = await api.get("/data/exchange-rates", token=business.viewer, params={"base": "GBP", "base_currency": "GBP"})
    assert "give base or base_currency, not both" in str(assert_problem(both, 422)["errors"])
    unknown = await api.post("/data/exchange-rates", token=business.admin, json={"base_currency": "CHF", "quote_currency": "XYZ", "rate": "1.1"})
    assert [e["field"] for e in assert_problem(unknown, 422)["errors"]] == ["quote_currency"]  # type: ignore[union-attr]


async def test_ecb_files_are_imported_from_content_and_base64(api: Api, business: Business) -> None:
    daily = (ECB / "eurofxref-daily.xml").read_text()
    reply = await api.post("/data/exchange-rates/import-ecb", token=business.admin, json={"content": daily})
    assert reply.status == 200, reply.text
    daily_rates = parse_ecb_document(daily.encode())
    assert reply.json() == {"imported": len(daily_rates), "latest_rate_date": max(r.rate_date for r in daily_rates).isoformat()}
    usd = (await api.get("/data/exchange-rates", token=business.viewer, params={"base": "EUR", "quote": "USD"})).json()["rates"]
    assert any(r["source"] == "ecb" and r["rate"] == format(next(x.rate for x in daily_rates if x.currency == "USD"), "f") for r in usd)
    raw = (ECB / "eurofxref-hist.csv").read_bytes()
    reply = await api.post("/data/exchange-rates/import-ecb", token=business.admin, json={"content_base64": base64.b64encode(raw).decode()})
    assert reply.status == 200 and reply.json()["imported"] == len(parse_ecb_document(raw))
    bad = await api.post("/data/exchange-rates/import-ecb", token=business.admin, json={"content": "Date,USD\nnot-a-date,1.2\n"})
    assert "content" in [e["field"] for e in assert_problem(bad, 422)["errors"]]  # type: ignore[union-attr]
    both = await api.post("/data/exchange-rates/import-ecb", token=business.admin, json={"content": daily, "url": "https://x.example/"})
    assert_problem(both, 422)


async def test_an_ecb_file_may_be_the_body_itself_raw_or_in_a_form(api: Api, business: Business) -> None:
    daily = (ECB / "eurofxref-daily.xml").read_bytes()
    expected = {"imported": len(parse_ecb_document(daily)), "latest_rate_date": max(r.rate_date for r in parse_ecb_document(daily)).isoformat()}
    path = "/data/exchange-rates/import-ecb"
    raw = await api.post(path, token=business.admin, data=daily, headers={"Content-Type": "application/xml"})
    assert (raw.status, raw.json()) == (200, expected), raw.text
    history = (ECB / "eurofxref-hist.csv").read_bytes()
    # curl --data-binary @eurofxref-hist.csv sends it as a form's type; it is still the file.
    untyped = await api.post(path, token=business.admin, data=history, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (untyped.status, untyped.json()["imported"]) == (200, len(parse_ecb_document(history))), untyped.text
    form = aiohttp.FormData()
    form.add_field("file", daily, filename="eurofxref-daily.xml", content_type="text/xml")
    async with api.http.post(API + path, data=form, headers={"Authorization": f"Bearer {business.admin}"}) as response:
        assert (response.status, await response.json()) == (200, expected)

    before = await dump_database(api.sessions, ignore=frozenset({("api_tokens", "last_used_at")}))
    no_file = aiohttp.MultipartWriter("form-data")
    no_file.append("rates").set_content_disposition("form-data", name="note")
    async with api.http.post(API + path, data=no_file, headers={"Authorization": f"Bearer {business.admin}"}) as response:
        problem = await response.json()
        assert (response.status, problem["errors"]) == (422, [{"field": "file", "message": "send the file as the form field `file`"}])
    broken = await api.post(path, token=business.admin, data=b"x", headers={"Content-Type": "multipart/form-data"})
    assert "not a valid multipart form" in str(assert_problem(broken, 422)["detail"])
    bad_header = b'--b\r\nContent-Disposition: form-data; name="\x01\t"\r\n\r\nx\r\n--b--\r\n'
    mangled = await api.post(path, token=business.admin, data=bad_header, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert "not a valid multipart form" in str(assert_problem(mangled, 422)["detail"])
    not_ecb = await api.post(path, token=business.admin, data=b"<rates/>", headers={"Content-Type": "application/xml"})
    assert "not an ECB reference-rate file" in str(assert_problem(not_ecb, 422)["detail"])
    too_big = await api.post(path, token=business.admin, data=b"0" * 6_000_001, headers={"Content-Type": "application/zip"})
    assert_problem(too_big, 413)
    assert await dump_database(api.sessions, ignore=frozenset({("api_tokens", "last_used_at")})) == before


@pytest.fixture
async def ecb_feed() -> AsyncIterator[str]:
    hits: list[str] = []

    async def feed(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=(ECB / "eurofxref-daily.xml").read_bytes(), content_type="text/xml")

    app = web.Application()
    app.router.add_get("/stats/eurofxref/eurofxref-daily.xml", feed)
    runner, base = await serve(app)
    try:
        yield base + "/stats/eurofxref/eurofxref-daily.xml"
    finally:
        await runner.cleanup()


@pytest.fixture
def settings(db_url: str, request: pytest.FixtureRequest) -> Settings:
    feed = request.getfixturevalue("ecb_feed") if "ecb_feed" in request.fixturenames else None
    return api_settings(db_url, ecb_feed_url=feed)


async def test_ecb_rates_are_downloaded_only_from_the_configured_feed(api: Api, business: Business, ecb_feed: str) -> None:
    reply = await api.post("/data/exchange-rates/import-ecb", token=business.admin, json={"url": ecb_feed})
    assert reply.status == 200, reply.text
    assert reply.json()["imported"] == len(parse_ecb_document((ECB / "eurofxref-daily.xml").read_bytes()))
    elsewhere = await api.post("/data/exchange-rates/import-ecb", token=business.admin, json={"url": ecb_feed.replace("daily", "hist")})
    assert "url" in [e["field"] for e in assert_problem(elsewhere, 422)["errors"]]  # type: ignore[union-attr]
    internal = await api.post("/data/exchange-rates/import-ecb", token=business.admin, json={"url": "http://127.0.0.1:1/secret"})
    detail = str(assert_problem(internal, 422)["detail"])
    assert detail.startswith("I only download rates from the configured feed (TAMIO_ECB_FEED_URL)") and "only the" not in detail


# -- the forecast ---------------------------------------------------------------------------------


async def _cli_forecast(api: Api, account_id: str, *args: str) -> object:
    """`tamio forecast --json` on the API's database at the API's clock (the real entry point, in a thread)."""
    env = {"TAMIO_DATABASE_URL": api.settings.database_url, "USE_OBLIGATION_FOR_FORECAST": "true"}

    def run() -> str:
        out = io.StringIO()
        with mock.patch.dict(os.environ, env), contextlib.redirect_stdout(out):
            assert main(["--account", account_id, "forecast", "--json", *args], now=api.clock()) == 0
        return out.getvalue()

    return json.loads(await asyncio.to_thread(run))


@pytest.mark.parametrize("weeks", ["13", "26"])
async def test_the_forecast_is_what_the_cli_prints(api: Api, business: Business, db_url: str, weeks: str) -> None:
    as_of = (today() + timedelta(days=1)).isoformat()
    reply = await api.get("/forecast", token=business.viewer, params={"weeks": weeks, "as_of": as_of})
    assert reply.status == 200, reply.text
    forecast = reply.json()
    assert len(forecast["weeks"]) == int(weeks) and forecast["opening_balance"] == "51000.00"  # 50,000 and the 1,000 received
    assert forecast["interval"] == "0.80"  # each week's low/high is an 80 % interval (issue 16)
    assert forecast == await _cli_forecast(api, business.account_id, "--weeks", weeks, "--as-of", as_of)


async def test_get_forecast_writes_nothing_even_past_the_stored_schedules(
    api: Api, business: Business, session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Issue 17 item 2: a year's forecast reaches past the generated schedules; the GET reads beyond
    them (the billing lines, the same weeks) and leaves the database as it was (but the token's hint of use)."""
    used = frozenset({("api_tokens", "last_used_at")})
    before = await dump_database(session_factory, ignore=used)
    reply = await api.get("/forecast", token=business.viewer, params={"weeks": "52"})
    assert reply.status == 200, reply.text
    assert len(reply.json()["weeks"]) == 52
    assert await dump_database(session_factory, ignore=used) == before


async def test_the_default_forecast_starts_today(api: Api, business: Business) -> None:
    forecast = (await api.get("/forecast", token=business.viewer)).json()
    assert forecast["as_of"] == today().isoformat() and len(forecast["weeks"]) == 13


async def test_install_mounts_beside_other_routes(session_factory: async_sessionmaker[AsyncSession], db_url: str) -> None:
    async def slack(request: web.Request) -> web.Response:
        return web.Response(text="slack")

    app = web.Application()
    app.router.add_post("/slack/events", slack)
    install(app, api_settings(db_url), session_factory, clock=FakeClock(START))
    runner, base = await serve(app)
    try:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/slack/events") as reply:
                assert await reply.text() == "slack"
            async with http.get(base + "/nowhere") as reply:  # outside /api/v1: aiohttp's own 404, untouched
                assert reply.status == 404 and reply.content_type == "text/plain"
            async with http.get(base + "/api/v1/openapi.json") as reply:
                assert reply.status == 200 and (await reply.json())["openapi"] == "3.1.0"
    finally:
        await runner.cleanup()


async def test_partially_paid_lists_a_part_paid_invoice_after_the_morning_job_marks_it_overdue(api: Api, business: Business) -> None:
    """The finding: payments store partially_paid, the 6 AM job then stores overdue for a late one, and
    ``?status=partially_paid`` lost it. The filter means part paid, late or not; what is stored stays."""
    query = {"status": "partially_paid", "obligation_id": business.client_obligation_id}
    listed = (await api.get("/data/schedules", token=business.viewer, params=query)).json()["schedules"]
    assert [s["id"] for s in listed] == [business.schedule_id]
    due = date.fromisoformat(listed[0]["due_date"])
    async with api.sessions() as db, db.begin():  # the morning job's step, the day after it fell due
        account = await db.get(Account, business.account_id)
        assert account is not None
        service = ObligationService(db, account=account, settings=api.settings, today=due + timedelta(days=1), actor="scheduler", now=api.clock())
        assert await service.mark_overdue() >= 1
    for path in ("/data/schedules", f"/data/obligations/{business.client_obligation_id}/schedules"):
        found = (await api.get(path, token=business.viewer, params={"status": "partially_paid"})).json()["schedules"]
        assert [(s["id"], s["status"], s["paid_amount"]) for s in found] == [(business.schedule_id, "overdue", "1000.00")], path
    overdue = (await api.get("/data/schedules", token=business.viewer, params={"status": "overdue"})).json()["schedules"]
    assert business.schedule_id in {s["id"] for s in overdue}  # still overdue too, as stored
    unpaid = (await api.get("/data/schedules", token=business.viewer, params={"status": "scheduled"})).json()["schedules"]
    assert business.schedule_id not in {s["id"] for s in unpaid}
