"""``/api/v1/automation/rules`` and the counterparties' histories: what may happen alone, and what happened.

Rules are read by anyone and changed by admins through ``tamio.execution.automation.update_rule``,
the same function (with its audit) as ``tamio actions rules set`` and ``/tamio rules set``; the
payroll rule is locked (409). A history lists a client's or vendor's chases, delays and payments,
with who decided, when and what was sent (``tamio.execution.history``), as ``tamio history`` does.
"""

from __future__ import annotations

from tamio.accounts.permissions import Operation
from tamio.api.registry import Call, Router
from tamio.api.schemas.automation import (
    HistoryOut,
    HistoryQuery,
    RuleList,
    RuleOut,
    RuleUpdate,
    history_out,
    rule_out,
)
from tamio.errors import NotFound
from tamio.execution import automation, policy
from tamio.execution.history import counterparty_history, summary_line

router = Router("Automation and history")


async def _rule(call: Call, name: str) -> RuleOut:
    rule = await automation.get_rule(call.db, account_id=call.account.id, action_type=name)
    if rule is None:
        raise NotFound(f"There is no automation rule `{name}`.", hint=f"Rules: {', '.join(sorted(policy.RULE_NAMES))}.")
    return rule_out(rule)


@router.route("GET", "/automation/rules", response=RuleList, summary="List the automation rules")
async def list_rules(call: Call) -> RuleList:
    """The account's rules (the design document's table): which actions may run without waiting for a person."""
    return RuleList(rules=[rule_out(r) for r in await automation.list_rules(call.db, account_id=call.account.id)])


@router.route("GET", "/automation/rules/{rule}", response=RuleOut, summary="Get an automation rule")
async def get_rule(call: Call) -> RuleOut:
    """One rule, by its name or an action type it governs (``payment_reminder`` is the ``invoice_follow_up`` rule)."""
    return await _rule(call, call.path["rule"])


@router.route(
    "PATCH", "/automation/rules/{rule}", body=RuleUpdate, response=RuleOut, permission=Operation.CHANGE_SETTINGS, errors=(404, 409),
    summary="Change an automation rule",
)
async def change_rule(call: Call) -> RuleOut:
    """Admins only; audited. The payroll rule is locked (409): payroll always waits for an admin, and
    nothing touching payroll or tax runs by itself whatever a rule says."""
    await automation.update_rule(call.db, account=call.account, member=call.member, action_type=call.path["rule"], now=call.now,
                                 **call.body(RuleUpdate).changes())
    return await _rule(call, call.path["rule"])


async def _history(call: Call, counterparty_id: str) -> HistoryOut:
    history = await counterparty_history(call.db, account=call.account, counterparty_id=counterparty_id,
                                         limit=call.query(HistoryQuery).limit)
    return history_out(history, summary_line(history))


@router.route("GET", "/data/clients/{client_id}/history", query=HistoryQuery, response=HistoryOut, summary="Get a client's history")
async def client_history(call: Call) -> HistoryOut:
    """Chases and payments, newest first: who decided, when, and what was sent."""
    found = await _history(call, call.path["client_id"])
    if found.counterparty_type != "client":
        raise NotFound(f"There is no client `{call.path['client_id']}` in this account.")
    return found


@router.route(
    "GET", "/data/expense-buckets/{expense_id}/history", query=HistoryQuery, response=HistoryOut, summary="Get a vendor's history",
)
async def expense_history(call: Call) -> HistoryOut:
    """Delays and payments, newest first: who decided, when, and what was sent."""
    found = await _history(call, call.path["expense_id"])
    if found.counterparty_type != "expense_bucket":
        raise NotFound(f"There is no expense bucket `{call.path['expense_id']}` in this account.")
    return found
