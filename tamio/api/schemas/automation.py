"""Bodies of the automation-rule and history routes.

``RuleOut`` is an ExecutionAutomationRule (design: "V4 Execution Automation Rules") as the API shows
it; ``RuleUpdate`` names only what changes (``threshold_amount: null`` removes the threshold).
``HistoryOut`` is ``tamio.execution.history.CounterpartyHistory``: chases, delays and payments,
newest first, each with who decided, when, and the emails that went out.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from tamio.api.types import (
    BODY_CONFIG,
    OUT_CONFIG,
    QUERY_CONFIG,
    Currency,
    Line,
    MoneyOut,
    PositiveAmount,
    Tags,
    optional_money_out,
)
from tamio.execution.history import CounterpartyHistory, HistoryEntry
from tamio.execution.models import ExecutionAutomationRule


class RuleOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    action_type: str = Field(description="the rule: invoice_follow_up, payment_batch, vendor_delay, statutory_payment, payroll, excess_allocation")
    auto_execute: bool = Field(description="matching actions run without waiting for a person")
    require_approval: bool
    threshold_amount: MoneyOut | None = Field(description="only actions below this amount run by themselves")
    threshold_currency: str | None
    excluded_tags: list[str]
    included_tags: list[str]
    is_locked: bool = Field(description="payroll: always an admin's approval, whatever anyone sets")
    notes: str
    updated_at: datetime


class RuleList(BaseModel):
    model_config = OUT_CONFIG
    rules: list[RuleOut]


class RuleUpdate(BaseModel):
    """The fields to change; those left out are kept. Changing a rule needs an admin; the payroll rule is locked (409)."""

    model_config = BODY_CONFIG
    auto_execute: bool | None = None
    require_approval: bool | None = None
    threshold_amount: PositiveAmount | None = Field(None, description="null removes the threshold")
    threshold_currency: Currency | None = None
    excluded_tags: Tags | None = None
    included_tags: Tags | None = None
    notes: Line | None = None

    def changes(self) -> dict[str, Any]:
        """What was sent: a field given as null is a change (to none), one left out is not."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def rule_out(rule: ExecutionAutomationRule) -> RuleOut:
    return RuleOut(
        id=rule.id, action_type=rule.action_type, auto_execute=rule.auto_execute, require_approval=rule.require_approval,
        threshold_amount=optional_money_out(rule.threshold_amount, rule.threshold_currency), threshold_currency=rule.threshold_currency,
        excluded_tags=list(rule.excluded_tags or []), included_tags=list(rule.included_tags or []), is_locked=rule.is_locked,
        notes=rule.notes or "", updated_at=rule.updated_at,
    )


class HistoryQuery(BaseModel):
    model_config = QUERY_CONFIG
    limit: int = Field(100, ge=1, le=500)


class SentEmailOut(BaseModel):
    model_config = OUT_CONFIG
    to: str
    subject: str
    message_id: str | None
    sent_at: str | None


class HistoryEntryOut(BaseModel):
    model_config = OUT_CONFIG
    kind: str = Field(description="chase, delay or payment")
    on: date
    at: datetime | None
    title: str
    amount: MoneyOut | None
    currency: str | None
    decided_by: str = Field(description="who decided (@maria and @li, automation) or recorded it (a member, Xero, Tamio)")
    action_id: str | None
    sent: list[SentEmailOut]
    details: dict[str, Any]


class HistoryOut(BaseModel):
    model_config = OUT_CONFIG
    counterparty_type: str = Field(description="client or expense_bucket")
    counterparty_id: str
    name: str
    summary: str = Field(description="the line the cards show, e.g. \"Chased 2x, last 3 Dec by @maria\"")
    entries: list[HistoryEntryOut]


def _entry_out(entry: HistoryEntry) -> HistoryEntryOut:
    return HistoryEntryOut(
        kind=entry.kind, on=entry.on, at=entry.at, title=entry.title, amount=optional_money_out(entry.amount, entry.currency),
        currency=entry.currency, decided_by=entry.decided_by, action_id=entry.action_id,
        sent=[SentEmailOut(to=s.to, subject=s.subject, message_id=s.message_id, sent_at=s.sent_at) for s in entry.sent],
        details={k: v for k, v in entry.details.items() if v is not None},
    )


def history_out(history: CounterpartyHistory, summary: str) -> HistoryOut:
    return HistoryOut(
        counterparty_type=history.counterparty_type, counterparty_id=history.counterparty_id, name=history.name, summary=summary,
        entries=[_entry_out(e) for e in history.entries],
    )
