"""``POST /api/v1/data/obligations``: what ``/tamio add`` and ``tamio add`` do, through the same core function and rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import Api, Business, assert_problem, today

pytestmark = pytest.mark.backends("sqlite")


def once(days_ago: int) -> dict[str, object]:
    return {"frequency": "once", "start_date": (today() - timedelta(days=days_ago)).isoformat()}


async def test_an_overdue_invoice_over_the_api(api: Api, business: Business) -> None:
    reply = await api.post("/data/obligations", token=business.approver,
                           json={"kind": "client", "name": "Late Payer Co", "amount": "5000", "recurrence": once(16), "invoice": "INV-1042"})
    assert reply.status == 201, reply.text
    added = reply.json()
    assert added["counterparty_created"] is True and added["overdue"] == "already 16 days overdue"
    assert [(s["status"], s["invoice_number"], s["remaining_amount"]) for s in added["schedules"]] == [("overdue", "INV-1042", "5000.00")]
    assert added["obligation"]["obligation_type"] == "revenue" and added["obligation"]["frequency"] == "once"

    again = await api.post("/data/obligations", token=business.approver,
                           json={"kind": "client", "name": "Late Payer Co", "amount": "5000", "recurrence": once(16), "invoice": "INV-1042"})
    assert "already has invoice INV-1042" in assert_problem(again, 409)["detail"]

    paid = await api.post("/data/payments", token=business.approver,
                          json={"client_id": added["counterparty_id"], "amount": "5000", "invoice": "INV-1042"})
    assert paid.status in (200, 201) and "INV-1042" in paid.text, paid.text


async def test_a_past_start_schedules_arrears(api: Api, business: Business) -> None:
    start = today() - timedelta(weeks=3)
    reply = await api.post("/data/obligations", token=business.approver,
                           json={"kind": "expense", "name": "Cleaner", "amount": "200", "currency": "usd",
                                 "recurrence": {"frequency": "weekly", "start_date": start.isoformat()}})
    assert reply.status == 201, reply.text
    assert [s["status"] for s in reply.json()["schedules"]][:3] == ["overdue"] * 3


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"kind": "expense", "name": "Rent", "amount": "10", "currency": "XYZ", "recurrence": once(0)}, "currency", "not a currency I know"),
    ({"kind": "expense", "name": "Rent", "amount": "10", "recurrence": {"frequency": "weekly", "start_date": "2020-01-01"}},
     "recurrence.start_date", "more than 5 years ago"),
    ({"kind": "client", "name": "Acme", "amount": "10", "recurrence": {"frequency": "monthly", "start_date": today().isoformat()},
      "invoice": "INV-1"}, "invoice", "one-off"),
    ({"kind": "expense", "name": "Rent", "amount": "10", "recurrence": {"frequency": "weekly", "start_date": today().isoformat(), "day": 15}},
     "recurrence.day", "monthly, quarterly and annual"),
])
async def test_the_cores_refusals_as_problem_json(api: Api, business: Business, body: dict[str, object], field: str, words: str) -> None:
    problem = assert_problem(await api.post("/data/obligations", token=business.approver, json=body), 422)
    assert words in problem["detail"] and field in {e["field"] for e in problem.get("errors", [])}, problem


async def test_viewers_may_not_add(api: Api, business: Business) -> None:
    reply = await api.post("/data/obligations", token=business.viewer,
                           json={"kind": "client", "name": "Acme", "amount": "10", "recurrence": once(0)})
    assert_problem(reply, 403)


async def test_one_date_reader(api: Api, business: Business) -> None:
    """The words Slack, the CLI and the CSV import use for a date that is not on the calendar (issue 19 item 2)."""
    body = {"kind": "expense", "name": "Rent", "amount": "10", "recurrence": {"frequency": "monthly", "start_date": "2027-02-31"}}
    problem = assert_problem(await api.post("/data/obligations", token=business.approver, json=body), 422)
    assert any("2027-02-31 is not a date on the calendar; check the month and day." in e["message"] for e in problem["errors"]), problem


async def test_the_same_obligation_twice_is_a_409_unless_allowed(api: Api, business: Business) -> None:
    """Issue 19: the core refuses a second identical amount (nothing written); ``allow_duplicate: true`` adds it."""
    rent = {"kind": "expense", "name": "Rent", "amount": "500", "recurrence": {"frequency": "monthly", "start_date": today().isoformat()}}
    first = await api.post("/data/obligations", token=business.approver, json=rent)
    assert first.status == 201, first.text
    problem = assert_problem(await api.post("/data/obligations", token=business.approver, json={**rent, "amount": "500.00"}), 409)
    assert problem["detail"].startswith("Rent already has $500.00 monthly: add another?") and "allow_duplicate" in problem["detail"]

    async def rent_agreements() -> int:
        listed = await api.get("/data/obligations", token=business.approver)
        return sum(1 for o in listed.json()["obligations"] if o["expense_bucket_id"] == first.json()["counterparty_id"])

    assert await rent_agreements() == 1
    again = await api.post("/data/obligations", token=business.approver, json={**rent, "allow_duplicate": True})
    assert again.status == 201 and again.json()["counterparty_created"] is False, again.text
    assert await rent_agreements() == 2
    other = await api.post("/data/obligations", token=business.approver, json={**rent, "amount": "650"})
    assert other.status == 201, other.text  # another amount is not a duplicate
