"""What happened with a client or vendor: the chases, delays and payments, who decided, when, what was sent.

One reading for the REST API (``GET /api/v1/data/clients/{id}/history``), the CLI (``tamio
history NAME``) and the cards (one context line, ``summary_line``: "Chased 2x, last 3 Dec by
@maria"). Chases and delays are the carried-out actions (a plan's steps included) with their
deciders and the emails that went out; payments are the recorded PaymentEvents with whoever
recorded them. Loaded in a fixed number of queries for any number of counterparties.

    history = await counterparty_history(db, account=account, counterparty_id=client.id)
    [(e.kind, e.on, e.decided_by) for e in history.entries]   # newest first
    lines = await summary_lines(db, account=account, counterparty_ids=[client.id, vendor.id])
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.audit.models import AuditLog
from tamio.data.models import Client, ExpenseBucket
from tamio.errors import NotFound
from tamio.execution.models import ActionApproval, ExecutionRecord
from tamio.execution.transitions import member_label
from tamio.money import format_money
from tamio.obligations.counterparties import find_counterparty
from tamio.obligations.models import PaymentEvent
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction

RECENT_ACTIONS = 1000  # carried-out actions read for these counterparties (newest first)
KINDS = ("chase", "delay", "payment")


@dataclass(frozen=True)
class SentEmail:
    to: str
    subject: str
    message_id: str | None
    sent_at: str | None


@dataclass(frozen=True)
class HistoryEntry:
    kind: str  # chase | delay | payment
    on: date  # the day it happened, in the account's time zone (a payment: its payment date)
    at: datetime | None  # when it was carried out or recorded
    title: str
    amount: Decimal | None
    currency: str | None
    decided_by: str  # "@maria and @li", "automation", "Xero", "Tamio", ...
    action_id: str | None = None
    sent: tuple[SentEmail, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CounterpartyHistory:
    counterparty_type: str  # client | expense_bucket
    counterparty_id: str
    name: str
    entries: tuple[HistoryEntry, ...]  # newest first

    def of(self, kind: str) -> list[HistoryEntry]:
        return [e for e in self.entries if e.kind == kind]


def _day(moment: datetime | None, zone: ZoneInfo) -> date | None:
    return moment.astimezone(zone).date() if moment is not None else None


def summary_line(history: CounterpartyHistory) -> str:
    """One short line for a card: "Chased 2x, last 3 Dec by @maria · Delayed 1x, last 7 Dec by @ada · Last paid 1 Dec"."""
    parts = []
    for kind, verb in (("chase", "Chased"), ("delay", "Delayed")):
        found = history.of(kind)
        if found:
            last = found[0]
            parts.append(f"{verb} {len(found)}x, last {last.on.day} {last.on:%b} by {last.decided_by}")
    payments = history.of("payment")
    if payments:
        last = payments[0]
        money = f" ({format_money(last.amount, last.currency)})" if last.amount is not None and last.currency else ""
        parts.append(f"Last paid {last.on.day} {last.on:%b}{money}")
    return " · ".join(parts)


async def find_counterparty_by(db: AsyncSession, *, account_id: str, ref: str) -> Client | ExpenseBucket:
    """A client or vendor of the account by id or name (names ignore case)."""
    client = await db.get(Client, ref)
    if client is not None and client.user_id == account_id:
        return client
    vendor = await db.get(ExpenseBucket, ref)
    if vendor is not None and vendor.user_id == account_id:
        return vendor
    return await find_counterparty(db, account_id=account_id, name=ref)


async def counterparty_history(db: AsyncSession, *, account: Account, counterparty_id: str, limit: int = 100) -> CounterpartyHistory:
    found = await load_histories(db, account=account, counterparty_ids=[counterparty_id], limit=limit)
    if counterparty_id not in found:
        raise NotFound(f"There is no client or vendor `{counterparty_id}` in this account.",
                       hint="Name a client or vendor of this account by its id, or by its name in the CLI: `tamio history NAME`.")
    return found[counterparty_id]


async def summary_lines(db: AsyncSession, *, account: Account, counterparty_ids: Sequence[str]) -> dict[str, str]:
    """The card line of each of these counterparties that has a history (none: left out)."""
    histories = await load_histories(db, account=account, counterparty_ids=counterparty_ids, limit=50)
    return {cid: line for cid, h in histories.items() if (line := summary_line(h))}


async def load_histories(
    db: AsyncSession, *, account: Account, counterparty_ids: Sequence[str], limit: int = 100
) -> dict[str, CounterpartyHistory]:
    """The history of each of these clients and vendors of the account (unknown ids are left out)."""
    ids = sorted(set(counterparty_ids))
    if not ids:
        return {}
    zone = ZoneInfo(account.timezone)
    names: dict[str, tuple[str, str]] = {}
    for model, kind in ((Client, "client"), (ExpenseBucket, "expense_bucket")):
        for cid, name in (await db.execute(select(model.id, model.name).where(model.user_id == account.id, model.id.in_(ids)))).all():
            names[cid] = (kind, name)
    if not names:
        return {}
    entries: dict[str, list[HistoryEntry]] = defaultdict(list)
    for cid, entry in await _action_entries(db, account=account, names=names, zone=zone):
        entries[cid].append(entry)
    for cid, entry in await _payment_entries(db, account=account, ids=list(names)):
        entries[cid].append(entry)
    result = {}
    for cid, (kind, name) in names.items():
        ordered = sorted(entries.get(cid, []), key=lambda e: (e.on, e.at or datetime.min.replace(tzinfo=zone)), reverse=True)
        result[cid] = CounterpartyHistory(kind, cid, name, tuple(ordered[:limit]))
    return result


# -- carried-out actions --------------------------------------------------------------------------


def _walk(kind: str, params: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The option itself and, for a plan, each of its steps: (kind, params)."""
    yield kind, params
    for step in params.get("steps") or []:
        if isinstance(step, Mapping):
            yield from _walk(str(step.get("kind") or ""), step)


def _moves(effects: Any, key: str = "moved") -> Iterator[Mapping[str, Any]]:
    """Every payment a carried-out option moved (its ``moved`` effects, a plan's steps included), or
    with ``key="requested"`` every delay it asked a vendor for that is not agreed yet."""
    if isinstance(effects, Mapping):
        for move in effects.get(key) or []:
            if isinstance(move, Mapping):
                yield move
        for step in effects.get("steps") or []:
            yield from _moves(step, key)


async def _deciders(db: AsyncSession, actions: Sequence[PreparedAction]) -> dict[str, str]:
    ids = [a.id for a in actions]
    rows = (await db.execute(
        select(ActionApproval.action_id, Member).join(Member, Member.id == ActionApproval.member_id)
        .where(ActionApproval.action_id.in_(ids)).order_by(ActionApproval.created_at, ActionApproval.id)
    )).all() if ids else []
    approvers: dict[str, list[str]] = defaultdict(list)
    for action_id, member in rows:
        approvers[action_id].append(member_label(member))
    deciders = {a.decided_by_member_id for a in actions if a.decided_by_member_id}
    members = {m.id: m for m in (await db.execute(select(Member).where(Member.id.in_(deciders)))).scalars()} if deciders else {}
    out = {}
    for a in actions:
        if approvers.get(a.id):
            out[a.id] = " and ".join(approvers[a.id])
        elif a.auto_executed:
            out[a.id] = "automation"
        elif a.decided_by_member_id in members:
            out[a.id] = member_label(members[a.decided_by_member_id])
        else:
            out[a.id] = "Tamio"
    return out


async def _emails(db: AsyncSession, actions: Sequence[PreparedAction]) -> dict[str, list[dict[str, Any]]]:
    """The emails each action sent (its ledger), oldest first."""
    ids = [a.id for a in actions]
    rows = (await db.execute(
        select(ExecutionRecord.action_id, ExecutionRecord.result).where(ExecutionRecord.action_id.in_(ids), ExecutionRecord.event == "email")
        .order_by(ExecutionRecord.created_at, ExecutionRecord.id)
    )).all() if ids else []
    sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for action_id, result in rows:
        if (result or {}).get("state") == "sent":
            sent[action_id].append(dict(result))
    return sent


def _mentions(names: Mapping[str, tuple[str, str]]) -> ColumnElement[bool]:
    """Carried-out actions that may concern these counterparties: named by id or name, or their id in
    the chosen option's params (a plan's steps, a delay of several vendors); the rest is read in Python."""
    ids, labels = list(names), [name for _, name in names.values()]
    params = cast(ActionOption.params, String)
    return or_(
        PreparedAction.counterparty_id.in_(ids), ActionOption.counterparty_id.in_(ids),
        PreparedAction.counterparty_name.in_(labels), ActionOption.counterparty_name.in_(labels),
        *(params.like(f"%{i}%") for i in ids),
    )


def _sent_to(emails: Sequence[Mapping[str, Any]], name: str) -> tuple[SentEmail, ...]:
    """The emails of an action that went to this counterparty (the ledger names whom each was for)."""
    return tuple(
        SentEmail(str(e.get("to") or ""), str(e.get("subject") or ""), e.get("message_id"), e.get("sent_at"))
        for e in emails if str(e.get("counterparty") or name).casefold() == name.casefold()
    )


async def _action_entries(
    db: AsyncSession, *, account: Account, names: Mapping[str, tuple[str, str]], zone: ZoneInfo
) -> list[tuple[str, HistoryEntry]]:
    rows = (await db.execute(
        select(PreparedAction, ActionOption)
        .join(ActionOption, ActionOption.id == PreparedAction.chosen_option_id)
        .where(PreparedAction.user_id == account.id, PreparedAction.status == ActionStatus.EXECUTED, _mentions(names))
        .order_by(PreparedAction.executed_at.desc(), PreparedAction.id).limit(RECENT_ACTIONS)
    )).all()
    if not rows:
        return []
    actions = [a for a, _ in rows]
    deciders = await _deciders(db, actions)
    emails = await _emails(db, actions)
    # An action that names its client only by name (no id) still belongs to it.
    clients_by_name = {name.casefold(): cid for cid, (kind, name) in names.items() if kind == "client"}
    found: list[tuple[str, HistoryEntry]] = []
    for action, option in rows:
        on = _day(action.executed_at, zone) or _day(action.decided_at, zone) or action.created_at.date()
        at, who = action.executed_at, deciders[action.id]
        chased: set[str] = set()
        for kind, params in _walk(option.kind, option.params or {}):
            if kind != "send_email":
                continue
            for cid in (params.get("client_id"), option.counterparty_id if option.counterparty_type == "client" else None,
                        action.counterparty_id if action.counterparty_type == "client" else None,
                        clients_by_name.get((option.counterparty_name or action.counterparty_name or "").casefold())):
                if isinstance(cid, str) and cid in names and names[cid][0] == "client":
                    chased.add(cid)
                    break
        for cid in sorted(chased):
            sent = _sent_to(emails.get(action.id, []), names[cid][1])
            found.append((cid, HistoryEntry("chase", on, at, option.title, option.amount, option.currency, who, action.id, sent,
                                            {"schedule_id": (option.params or {}).get("schedule_id")})))
        effects = (action.execution_result or {}).get("effects")
        for move, asked in [*((m, False) for m in _moves(effects)), *((m, True) for m in _moves(effects, "requested"))]:
            vendor_id = move.get("vendor_id")
            if not isinstance(vendor_id, str) or vendor_id not in names:
                continue
            amount = Decimal(str(move["amount"])) if move.get("amount") is not None else None
            sent = _sent_to(emails.get(action.id, []), names[vendor_id][1])
            moved = f"from {move.get('from')} to {move.get('to')}"
            verb = "Asked to delay" if asked else "Delayed"
            title = f"{verb} {format_money(amount, str(move.get('currency')))} {moved}" if amount is not None else f"{verb} {moved}"
            if asked:
                title += " (not agreed yet)"
            found.append((vendor_id, HistoryEntry(
                "delay", on, at, title, amount, move.get("currency"), who, action.id, sent,
                {"schedule_id": move.get("schedule_id"), "from": move.get("from"), "to": move.get("to")},
            )))
    return found


# -- payments -------------------------------------------------------------------------------------


async def _payment_entries(db: AsyncSession, *, account: Account, ids: Sequence[str]) -> list[tuple[str, HistoryEntry]]:
    payments = (await db.execute(
        select(PaymentEvent).where(PaymentEvent.user_id == account.id,
                                   or_(PaymentEvent.client_id.in_(ids), PaymentEvent.expense_bucket_id.in_(ids)))
        .order_by(PaymentEvent.payment_date.desc(), PaymentEvent.created_at.desc())
    )).scalars().all()
    if not payments:
        return []
    actors = dict((await db.execute(
        select(AuditLog.entity_id, AuditLog.actor).where(AuditLog.user_id == account.id, AuditLog.entity_type == "payment_event",
                                                         AuditLog.action == "create", AuditLog.entity_id.in_([p.id for p in payments]))
    )).all())
    members = {m.id: m for m in (await db.execute(select(Member).where(Member.user_id == account.id, Member.id.in_(set(actors.values()))))).scalars()}
    found = []
    for payment in payments:
        cid = payment.client_id if payment.client_id in ids else payment.expense_bucket_id
        if cid is None:
            continue
        actor = actors.get(payment.id)
        if actor in members:
            who = member_label(members[actor])
        else:
            who = {"xero": "Xero", "manual": "Tamio"}.get(payment.source, "Tamio")
        verb = "Received" if payment.direction.value == "inflow" else "Paid"
        found.append((cid, HistoryEntry(
            "payment", payment.payment_date, payment.created_at, f"{verb} {format_money(payment.amount, payment.currency)}",
            payment.amount, payment.currency, who,
            details={"payment_id": payment.id, "schedule_id": payment.schedule_id, "reference": payment.reference, "source": payment.source},
        )))
    return found
