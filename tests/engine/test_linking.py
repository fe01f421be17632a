"""Linking looks only at the pairs of actions that can be linked (issue 20 item 2: a run of hundreds
of actions has a few links each): the same links, in the same order, as looking at every pair.

And "raise the cash before making the payment" says something true: on bench/pipeline.py's business
4,928 of 4,940 links were every surplus transfer (money moved OUT of operating) before every payment.
A draw or a transfer into operating comes before the payments due up to the day it is raised for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tamio.preparation.linking import (
    CASH_LEVEL,
    CROWD,
    PAYING_KINDS,
    LinkCandidate,
    _links_between,
    candidate_of,
    crowds,
    find_links,
    groups,
    raised_for,
)

few = st.frozensets(st.sampled_from(["ven_a", "ven_b", "ven_c"]), max_size=2)
candidates = st.builds(
    LinkCandidate,
    key=st.sampled_from([f"act_{n}" for n in range(12)]),
    detection_type=st.sampled_from([*CASH_LEVEL, "late_payment", "payroll_safety", "vendor_terms_expiring"]),
    action_type=st.sampled_from(["payroll_contingency", "payroll_confirmation", "payment_batch", "invoice_follow_up"]),
    top_kind=st.sampled_from([*PAYING_KINDS, "credit_draw", "transfer", "send_email", "delay_payment"]),
    top_lowest=st.one_of(st.none(), st.integers(-5000, 15000).map(Decimal)),
    delayed_vendors=few,
    paid_vendors=few,
    funds=st.booleans(),
    payroll=st.booleans(),
    touches=st.frozensets(st.sampled_from(["payment:sch_1", "payment:sch_2", "credit:ca_1", "invoice:sch_3"]), max_size=2),
    raises_until=st.one_of(st.none(), st.integers(0, 20).map(lambda n: date(2026, 12, 7) + timedelta(days=n))),
    pays_on=st.one_of(st.none(), st.integers(-5, 25).map(lambda n: date(2026, 12, 7) + timedelta(days=n))),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(candidates, max_size=14), st.integers(0, 10000).map(Decimal), st.integers(-2000, 12000).map(Decimal))
def test_links_are_those_of_every_pair(actions: list[LinkCandidate], buffer: Decimal, base_lowest: Decimal) -> None:
    crowded, near = crowds(actions)
    raised = raised_for(actions)
    every_pair = [link for a in actions for b in actions
                  for link in _links_between(a, b, buffer=buffer, base_lowest=base_lowest, crowded=crowded, near=near, raised=raised)]
    assert find_links(actions, buffer=buffer, base_lowest=base_lowest) == every_pair


TODAY = date(2026, 12, 7)


@dataclass
class Option:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    counterparty_id: str | None = None
    forecast_lowest_balance: Decimal | None = None


def pay(key: str, due: date, vendor: str) -> LinkCandidate:
    return candidate_of(key, "vendor_terms_expiring", "payment_batch",
                        [Option("queue_payments", {"schedule_ids": [f"sch_{key}"]}, counterparty_id=vendor)], deadline=due)


def sequence(actions: list[LinkCandidate]) -> set[tuple[str, str]]:
    return {(link.source, link.target) for link in find_links(actions, buffer=Decimal(0), base_lowest=Decimal(0)) if link.link_type == "sequence"}


def test_a_draw_comes_before_the_payments_due_up_to_the_low_point_it_is_raised_for() -> None:
    low_week = date(2026, 12, 14)
    draw = candidate_of("act_draw", "buffer_breach", "payment_prioritization", [
        Option("credit_draw", {"cash_account_id": "ca_line", "amount": "5000", "funds_through": (low_week + timedelta(days=6)).isoformat()}),
    ], deadline=low_week)
    payments = [pay("act_p1", TODAY, "ven_1"), pay("act_p2", date(2026, 12, 20), "ven_2"), pay("act_p3", date(2026, 12, 21), "ven_3")]
    assert sequence([draw, *payments]) == {("act_draw", "act_p1"), ("act_draw", "act_p2")}


def test_a_payroll_plan_raises_cash_for_the_payments_up_to_payroll_day() -> None:
    plan = candidate_of("act_plan", "payroll_safety", "payroll_contingency", [
        Option("confirm_plan", {"payroll_schedule_id": "sch_pay", "steps": [
            {"kind": "transfer", "from_cash_account_id": "ca_sav", "to_cash_account_id": "ca_op", "funds_through": "2026-12-15"}]}),
    ], deadline=date(2026, 12, 15))
    assert sequence([plan, pay("act_p1", date(2026, 12, 15), "ven_1"), pay("act_p2", date(2026, 12, 16), "ven_2")]) == {("act_plan", "act_p1")}


def test_moving_surplus_out_of_operating_raises_no_cash_for_a_payment() -> None:
    surplus = candidate_of("act_surplus", "unexpected_revenue", "excess_cash_allocation", [
        Option("transfer", {"from_cash_account_id": "ca_op", "to_cash_account_id": "ca_sav", "amount": "900"}),
    ])
    runway = candidate_of("act_runway", "runway_threshold", "credit_line_draw", [Option("credit_draw", {"cash_account_id": "ca_line"})])
    assert sequence([surplus, runway, pay("act_p1", TODAY, "ven_1")]) == set()


def test_many_actions_on_one_payment_are_one_group_in_as_many_links_as_actions() -> None:
    """At 100,000 imported rows 2,100 payroll plans delayed the same payments: 2.1 million links."""
    plans = [candidate_of(f"act_{n:04d}", "payroll_safety", "payroll_contingency",
                          [Option("delay_payment", {"moves": [{"schedule_id": "sch_rent", "vendor_id": "ven_rent"}]})])
             for n in range(40)]
    few = plans[:5]
    assert len([k for k in find_links(few, buffer=Decimal(0), base_lowest=Decimal(0)) if k.link_type == "conflicts"]) == 10  # every pair
    links = [k for k in find_links(plans, buffer=Decimal(0), base_lowest=Decimal(0)) if k.link_type == "conflicts"]
    assert [(k.source, k.target) for k in links] == [(f"act_{n:04d}", f"act_{n + 1:04d}") for n in range(39)]
    assert len(set(groups([p.key for p in plans], links).values())) == 1


def test_cash_raised_for_many_payments_comes_before_the_first_ones_due() -> None:
    """After a 10,000-row import, 240 payroll plans each came before ~2,760 payments: 662,000 links a
    refresh, and cards naming thousands of payments. Each now comes before the first ``CROWD`` due."""
    plans = [candidate_of(f"act_plan{n:03d}", "payroll_safety", "payroll_contingency", [
        Option("confirm_plan", {"payroll_schedule_id": f"sch_pay{n}", "steps": [
            {"kind": "transfer", "from_cash_account_id": "ca_sav", "to_cash_account_id": "ca_op", "funds_through": "2026-12-31"}]}),
    ], deadline=date(2026, 12, 31)) for n in range(30)]
    payments = [pay(f"act_p{n:03d}", TODAY + timedelta(days=n % 20), f"ven_{n}") for n in range(200)]
    first = sorted(payments, key=lambda p: (p.pays_on, p.key))[:CROWD]
    linked = sequence([*plans, *payments])
    assert linked == {(plan.key, p.key) for plan in plans for p in first}
    few = payments[:3]  # fewer than CROWD due by its day: before every one, as before
    assert sequence([plans[0], *few]) == {(plans[0].key, p.key) for p in few}
