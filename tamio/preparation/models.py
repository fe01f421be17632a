"""Prepared work waiting for a decision: actions, their ranked options and the links between them.

A PreparedAction answers one alert; it offers one to three ActionOptions (what would be done, the
amount, the counterparty, the drafted message, its risk and its effect on the forecast). The
status moves by compare-and-set on ``version`` (see ``tamio.execution.lifecycle``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import (
    Base,
    ExactDecimal,
    JSONType,
    Money,
    created_at_column,
    enum_column,
    new_id,
    updated_at_column,
)
from tamio.detection.models import AlertSeverity
from tamio.preparation.message_drafting import DraftedEmail
from tamio.preparation.recipes import DraftRecipe


class ActionType(str, enum.Enum):
    INVOICE_FOLLOW_UP = "invoice_follow_up"
    PAYMENT_REMINDER = "payment_reminder"
    COLLECTION_ESCALATION = "collection_escalation"
    PAYMENT_BATCH = "payment_batch"
    VENDOR_DELAY = "vendor_delay"
    PAYMENT_PRIORITIZATION = "payment_prioritization"
    PAYROLL_CONTINGENCY = "payroll_contingency"
    PAYROLL_CONFIRMATION = "payroll_confirmation"
    EXCESS_CASH_ALLOCATION = "excess_cash_allocation"
    CREDIT_LINE_DRAW = "credit_line_draw"
    INVOICE_GENERATION = "invoice_generation"
    STATUTORY_PAYMENT = "statutory_payment"


class ActionStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"
    SKIPPED = "skipped"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


class LinkType(str, enum.Enum):
    RESOLVES = "resolves"
    CONFLICTS = "conflicts"
    SEQUENCE = "sequence"


class PreparedAction(Base):
    __tablename__ = "prepared_actions"
    __table_args__ = (
        Index("ix_prepared_actions_user_status", "user_id", "status"),
        Index("ix_prepared_actions_alert", "alert_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("act"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    alert_id: Mapped[str | None] = mapped_column(ForeignKey("detection_alerts.id", ondelete="SET NULL"))
    action_type: Mapped[ActionType] = mapped_column(enum_column(ActionType))
    status: Mapped[ActionStatus] = mapped_column(enum_column(ActionStatus), default=ActionStatus.PENDING)
    severity: Mapped[AlertSeverity] = mapped_column(enum_column(AlertSeverity), default=AlertSeverity.THIS_WEEK)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text(), default="")
    amount: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str | None] = mapped_column(String(3))
    counterparty_type: Mapped[str | None] = mapped_column(String(40))
    counterparty_id: Mapped[str | None] = mapped_column(String(40))
    counterparty_name: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    priority: Mapped[int] = mapped_column(default=0)
    deadline: Mapped[date | None] = mapped_column(Date())
    approvals_required: Mapped[int] = mapped_column(default=1)
    requires_admin: Mapped[bool] = mapped_column(default=False)
    chosen_option_id: Mapped[str | None] = mapped_column(String(40))
    decided_by_member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    auto_executed: Mapped[bool] = mapped_column(default=False)
    edited_subject: Mapped[str | None] = mapped_column(String(300))
    edited_body: Mapped[str | None] = mapped_column(Text())
    version: Mapped[int] = mapped_column(default=1)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    executed_at: Mapped[datetime | None]
    execution_result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text())
    slack_channel_id: Mapped[str | None] = mapped_column(String(32))
    slack_message_ts: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime | None]
    # A digest of the forecast inputs its figures were worked out from (``preparation.freshness``):
    # approving it once they have changed is refused and it is prepared again. None: not prepared
    # from a forecast (nothing to compare).
    forecast_basis: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class ActionOption(Base):
    __tablename__ = "action_options"
    __table_args__ = (UniqueConstraint("action_id", "rank", name="uq_action_options_rank"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("opt"))
    action_id: Mapped[str] = mapped_column(ForeignKey("prepared_actions.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))  # what the executor does, e.g. "send_email"
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text(), default="")
    amount: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str | None] = mapped_column(String(3))
    counterparty_type: Mapped[str | None] = mapped_column(String(40))
    counterparty_id: Mapped[str | None] = mapped_column(String(40))
    counterparty_name: Mapped[str | None] = mapped_column(String(200))
    recipient_email: Mapped[str | None] = mapped_column(String(320))
    # The draft as written out (edited, or an agent's own text), else rendered from ``draft_recipe`` when
    # read: most options of most cards are never opened, so preparation stores what it is made from.
    stored_subject: Mapped[str | None] = mapped_column("draft_subject", String(300))
    stored_body: Mapped[str | None] = mapped_column("draft_body", Text())
    draft_recipe: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    draft_tone: Mapped[str | None] = mapped_column(String(20))
    relationship_risk: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("0"))
    operational_risk: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("0"))
    financial_cost: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("0"))
    composite_risk: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("0"))
    risk_level: Mapped[str] = mapped_column(String(10), default="low")
    forecast_lowest_balance: Mapped[Decimal | None] = mapped_column(Money())
    forecast_lowest_week: Mapped[date | None] = mapped_column(Date())
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = created_at_column()

    @property
    def draft_subject(self) -> str | None:
        """The subject shown, edited and sent: the stored text, else the recipe's (at most 300 characters)."""
        if self.stored_subject is not None or self.stored_body is not None or self.draft_recipe is None:
            return self.stored_subject
        return self._drafted()["subject"][:300]

    @draft_subject.setter
    def draft_subject(self, value: str | None) -> None:
        if value is not None:
            self._write_out()
        self.stored_subject = value

    @property
    def draft_body(self) -> str | None:
        if self.stored_subject is not None or self.stored_body is not None or self.draft_recipe is None:
            return self.stored_body
        return self._drafted()["body"]

    @draft_body.setter
    def draft_body(self, value: str | None) -> None:
        if value is not None:
            self._write_out()
        self.stored_body = value

    def _drafted(self) -> DraftedEmail:
        assert self.draft_recipe is not None
        return DraftRecipe.from_json(self.draft_recipe).render()

    def _write_out(self) -> None:
        """Before one half of the draft is set, the other half becomes text too (they go together)."""
        if self.draft_recipe is not None and self.stored_subject is None and self.stored_body is None:
            drafted = self._drafted()
            self.stored_subject, self.stored_body = drafted["subject"][:300], drafted["body"]


class LinkedAction(Base):
    __tablename__ = "linked_actions"
    __table_args__ = (UniqueConstraint("source_action_id", "target_action_id", "link_type", name="uq_linked_actions"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("lnk"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    source_action_id: Mapped[str] = mapped_column(ForeignKey("prepared_actions.id", ondelete="CASCADE"), index=True)
    target_action_id: Mapped[str] = mapped_column(ForeignKey("prepared_actions.id", ondelete="CASCADE"), index=True)
    link_type: Mapped[LinkType] = mapped_column(enum_column(LinkType))
    group_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text(), default="")
    created_at: Mapped[datetime] = created_at_column()
