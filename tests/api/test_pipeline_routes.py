"""The pipeline routes: runs, health, the action queue, and decisions that follow the Slack lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.execution.models import ExecutionRecord
from tamio.preparation.models import ActionStatus, ActionType, PreparedAction
from tests.api.conftest import Api, Business, api_settings, assert_problem, make_action
from tests.service.execution_factories import Mailbox, free_port

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox(free_port()) as box:
        yield box


@pytest.fixture
def settings(db_url: str, mailbox: Mailbox) -> Settings:
    return api_settings(db_url, smtp_host="127.0.0.1", smtp_port=mailbox.port)


async def test_the_queue_lists_actions_with_their_options_and_links(api: Api, business: Business) -> None:
    reply = await api.get("/pipeline/actions", token=business.viewer)
    assert reply.status == 200, reply.text
    actions = {a["id"]: a for a in reply.json()["actions"]}
    assert set(actions) == {business.action_id, business.big_action_id}
    small = actions[business.action_id]
    assert [o["id"] for o in small["options"]] == business.option_ids
    assert small["options"][0]["amount"] == "800.00" and small["options"][0]["composite_risk"] == "0.15"
    assert small["links"] == actions[business.big_action_id]["links"]
    assert small["links"][0]["link_type"] == "sequence" and small["links"][0]["target_action_id"] == business.big_action_id

    only = await api.get("/pipeline/actions", token=business.viewer, params={"status": "pending", "type": "invoice_follow_up"})
    assert [a["id"] for a in only.json()["actions"]] == [business.action_id]
    none = await api.get("/pipeline/actions", token=business.viewer, params={"status": "skipped"})
    assert none.json()["actions"] == []
    assert_problem(await api.get("/pipeline/actions", token=business.viewer, params={"status": "maybe"}), 422)
    one = await api.get(f"/pipeline/actions/{business.action_id}", token=business.viewer)
    assert one.json() == small


async def test_approving_carries_the_action_out_with_the_edited_draft(api: Api, business: Business, mailbox: Mailbox) -> None:
    reply = await api.post(
        f"/pipeline/actions/{business.action_id}/approve", token=business.approver,
        json={"option_id": business.option_ids[1], "edited_subject": "Invoice 1042, now 16 days late"},
    )
    assert reply.status == 200, reply.text
    decision = reply.json()
    assert decision["outcome"] == "approved" and decision["decided_by"] == "@maria"
    assert decision["decided_by_member_id"] == business.member_ids["approver"]
    assert decision["execution"]["status"] == "executed", decision
    assert [str(m["Subject"]) for m in mailbox.to("ap@acme.example")] == ["Invoice 1042, now 16 days late"]

    again = await api.post(f"/pipeline/actions/{business.action_id}/approve", token=business.second_approver,
                           json={"option_id": business.option_ids[0]})
    problem = assert_problem(again, 409)
    assert "@maria already approved this" in str(problem["detail"])
    action = (await api.get(f"/pipeline/actions/{business.action_id}", token=business.viewer)).json()
    assert action["status"] == "executed" and action["chosen_option_id"] == business.option_ids[1]
    assert len(mailbox.messages) == 1


async def test_dual_control_needs_a_second_different_approver_of_the_same_option(api: Api, business: Business, mailbox: Mailbox) -> None:
    path = f"/pipeline/actions/{business.big_action_id}/approve"
    first = await api.post(path, token=business.approver, json={"option_id": business.big_option_id})
    assert first.status == 200, first.text
    assert first.json()["outcome"] == "awaiting_second_approval" and first.json()["execution"] is None
    assert (first.json()["approvals_given"], first.json()["approvals_required"]) == (1, 2)
    assert_problem(await api.post(path, token=business.approver, json={"option_id": business.big_option_id}), 409)
    other_option = (await api.get(f"/pipeline/actions/{business.big_action_id}", token=business.viewer)).json()["options"][1]["id"]
    assert_problem(await api.post(path, token=business.second_approver, json={"option_id": other_option}), 409)
    second = await api.post(path, token=business.second_approver, json={"option_id": business.big_option_id})
    assert second.status == 200, second.text
    assert second.json()["outcome"] == "approved" and second.json()["approvals_given"] == 2
    assert second.json()["execution"]["status"] == "executed"


async def test_two_simultaneous_approvals_have_one_winner(api: Api, business: Business, mailbox: Mailbox) -> None:
    path = f"/pipeline/actions/{business.action_id}/approve"
    replies = await asyncio.gather(
        api.post(path, token=business.approver, json={"option_id": business.option_ids[0]}),
        api.post(path, token=business.second_approver, json={"option_id": business.option_ids[1]}),
        api.post(path, token=business.admin, json={"option_id": business.option_ids[0]}),
    )
    assert sorted(r.status for r in replies) == [200, 409, 409], [r.text for r in replies]
    async with api.sessions() as db:
        approved = (await db.execute(select(func.count()).select_from(ExecutionRecord).where(
            ExecutionRecord.action_id == business.action_id, ExecutionRecord.event == "approved"))).scalar_one()
    assert approved == 1 and len(mailbox.messages) == 1


async def test_skipping_records_who_and_why(api: Api, business: Business) -> None:
    reply = await api.post(f"/pipeline/actions/{business.action_id}/skip", token=business.approver, json={"reason": "paid by phone"})
    assert reply.status == 200, reply.text
    assert reply.json()["outcome"] == "skipped" and "paid by phone" in reply.json()["message"]
    async with api.sessions() as db:
        action = await db.get(PreparedAction, business.action_id)
        assert action is not None and action.status == ActionStatus.SKIPPED
    late = await api.post(f"/pipeline/actions/{business.action_id}/approve", token=business.admin, json={"option_id": business.option_ids[0]})
    assert "skipped" in str(assert_problem(late, 409)["detail"])


async def test_an_option_of_another_action_is_not_found(api: Api, business: Business) -> None:
    reply = await api.post(f"/pipeline/actions/{business.action_id}/approve", token=business.approver,
                           json={"option_id": business.big_option_id})
    assert_problem(reply, 404)
    missing = await api.post("/pipeline/actions/act_missing/approve", token=business.approver, json={"option_id": business.option_ids[0]})
    assert_problem(missing, 404)
    no_option = await api.post(f"/pipeline/actions/{business.action_id}/approve", token=business.approver, json={})
    assert "option_id" in [e["field"] for e in assert_problem(no_option, 422)["errors"]]  # type: ignore[union-attr]


async def test_running_the_pipeline_and_its_health(api: Api, business: Business) -> None:
    targeted = await api.post("/pipeline/run", token=business.approver,
                              json={"mode": "targeted", "detection_types": ["late_payment", "buffer_breach"], "skip_preparation": True})
    assert targeted.status == 200, targeted.text
    result = targeted.json()
    assert result["user_id"] == business.account_id and result["mode"] == "targeted" and result["actions_prepared"] == 0
    api.clock.advance(timedelta(minutes=1))
    critical = await api.post("/pipeline/run-critical", token=business.approver)
    assert critical.status == 200, critical.text
    assert critical.json()["mode"] == "critical"
    api.clock.advance(timedelta(minutes=1))
    full = await api.post("/pipeline/run", token=business.admin)
    assert full.status == 200 and full.json()["mode"] == "full"

    health = (await api.get("/pipeline/health", token=business.viewer)).json()
    assert [r["mode"] for r in health["last_runs"]] == ["full", "critical", "targeted"]
    assert health["runs_considered"] == 3 and all(r["trigger"] == "api" for r in health["last_runs"])
    assert health["error_count"] == sum(r["error_count"] for r in health["last_runs"])
    assert health["max_total_duration_ms"] == max(r["total_duration_ms"] for r in health["last_runs"])
    assert set(health["outbox"]) == {"pending", "sending", "dead", "oldest_pending_at"}
    limited = (await api.get("/pipeline/health", token=business.viewer, params={"limit": "1"})).json()
    assert limited["runs_considered"] == 1


@pytest.mark.parametrize(
    "body",
    [{"mode": "targeted"}, {"mode": "full", "detection_types": ["late_payment"]}, {"mode": "sometimes"},
     {"detection_types": ["not_a_type"], "mode": "targeted"}, {"skip_preparation": "yes"}],
)
async def test_bad_pipeline_configs_are_422(api: Api, business: Business, body: dict[str, object]) -> None:
    assert_problem(await api.post("/pipeline/run", token=business.approver, json=body), 422)


async def test_payroll_actions_need_an_admin_as_in_slack(api: Api, business: Business) -> None:
    async with api.sessions() as db, db.begin():
        account = await db.get(Account, business.account_id)
        assert account is not None
        action, options = await make_action(db, account, title="Payroll on Friday", amount="900", kind=ActionType.PAYROLL_CONFIRMATION)
    path = f"/pipeline/actions/{action.id}/approve"
    denied = await api.post(path, token=business.approver, json={"option_id": options[0].id})
    assert "admin" in str(assert_problem(denied, 403)["detail"]).lower()
    approved = await api.post(path, token=business.admin, json={"option_id": options[0].id})
    assert approved.status == 200 and approved.json()["outcome"] == "approved"
