"""Relationships between the prepared actions of a run (design: "Linked Actions").

- ``resolves``: carrying out one action's top option lifts the forecast's low point above the
  buffer, so it also answers a buffer-breach or runway action (a credit-line draw for payroll
  resolves the buffer breach).
- ``conflicts``: two actions would do opposite things to the same vendor (delay it and pay it), or
  would both act on the same thing: the same payment (two delays of Cloud Host's $2,500), the same
  credit line (two draws), the same invoice (two chases). Carrying out one supersedes or
  re-prepares the others. When more than ``CROWD`` actions act on one thing, each is linked to its
  neighbours only (one group still; see ``crowds``).
- ``sequence``: one must come before the other (the payroll contingency plan before the payroll
  confirmation; money raised before the payments it is raised for). A credit draw or a transfer
  into the operating account names the last day whose payments it is raised for (``funds_through``
  in its params: the end of the week of the low point for a buffer breach, payroll day for a
  payroll plan); it comes before the paying actions whose payment falls due on or before that day,
  the first ``CROWD`` of them by due day (a card names the payments the money is needed for first;
  240 payroll plans before 2,760 payments each were 662,000 links a refresh, see ``raised_for``).
  The money lands when the action is carried out, before any payment still to be made. A transfer
  out of operating (surplus to savings, repaying the line) and a draw that names no day (runway,
  a tax plan that pays its own tax) raise cash for no other action's payment.

Links are values here; the engine stores them as LinkedAction rows with a group id per connected
set of actions.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

CASH_LEVEL = ("buffer_breach", "runway_threshold")
FUNDING_KINDS = ("credit_draw", "transfer")
PAYING_KINDS = ("queue_payments", "record_statutory_payment")
CROWD = 8  # more actions than this acting on one thing: each is linked to its neighbours only (``crowds``)


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
    touches: frozenset[str] = frozenset()  # payments, credit lines and invoices any of its options acts on
    raises_until: date | None = None  # its top option raises cash for the payments due up to this day
    pays_on: date | None = None  # the day the payment its top option makes falls due


class OptionLike(Protocol):
    kind: str
    params: Any
    counterparty_id: str | None
    forecast_lowest_balance: Decimal | None


def touched_things(options: Iterable[OptionLike]) -> frozenset[str]:
    """The payments an option moves or makes, the credit lines it draws on and the invoices it chases."""
    found: set[str] = set()
    for option in options:
        params = dict(option.params or {})
        for step in [{"kind": option.kind, **params}, *(params.get("steps") or [])]:
            kind = step.get("kind")
            if kind == "delay_payment":
                found.update(f"payment:{m.get('schedule_id')}" for m in step.get("moves") or [])
                found.update(f"payment:{s}" for s in step.get("schedule_ids") or [])
            elif kind in PAYING_KINDS:
                found.update(f"payment:{s}" for s in step.get("schedule_ids") or [])
            elif kind == "credit_draw" and step.get("cash_account_id"):
                found.add(f"credit:{step['cash_account_id']}")
            elif kind == "send_email" and step.get("schedule_id"):
                found.add(f"invoice:{step['schedule_id']}")
    return frozenset(found)


def candidate_of(
    key: str, detection_type: str, action_type: str, options: Sequence[OptionLike], *, deadline: date | None = None
) -> LinkCandidate:
    """What linking needs of one action, from its ranked options and its deadline (a paying action's
    deadline is the day its payment falls due)."""
    top = options[0]
    top_params = dict(top.params or {})
    through = [
        date.fromisoformat(str(step["funds_through"]))
        for step in [{"kind": top.kind, **top_params}, *(top_params.get("steps") or [])]
        if step.get("kind") in FUNDING_KINDS and step.get("funds_through")
    ]
    delayed = {str(m.get("vendor_id")) for o in options if o.kind == "delay_payment" for m in (o.params or {}).get("moves", [])}
    paid = {o.counterparty_id for o in options if o.kind in PAYING_KINDS and o.counterparty_id}
    return LinkCandidate(
        key=key,
        detection_type=detection_type,
        action_type=action_type,
        top_kind=top.kind,
        top_lowest=top.forecast_lowest_balance,
        delayed_vendors=frozenset(delayed),
        paid_vendors=frozenset(paid),
        funds=top.kind in FUNDING_KINDS or any(step.get("kind") in FUNDING_KINDS for step in (top.params or {}).get("steps", [])),
        payroll=action_type.startswith("payroll"),
        touches=touched_things(options),
        raises_until=max(through, default=None),
        pays_on=deadline if top.kind in PAYING_KINDS else None,
    )


@dataclass(frozen=True)
class Link:
    source: str
    target: str
    link_type: str
    reason: str


def find_links(actions: Sequence[LinkCandidate], *, buffer: Decimal, base_lowest: Decimal) -> list[Link]:
    """Every link between two of ``actions``, in the order of the pairs (source, then target, as given).

    Only pairs that can be linked are looked at (found through what they act on, their kinds and
    their vendors): a run of hundreds of actions has a few links each, not every pair."""
    crowded, near = crowds(actions)
    raised = raised_for(actions)
    links: list[Link] = []
    for i, j in sorted(_pairs(actions, buffer=buffer, base_lowest=base_lowest, crowded=crowded, raised=raised)):
        links += _links_between(actions[i], actions[j], buffer=buffer, base_lowest=base_lowest, crowded=crowded, near=near,
                                raised=raised)
    return links


def raised_for(actions: Sequence[LinkCandidate]) -> dict[str, frozenset[str]]:
    """For each action that raises cash, the paying actions it comes before (by key): of the payments
    due by the day it raises the cash for, the first ``CROWD`` by due day (then key). The money is
    needed for those first; a card naming thousands would say nothing (and store as many links)."""
    paying = sorted({(day, a.key) for a in actions if _pays(a) and (day := a.pays_on) is not None})
    days = [day for day, _ in paying]
    found: dict[str, frozenset[str]] = {}
    for a in actions:
        if a.raises_until is None:
            continue
        keys: dict[str, None] = {}
        for _, key in paying[: bisect_right(days, a.raises_until)]:
            if key != a.key:
                keys[key] = None
                if len(keys) == CROWD:
                    break
        found[a.key] = found.get(a.key, frozenset()) | frozenset(keys)
    return found


def crowds(actions: Sequence[LinkCandidate]) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """The things more than ``CROWD`` actions act on, and among each one's actions the neighbours (by
    key). Those actions' "both act on the same ..." conflict is stored between neighbours only: a
    chain keeps them one linked group, as every pair would, in as many links as actions (2,100
    payroll plans delaying the same payments were 2.1 million links). Carrying one out still finds
    every other acting on the same thing (``tamio.execution.conflicts`` reads what options touch)."""
    keys_of: dict[str, set[str]] = {}
    for action in actions:
        for thing in action.touches:
            keys_of.setdefault(thing, set()).add(action.key)
    crowded = frozenset(thing for thing, keys in keys_of.items() if len(keys) > CROWD)
    near: set[tuple[str, str]] = set()
    for thing in crowded:
        keys = sorted(keys_of[thing])
        near.update(zip(keys, keys[1:], strict=False))
    return crowded, frozenset(near)


def _links_between(a: LinkCandidate, b: LinkCandidate, *, buffer: Decimal, base_lowest: Decimal,
                   crowded: frozenset[str] = frozenset(), near: frozenset[tuple[str, str]] = frozenset(),
                   raised: dict[str, frozenset[str]] | None = None) -> list[Link]:
    links: list[Link] = []
    if a.key == b.key:
        return links
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
    elif a.key < b.key and (shared := a.touches & b.touches) and (shared - crowded or (a.key, b.key) in near):
        links.append(Link(a.key, b.key, "conflicts", _shared(shared)))
    if a.action_type == "payroll_contingency" and b.action_type == "payroll_confirmation":
        links.append(Link(a.key, b.key, "sequence", "find the money first, then confirm payroll"))
    elif _raises_cash_for(a, b) and (raised is None or b.key in raised.get(a.key, ())):
        links.append(Link(a.key, b.key, "sequence", "raise the cash before making the payment"))
    return links


def _pairs(actions: Sequence[LinkCandidate], *, buffer: Decimal, base_lowest: Decimal, crowded: frozenset[str],
           raised: dict[str, frozenset[str]]) -> set[tuple[int, int]]:
    """The (source, target) positions ``_links_between`` may link: every pair of each rule's two sides (a
    draw with the paying actions it comes before, ``raised_for``; one that
    delays a vendor with one that pays it), and the pairs sharing a thing acted on — for a crowded
    thing, neighbours by key only (both ways; it decides which way)."""
    pairs: set[tuple[int, int]] = set()

    def every(sources: Iterable[int], targets: Iterable[int]) -> None:
        kept = list(targets)
        pairs.update((i, j) for i in sources for j in kept if i != j)

    positions = range(len(actions))
    if base_lowest < buffer:
        lifting = [i for i, a in enumerate(actions) if a.detection_type not in CASH_LEVEL and a.top_lowest is not None and a.top_lowest >= buffer]
        every(lifting, (j for j in positions if actions[j].detection_type in CASH_LEVEL))
    every((i for i in positions if actions[i].action_type == "payroll_contingency"),
          (j for j in positions if actions[j].action_type == "payroll_confirmation"))
    paying: dict[str, list[int]] = {}
    for j in positions:
        if _pays(actions[j]):
            paying.setdefault(actions[j].key, []).append(j)
    for i in positions:
        if actions[i].raises_until is not None:
            every([i], (j for key in raised.get(actions[i].key, ()) for j in paying[key]))
    delaying: dict[str, list[int]] = {}
    paying_vendor: dict[str, list[int]] = {}
    for i, action in enumerate(actions):
        for vendor in action.delayed_vendors:
            delaying.setdefault(vendor, []).append(i)
        for vendor in action.paid_vendors:
            paying_vendor.setdefault(vendor, []).append(i)
    for vendor, delayers in delaying.items():
        payers = paying_vendor.get(vendor, [])
        every(delayers, payers)
        every(payers, delayers)
    sharing: dict[str, list[int]] = {}
    for i, action in enumerate(actions):
        for thing in action.touches:
            sharing.setdefault(thing, []).append(i)
    for thing, together in sharing.items():
        if thing not in crowded:
            every(together, together)
            continue
        by_key: dict[str, list[int]] = {}
        for i in together:
            by_key.setdefault(actions[i].key, []).append(i)
        keys = sorted(by_key)
        for first, second in zip(keys, keys[1:], strict=False):
            every(by_key[first], by_key[second])
            every(by_key[second], by_key[first])
    return pairs


def _pays(b: LinkCandidate) -> bool:
    return b.pays_on is not None and b.top_kind in PAYING_KINDS and not b.funds


def _raises_cash_for(a: LinkCandidate, b: LinkCandidate) -> bool:
    """``a`` raises the cash that ``b``'s payment is made from: it falls due on or before the last day ``a`` raises it for."""
    return a.raises_until is not None and _pays(b) and b.pays_on is not None and b.pays_on <= a.raises_until


def _shared(things: frozenset[str]) -> str:
    kinds = {t.split(":", 1)[0] for t in things}
    names = [name for kind, name in (("payment", "payment"), ("credit", "credit line"), ("invoice", "invoice")) if kind in kinds]
    what = " and ".join(f"the same {name}" for name in names)
    return f"both act on {what}: carrying out one changes the other"


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
