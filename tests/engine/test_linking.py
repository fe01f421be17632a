"""Linking looks only at the pairs of actions that can be linked (issue 20 item 2: a run of hundreds
of actions has a few links each): the same links, in the same order, as looking at every pair."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tamio.preparation.linking import CASH_LEVEL, PAYING_KINDS, LinkCandidate, _links_between, find_links

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
)


@settings(max_examples=300, deadline=None)
@given(st.lists(candidates, max_size=14), st.integers(0, 10000).map(Decimal), st.integers(-2000, 12000).map(Decimal))
def test_links_are_those_of_every_pair(actions: list[LinkCandidate], buffer: Decimal, base_lowest: Decimal) -> None:
    every_pair = [link for a in actions for b in actions for link in _links_between(a, b, buffer=buffer, base_lowest=base_lowest)]
    assert find_links(actions, buffer=buffer, base_lowest=base_lowest) == every_pair
