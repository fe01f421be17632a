"""Relationships between the prepared actions of a run (design: "Linked Actions").

- ``resolves``: carrying out one action's top option lifts the forecast's low point above the
  buffer, so it also answers a buffer-breach or runway action (a credit-line draw for payroll
  resolves the buffer breach).
- ``conflicts``: two actions would do opposite things to the same vendor (delay it and pay it).
- ``sequence``: one must come before the other (the payroll contingency plan before the payroll
  confirmation; money raised before the payment it funds).

Links are values here; the engine stores them as LinkedAction rows with a group id per connected
set of actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

CASH_LEVEL = ("buffer_breach", "runway_threshold")
FUNDING_KINDS = ("credit_draw", "transfer")
PAYING_KINDS = ("queue_payments", "record_statutory_payment")


@dataclass(frozen=True)
class LinkCandidate:
    """What linking needs to know of one action."""

    key: str
    detection_type: str
    action_type: str
    top_kind: str
    top_lowest: Decimal | None
    delayed_vendors: frozenset[str]
    paid_vendors: frozenset[str]
    funds: bool
    payroll: bool


@dataclass(frozen=True)
class Link:
    source: str
    target: str
    link_type: str
    reason: str


def find_links(actions: Sequence[LinkCandidate], *, buffer: Decimal, base_lowest: Decimal) -> list[Link]:
    links: list[Link] = []
    for a in actions:
        for b in actions:
            if a.key == b.key:
                continue
            if (
                b.detection_type in CASH_LEVEL
                and a.detection_type not in CASH_LEVEL
                and base_lowest < buffer
                and a.top_lowest is not None
                and a.top_lowest >= buffer
            ):
                links.append(Link(a.key, b.key, "resolves", "its recommended option lifts the forecast's low point above the buffer"))
            if a.key < b.key and (a.delayed_vendors & b.paid_vendors or b.delayed_vendors & a.paid_vendors):
                links.append(Link(a.key, b.key, "conflicts", "one delays a payment the other makes"))
            if a.action_type == "payroll_contingency" and b.action_type == "payroll_confirmation":
                links.append(Link(a.key, b.key, "sequence", "find the money first, then confirm payroll"))
            elif a.funds and b.top_kind in PAYING_KINDS and not b.funds:
                links.append(Link(a.key, b.key, "sequence", "raise the cash before making the payment"))
    return links


def groups(keys: Sequence[str], links: Sequence[Link]) -> dict[str, str]:
    """Connected sets of linked actions: key -> the smallest key of its set."""
    parent = {k: k for k in keys}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for link in links:
        if link.source in parent and link.target in parent:
            ra, rb = find(link.source), find(link.target)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {k: find(k) for k in keys}
