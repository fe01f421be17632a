"""A smoke run of the API on SQLite and on PostgreSQL: write, read, decide and forecast over HTTP."""

from __future__ import annotations

from decimal import Decimal

from tests.api.conftest import Api, Business, today


async def test_the_api_works_on_both_databases(api: Api, business: Business) -> None:
    created = await api.post(
        "/data/expense-buckets", token=business.approver,
        json={"name": "Cloud Host", "category": "software",
              "billing": {"amount": "1234567890.125", "currency": "KWD", "recurrence": {"frequency": "weekly", "start_date": today().isoformat()}}},
    )
    # KWD has three decimals; there is no KWD rate yet, so nothing is saved.
    assert created.status == 422 and created.json()["title"] == "Missing exchange rate"
    rate = await api.post("/data/exchange-rates", token=business.admin,
                          json={"base_currency": "KWD", "quote_currency": "USD", "rate": "3.254", "rate_date": today().isoformat()})
    assert rate.status == 201, rate.text
    created = await api.post(
        "/data/expense-buckets", token=business.approver,
        json={"name": "Cloud Host", "category": "software",
              "billing": {"amount": "1234567890.125", "currency": "KWD", "recurrence": {"frequency": "weekly", "start_date": today().isoformat()}}},
    )
    assert created.status == 201, created.text
    bucket = created.json()
    assert bucket["amount"] == "1234567890.125" and bucket["base_currency_amount"] == "4017283914.47"  # 1234567890.125 x 3.254, to cents

    schedules = (await api.get("/data/schedules", token=business.viewer,
                               params={"obligation_id": bucket["billing_lines"][0]["agreement_id"]})).json()["schedules"]
    assert len(schedules) >= 13 and {s["estimated_amount"] for s in schedules} == {"1234567890.125"}

    decision = await api.post(f"/pipeline/actions/{business.action_id}/skip", token=business.approver, json={"reason": "handled"})
    assert decision.status == 200 and decision.json()["status"] == "skipped"

    forecast = (await api.get("/forecast", token=business.viewer)).json()
    assert len(forecast["weeks"]) == 13
    week = forecast["weeks"][0]
    due = (await api.get("/data/schedules", token=business.viewer, params={"due_from": week["start"], "due_to": week["end"]})).json()
    expected = sum((Decimal(s["base_currency_amount"]) for s in due["schedules"] if s["direction"] == "outflow"), Decimal(0))
    assert Decimal("4017283914.47") <= expected == Decimal(week["outflows"])  # the weekly KWD bill in USD, and payroll if due
