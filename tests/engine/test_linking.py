"""Linking looks only at the pairs an index puts together; the links are every pair's, in the same order."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tamio.preparation.linking import LinkCandidate, _pair_links, find_links

VENDORS = st.frozensets(st.sampled_from(["exp_a", "exp_b", "exp_c"]), max_size=2)
THINGS = st.frozensets(st.sampled_from(["payment:s1", "payment:s2", "credit:c1", "invoice:s3"]), max_size=2)
candidates = st.builds(
    LinkCandidate,
    key=st.sampled_from([f"act_{i}" for i in range(12)]),  # repeats too: a pair of one key never links
    detection_type=st.sampled_from(["buffer_breach", "runway_threshold", "payroll_safety", "vendor_terms_expiring", "late_payment"]),
    action_type=st.sampled_from(["payroll_contingency", "payroll_confirmation", "payment_batch", "statutory_payment", "vendor_delay"]),
    top_kind=st.sampled_from(["credit_draw", "transfer", "queue_payments", "record_statutory_payment", "delay_payment", "send_email"]),
    top_lowest=st.none() | st.integers(-500, 500).map(Decimal),
    delayed_vendors=VENDORS,
    paid_vendors=VENDORS,
    funds=st.booleans(),
    payroll=st.booleans(),
    touches=THINGS,
)


def every_pair(actions: list[LinkCandidate], buffer: Decimal, base_lowest: Decimal) -> list:
    return [link for a in actions for b in actions for link in _pair_links(a, b, buffer=buffer, base_lowest=base_lowest)]


@settings(max_examples=300, deadline=None)
@given(st.lists(candidates, max_size=14), st.integers(-100, 100).map(Decimal), st.integers(-300, 300).map(Decimal))
def test_the_links_are_every_pairs_in_the_same_order(actions: list[LinkCandidate], buffer: Decimal, base_lowest: Decimal) -> None:
    assert find_links(actions, buffer=buffer, base_lowest=base_lowest) == every_pair(actions, buffer, base_lowest)


def test_a_shared_credit_line_links_every_pair_once() -> None:
    actions = [LinkCandidate(key=f"act_{i}", detection_type="payroll_safety", action_type="payroll_contingency", top_kind="transfer",
                             top_lowest=None, delayed_vendors=frozenset(), paid_vendors=frozenset(), funds=False, payroll=True,
                             touches=frozenset({"credit:c1"})) for i in range(4)]
    links = find_links(actions, buffer=Decimal(0), base_lowest=Decimal(0))
    assert [(link.source, link.target, link.link_type) for link in links] == [
        (f"act_{i}", f"act_{j}", "conflicts") for i in range(4) for j in range(i + 1, 4)
    ]
