"""Through the REST API: decisions update Slack, automation rules are read and changed, histories are listed.

Issue 15: approvals, skips, retries and draft edits made through ``/api/v1`` write the card's
``card_update`` and App Home's ``home_refresh`` outbox rows in their transaction, as Slack clicks
do; the automation rules are in the API (and its OpenAPI document) through the same core function
as the CLI and Slack; a client's history of chases and payments says who decided, when, and what
was sent, and ``tamio history --json`` prints the same document.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select, update

from tamio.accounts.models import Account
from tamio.audit.models import AuditLog
from tamio.cli import main
from tamio.config import Settings
from tamio.obligations.models import ObligationSchedule
from tamio.outbox.models import OutboxMessage
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction
from tests.api.conftest import Api, Business, api_settings, assert_problem
from tests.service.books import Books
from tests.service.execution_factories import Mailbox, free_port

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox(free_port()) as box:
        yield box


@pytest.fixture
def settings(db_url: str, mailbox: Mailbox) -> Settings:
    return api_settings(db_url, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_sender="tamio@acme.test")


async def slack_updates(api: Api, action_id: str) -> list[str]:
    async with api.sessions() as db:
        rows = (await db.execute(select(OutboxMessage.kind, OutboxMessage.payload).where(
            OutboxMessage.kind.in_(("card_update", "home_refresh"))))).all()
    return sorted(kind for kind, payload in rows if payload.get("action_id") == action_id)


async def test_decisions_through_the_api_queue_the_card_update_and_home_refresh(api: Api, business: Business) -> None:
    reply = await api.post(f"/pipeline/actions/{business.action_id}/draft", token=business.approver,
                           json={"option_id": business.option_ids[0], "subject": "Invoice 1042", "body": "Hi Acme, please pay."})
    assert reply.status == 200, reply.text
    assert reply.json()["outcome"] == "draft_edited"
    assert await slack_updates(api, business.action_id) == ["card_update", "home_refresh"]

    reply = await api.post(f"/pipeline/actions/{business.action_id}/approve", token=business.approver,
                           json={"option_id": business.option_ids[0]})
    assert reply.status == 200 and reply.json()["execution"]["status"] == "executed", reply.text
    # The draft, the approval, carrying it out and its end: each shown in Slack.
    assert await slack_updates(api, business.action_id) == ["card_update"] * 4 + ["home_refresh"] * 4

    reply = await api.post(f"/pipeline/actions/{business.big_action_id}/skip", token=business.approver, json={"reason": "paid by phone"})
    assert reply.status == 200, reply.text
    assert await slack_updates(api, business.big_action_id) == ["card_update", "home_refresh"]


async def test_an_email_nobody_can_receive_is_refused_before_approval(api: Api, business: Business, mailbox: Mailbox) -> None:
    """Issue 19 item 5: never accepted and then failing; refused saying what it needs, and fine once that is there."""
    async with api.sessions() as db, db.begin():  # nobody to send it to
        await db.execute(update(ActionOption).where(ActionOption.action_id == business.action_id).values(recipient_email=None))
    reply = await api.post(f"/pipeline/actions/{business.action_id}/approve", token=business.approver,
                           json={"option_id": business.option_ids[0]})
    problem = assert_problem(reply, 409)
    assert "has no email address, so this message cannot be sent. Nothing was approved." in problem["detail"], problem
    assert (await slack_updates(api, business.action_id)).count("card_update") == 0
    assert_problem(await api.post(f"/pipeline/actions/{business.big_action_id}/retry", token=business.approver), 409)
    async with api.sessions() as db, db.begin():  # the address is added; the approval goes through and the email goes out
        await db.execute(update(ActionOption).where(ActionOption.action_id == business.action_id).values(recipient_email="ap@acme.example"))
    reply = await api.post(f"/pipeline/actions/{business.action_id}/approve", token=business.second_approver,
                           json={"option_id": business.option_ids[0]})
    assert reply.status == 200 and reply.json()["execution"]["status"] == "executed", reply.text
    assert [m["To"] for m in mailbox.messages] == ["ap@acme.example"]


async def test_the_draft_route_says_what_is_wrong(api: Api, business: Business) -> None:
    reply = await api.post(f"/pipeline/actions/{business.action_id}/draft", token=business.approver, json={"subject": " ", "body": "Hi"})
    problem = assert_problem(reply, 422)
    assert "A message needs a subject." in problem["detail"]
    await api.post(f"/pipeline/actions/{business.big_action_id}/skip", token=business.approver, json={})
    reply = await api.post(f"/pipeline/actions/{business.big_action_id}/draft", token=business.approver, json={"subject": "A", "body": "B"})
    assert "already skipped this" in assert_problem(reply, 409)["detail"]


async def test_automation_rules_are_read_and_changed_through_the_api(api: Api, business: Business) -> None:
    listed = await api.get("/automation/rules", token=business.viewer)
    assert listed.status == 200, listed.text
    rules = {r["action_type"]: r for r in listed.json()["rules"]}
    assert set(rules) == {"invoice_follow_up", "payment_batch", "vendor_delay", "statutory_payment", "payroll", "excess_allocation"}
    assert rules["payment_batch"]["threshold_amount"] == "10000.00" and rules["payroll"]["is_locked"] is True

    changed = await api.call("PATCH", "/automation/rules/payment_batch", token=business.admin,
                             json={"auto_execute": True, "threshold_amount": "5000", "excluded_tags": ["strategic"]})
    assert changed.status == 200, changed.text
    body = changed.json()
    assert (body["auto_execute"], body["require_approval"], body["threshold_amount"], body["excluded_tags"]) == (True, False, "5000.00", ["strategic"])
    assert (await api.get("/automation/rules/payment_reminder", token=business.viewer)).json()["action_type"] == "invoice_follow_up"
    async with api.sessions() as db:
        audit = (await db.execute(select(AuditLog).where(AuditLog.entity_type == "automation_rule"))).scalars().all()
    assert [a.actor for a in audit] == [business.member_ids["admin"]]

    removed = await api.call("PATCH", "/automation/rules/payment_batch", token=business.admin, json={"threshold_amount": None})
    assert removed.json()["threshold_amount"] is None
    assert_problem(await api.call("PATCH", "/automation/rules/payment_batch", token=business.approver, json={"auto_execute": False}), 403)
    locked = assert_problem(await api.call("PATCH", "/automation/rules/payroll", token=business.admin, json={"auto_execute": True}), 409)
    assert locked["detail"] == "Payroll actions always need an admin's approval; this rule is locked."
    assert_problem(await api.get("/automation/rules/autopilot", token=business.viewer), 404)
    assert_problem(await api.call("PATCH", "/automation/rules/payment_batch", token=business.admin, json={"is_locked": True}), 422)
    document = (await api.get("/openapi.json")).json()
    assert {"/api/v1/automation/rules", "/api/v1/automation/rules/{rule}", "/api/v1/data/clients/{client_id}/history",
            "/api/v1/pipeline/actions/{action_id}/retry", "/api/v1/pipeline/actions/{action_id}/draft"} <= set(document["paths"])


async def test_a_clients_history_lists_the_chases_and_payments_and_the_cli_prints_the_same(
    api: Api, business: Business, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    reply = await api.post(f"/pipeline/actions/{business.action_id}/approve", token=business.approver,
                           json={"option_id": business.option_ids[1], "edited_subject": "Invoice 1042, now 16 days late"})
    assert reply.json()["execution"]["status"] == "executed", reply.text
    history = await api.get(f"/data/clients/{business.client_id}/history", token=business.viewer)
    assert history.status == 200, history.text
    found = history.json()
    assert (found["name"], found["counterparty_type"]) == ("Acme Corp", "client")
    chase, payment = found["entries"]
    assert (chase["kind"], chase["decided_by"], chase["action_id"], chase["title"]) == ("chase", "@maria", business.action_id, "Send a firm reminder")
    assert [(s["to"], s["subject"]) for s in chase["sent"]] == [("ap@acme.example", "Invoice 1042, now 16 days late")]
    assert chase["sent"][0]["message_id"] == mailbox.message_ids[0]
    assert (payment["kind"], payment["title"], payment["amount"]) == ("payment", "Received $1,000.00", "1000.00")
    assert found["summary"].startswith(f"Chased 1x, last {chase['on'][8:].lstrip('0')} ") and "by @maria" in found["summary"]
    assert "Last paid" in found["summary"]
    assert_problem(await api.get(f"/data/clients/{business.expense_id}/history", token=business.viewer), 404)
    vendor = await api.get(f"/data/expense-buckets/{business.expense_id}/history", token=business.viewer)
    assert vendor.status == 200 and vendor.json()["entries"] == []

    monkeypatch.setenv("TAMIO_DATABASE_URL", api.settings.database_url)
    code = await asyncio.to_thread(main, ["history", "Acme Corp", "--json", "--account", business.account_id])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out) == found
    code = await asyncio.to_thread(main, ["history", "acme corp", "--account", business.account_id])
    text = capsys.readouterr().out
    assert code == 0 and text.startswith(f"Acme Corp (client): {found['summary']}")
    assert "chase    Send a firm reminder" in text and "sent to ap@acme.example: “Invoice 1042, now 16 days late”" in text
    code = await asyncio.to_thread(main, ["history", "Nobody Inc", "--account", business.account_id])
    assert code == 1 and "There is no client or expense called `Nobody Inc`." in capsys.readouterr().err
    async with api.sessions() as db:
        action = await db.get(PreparedAction, business.action_id)
        assert action is not None and action.status == ActionStatus.EXECUTED


async def test_detection_rules_are_read_and_changed_through_the_api_as_in_slack(api: Api, business: Business) -> None:
    listed = await api.get("/config/detection", token=business.viewer)
    assert listed.status == 200, listed.text
    rules = {r["detection_type"]: r for r in listed.json()["rules"]}
    assert len(rules) == 12 and rules["late_payment"] == {
        "detection_type": "late_payment", "enabled": True, "threshold": None, "configured_threshold": "7", "threshold_in_effect": "7", "unit": "days"}
    changed = await api.call("PATCH", "/config/detection/late_payment", token=business.admin, json={"threshold": "10"})
    assert changed.status == 200, changed.text
    assert (changed.json()["threshold"], changed.json()["threshold_in_effect"]) == ("10", "10")
    off = await api.call("PATCH", "/config/detection/unexpected_expense", token=business.admin, json={"enabled": False})
    assert off.json()["enabled"] is False
    assert (await api.get("/config/detection/unexpected_expense", token=business.viewer)).json()["enabled"] is False
    back = await api.call("PATCH", "/config/detection/late_payment", token=business.admin, json={"threshold": None})
    assert back.json()["threshold"] is None and back.json()["threshold_in_effect"] == "7"
    refused = assert_problem(await api.call("PATCH", "/config/detection/late_payment", token=business.approver, json={"enabled": False}), 403)
    assert refused["detail"].startswith("Only admins can change a detection rule; this token acts as an approver.")
    assert_problem(await api.call("PATCH", "/config/detection/late_payment", token=business.admin, json={"threshold": "2.5"}), 422)
    assert_problem(await api.get("/config/detection/lateness", token=business.viewer), 404)
    async with api.sessions() as db:
        audit = (await db.execute(select(AuditLog).where(AuditLog.entity_type == "detection_rule"))).scalars().all()
    assert len(audit) == 3 and {a.actor for a in audit} == {business.member_ids["admin"]}
    document = (await api.get("/openapi.json")).json()
    assert {"/api/v1/config/detection", "/api/v1/config/detection/{detection_type}"} <= set(document["paths"])


async def test_a_requested_delay_is_marked_agreed_through_the_api(api: Api, business: Business) -> None:
    nothing = assert_problem(await api.post(f"/pipeline/actions/{business.action_id}/delay-agreed", token=business.approver), 409)
    assert nothing["detail"].startswith("No delay of this action is waiting for the vendor's agreement.")
    assert_problem(await api.post("/pipeline/actions/act_nope/delay-agreed", token=business.approver), 404)
    async with api.sessions() as db, db.begin():  # the action asked Cloud Host to move its 16 Dec payment to 30 Dec
        account = await db.get(Account, business.account_id)
        assert account is not None
        books = Books(db, account, date(2026, 12, 7))
        await books.expense("Cloud Host", "800", books.every("once", date(2026, 12, 16)))
        schedule = (await db.execute(select(ObligationSchedule).where(ObligationSchedule.user_id == account.id)
                                     .order_by(ObligationSchedule.created_at.desc()))).scalars().first()
        assert schedule is not None
        schedule.delay_requested_to, schedule.delay_requested_by = date(2026, 12, 30), business.action_id
    assert_problem(await api.post(f"/pipeline/actions/{business.action_id}/delay-agreed", token=business.viewer), 403)
    agreed = await api.post(f"/pipeline/actions/{business.action_id}/delay-agreed", token=business.approver)
    assert agreed.status == 200, agreed.text
    [moved] = agreed.json()["moved"]
    assert (moved["from_date"], moved["to_date"], moved["amount"]) == ("2026-12-16", "2026-12-30", "800.00")
    assert await slack_updates(api, business.action_id) == ["card_update", "home_refresh"]
