"""A token sees only its own account: every route, called with account B's admin token and account
A's ids, is 404, and the database is exactly as it was. Runs on SQLite and PostgreSQL.

Every route of the registry must be listed here, either with the requests that carry A's ids or
as one that takes no account's id at all (and why), so a new route cannot skip the walk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tamio.api import all_routes
from tests.api.conftest import Api, Business, assert_problem, dump_database

ID = re.compile(r"\b[a-z]+_[0-9a-f]{32}\b")


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None


Probes = Callable[[Business], list[Probe]]

WALK: dict[str, Probes] = {
    "get_action": lambda a: [Probe("GET", f"/pipeline/actions/{a.action_id}")],
    "delay_agreed": lambda a: [Probe("POST", f"/pipeline/actions/{a.action_id}/delay-agreed")],
    "approve_action": lambda a: [Probe("POST", f"/pipeline/actions/{a.action_id}/approve", {"option_id": a.option_ids[0]}),
                                 Probe("POST", f"/pipeline/actions/{a.big_action_id}/approve", {"option_id": a.big_option_id})],
    "skip_action": lambda a: [Probe("POST", f"/pipeline/actions/{a.action_id}/skip", {"reason": "not mine"})],
    "retry_action": lambda a: [Probe("POST", f"/pipeline/actions/{a.action_id}/retry")],
    "edit_action_draft": lambda a: [Probe("POST", f"/pipeline/actions/{a.action_id}/draft", {"subject": "Pay", "body": "Now."}),
                                    Probe("POST", f"/pipeline/actions/{a.action_id}/draft",
                                          {"option_id": a.option_ids[0], "subject": "Pay", "body": "Now."})],
    "client_history": lambda a: [Probe("GET", f"/data/clients/{a.client_id}/history")],
    "expense_history": lambda a: [Probe("GET", f"/data/expense-buckets/{a.expense_id}/history")],
    "get_user_config": lambda a: [Probe("GET", f"/data/user-config/{a.account_id}")],
    "update_user_config": lambda a: [Probe("PUT", f"/data/user-config/{a.account_id}", {"runway_buffer_months": 2})],
    "delete_user_config": lambda a: [Probe("DELETE", f"/data/user-config/{a.account_id}")],
    "create_user_config": lambda a: [Probe("POST", "/data/user-config/", {"user_id": a.account_id})],
    "create_user_config_at": lambda a: [Probe("POST", f"/data/user-config/{a.account_id}", {"runway_buffer_months": 2})],
    "get_client": lambda a: [Probe("GET", f"/data/clients/{a.client_id}")],
    "update_client": lambda a: [Probe("PATCH", f"/data/clients/{a.client_id}", {"name": "Hijacked", "status": "ended"})],
    "get_expense": lambda a: [Probe("GET", f"/data/expense-buckets/{a.expense_id}")],
    "update_expense": lambda a: [Probe("PATCH", f"/data/expense-buckets/{a.expense_id}", {"status": "ended"})],
    "list_obligations": lambda a: [Probe("GET", "/data/obligations", params={"client_id": a.client_id}),
                                   Probe("GET", "/data/obligations", params={"expense_bucket_id": a.expense_id})],
    "get_obligation": lambda a: [Probe("GET", f"/data/obligations/{a.client_obligation_id}")],
    "list_obligation_schedules": lambda a: [Probe("GET", f"/data/obligations/{a.client_obligation_id}/schedules")],
    "cancel_obligation": lambda a: [Probe("POST", f"/data/obligations/{a.expense_obligation_id}/cancel")],
    "list_schedules": lambda a: [Probe("GET", "/data/schedules", params={"obligation_id": a.client_obligation_id})],
    "get_schedule": lambda a: [Probe("GET", f"/data/schedules/{a.schedule_id}")],
    "list_payments": lambda a: [Probe("GET", "/data/payments", params={"client_id": a.client_id}),
                                Probe("GET", "/data/payments", params={"expense_bucket_id": a.expense_id})],
    "get_payment": lambda a: [Probe("GET", f"/data/payments/{a.payment_id}")],
    "create_payment": lambda a: [
        Probe("POST", "/data/payments", {"amount": "4000", "schedule_id": a.schedule_id}),
        Probe("POST", "/data/payments", {"amount": "4000", "client_id": a.client_id}),
        Probe("POST", "/data/payments", {"amount": "12000", "expense_bucket_id": a.expense_id}),
        Probe("POST", "/data/payments", {"amount": "5", "direction": "outflow", "cash_account_id": a.cash_account_id}),
    ],
    "get_cash": lambda a: [Probe("GET", f"/data/cash-accounts/{a.cash_account_id}")],
    "set_cash_balance": lambda a: [Probe("PUT", f"/data/cash-accounts/{a.cash_account_id}/balance", {"balance": "1"})],
    "get_saved_scenario": lambda a: [Probe("GET", f"/data/scenarios/{a.extra['scenario_id']}")],
    "replace_scenario": lambda a: [Probe("PUT", f"/data/scenarios/{a.extra['scenario_id']}", {"name": "Mine", "what_if": ["once in 5 on today"]})],
    "delete_saved_scenario": lambda a: [Probe("DELETE", f"/data/scenarios/{a.extra['scenario_id']}")],
}

# Routes that name no account's ids: they act on the caller's own account (or, for exchange rates,
# on the server's shared rates). Their isolation is checked below by what B's reads return.
NO_ACCOUNT_IDS = {
    "run_pipeline": "runs the caller's own account",
    "run_critical": "runs the caller's own account",
    "pipeline_health": "the caller's runs and outbox",
    "list_actions": "the caller's actions",
    "list_clients": "the caller's clients",
    "create_client": "creates in the caller's account",
    "list_expenses": "the caller's expense buckets",
    "create_expense": "creates in the caller's account",
    "add_an_obligation": "creates in the caller's account (a client or vendor is found by name among the caller's own)",
    "list_cash": "the caller's cash accounts",
    "create_cash": "creates in the caller's account",
    "list_exchange_rates": "rates are shared by the server",
    "add_exchange_rate": "rates are shared by the server (admins only)",
    "import_ecb_rates": "rates are shared by the server (admins only)",
    "get_forecast": "the caller's forecast",
    "evaluate_scenario": "a what-if on the caller's forecast",
    "list_saved_scenarios": "the caller's scenarios",
    "create_scenario": "saves in the caller's account",
    "list_rules": "the caller's automation rules",
    "get_rule": "one of the caller's automation rules, by name",
    "change_rule": "changes one of the caller's automation rules, by name",
    "list_detection": "the caller's detection rules",
    "get_detection": "one of the caller's detection rules, by type",
    "change_detection": "changes one of the caller's detection rules, by type",
}

IGNORED = frozenset({("api_tokens", "last_used_at")})


def test_every_route_is_in_the_walk() -> None:
    routes = {route.operation_id for route in all_routes()}
    assert set(WALK) | set(NO_ACCOUNT_IDS) == routes
    assert not set(WALK) & set(NO_ACCOUNT_IDS)


async def test_account_b_gets_404_for_every_id_of_account_a_and_nothing_changes(
    api: Api, business: Business, other_business: Business
) -> None:
    a, b = business, other_business
    before = await dump_database(api.sessions, ignore=IGNORED)
    assert before["clients"] and before["prepared_actions"]
    walked = 0
    for operation, probes in WALK.items():
        for probe in probes(a):
            reply = await api.call(probe.method, probe.path, token=b.admin, json=probe.json, params=probe.params)
            assert_problem(reply, 404)
            # Nothing of A's beyond the id the caller sent: no names, amounts or other ids. The ids sent
            # are taken out first: a random id may hold the digits 5000 (obl_4f0195000...).
            shown = reply.text
            for sent in set(ID.findall(json.dumps([probe.path, probe.json, probe.params]))):
                shown = shown.replace(sent, "<id>")
            assert "Acme" not in shown and "5000" not in shown, (operation, reply.text)
            walked += 1
    assert walked >= len(WALK)
    assert await dump_database(api.sessions, ignore=IGNORED) == before
    # The same requests with A's own token find what B could not: the 404s were about ownership.
    for operation in ("get_action", "get_client", "get_schedule", "get_payment", "get_cash", "get_user_config", "get_saved_scenario"):
        for probe in WALK[operation](a):
            assert (await api.call(probe.method, probe.path, token=a.viewer)).status == 200, operation


async def test_account_b_reads_only_its_own_rows(api: Api, business: Business, other_business: Business) -> None:
    a, b = business, other_business
    a_ids = [a.account_id, a.client_id, a.expense_id, a.cash_account_id, a.client_obligation_id, a.expense_obligation_id,
             a.schedule_id, a.payment_id, a.action_id, a.big_action_id, *a.option_ids, a.extra["scenario_id"]]
    reads = ["/pipeline/actions", "/pipeline/health", "/data/clients", "/data/expense-buckets", "/data/obligations",
             "/data/schedules", "/data/payments", "/data/cash-accounts", "/forecast", f"/data/user-config/{b.account_id}",
             "/automation/rules", "/automation/rules/payment_batch", f"/data/clients/{b.client_id}/history", "/data/scenarios"]
    for path in reads:
        reply = await api.get(path, token=b.viewer)
        assert reply.status == 200, (path, reply.text)
        leaked = [i for i in a_ids if i in reply.text]
        assert leaked == [], (path, leaked)
    b_clients = (await api.get("/data/clients", token=b.viewer)).json()["clients"]
    assert [c["id"] for c in b_clients] == [b.client_id]
    created = await api.post("/data/clients", token=b.approver, json={"name": "Only B's"})
    assert created.status == 201
    assert "Only B's" not in (await api.get("/data/clients", token=a.viewer)).text
