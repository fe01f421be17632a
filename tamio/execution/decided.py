"""What a decision answers, and the refusal when someone (or something) decided first.

``Decision`` is what a click, an API call or a CLI command gets back; ``already_decided`` builds
the ``AlreadyDecided`` error that says who decided, what and when ("@maria already approved this
at 10:42."). Both are re-exported by ``tamio.execution.lifecycle``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.errors import Conflict
from tamio.execution.transitions import member_label
from tamio.preparation.models import ActionStatus, PreparedAction

DECIDED = {
    ActionStatus.APPROVED: "approved",
    ActionStatus.EXECUTING: "approved",
    ActionStatus.EXECUTED: "approved",
    ActionStatus.FAILED: "approved",
    ActionStatus.SKIPPED: "skipped",
    ActionStatus.SUPERSEDED: "superseded",
    ActionStatus.EXPIRED: "expired",
}


@dataclass(frozen=True)
class Decision:
    """What a click did, for the Slack card, the API and the CLI."""

    outcome: str  # approved | awaiting_second_approval | skipped | auto_executed | superseded | expired | retrying | figures_changed
    action_id: str
    option_id: str | None
    approvals_given: int
    approvals_required: int
    decided_by: str  # "@maria", "automation" or "Tamio"
    decided_at: datetime
    message: str
    decided_by_member_id: str | None = None
    status: str = ""  # the action's status afterwards
    replaced_by: str | None = None  # figures_changed: the fresh action that replaced this one (None: nothing left)


class AlreadyDecided(Conflict):
    """Someone (or something) decided first; says who, what and when."""

    def __init__(
        self,
        message: str,
        *,
        action_id: str,
        outcome: str,
        decided_by: str,
        decided_at: datetime | None,
        decided_by_member_id: str | None = None,
        decided_by_slack_user_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.action_id = action_id
        self.outcome = outcome
        self.decided_by = decided_by
        self.decided_at = decided_at
        self.decided_by_member_id = decided_by_member_id
        self.decided_by_slack_user_id = decided_by_slack_user_id


def clock_text(account: Account, moment: datetime | None, now: datetime) -> str:
    """``at 10:42`` today, ``at 10:42 on 3 Dec`` another day, in the account's time zone."""
    if moment is None:
        return "earlier"
    zone = ZoneInfo(account.timezone)
    local, today = moment.astimezone(zone), now.astimezone(zone)
    text = f"at {local:%H:%M}"
    return text if local.date() == today.date() else f"{text} on {local.day} {local:%b}"


async def already_decided(db: AsyncSession, *, account: Account, action: PreparedAction, member: Member | None, now: datetime) -> AlreadyDecided:
    """The error for a click on an action that is no longer pending."""
    outcome = DECIDED.get(action.status, action.status.value)
    when = clock_text(account, action.decided_at, now)
    decider = await db.get(Member, action.decided_by_member_id) if action.decided_by_member_id else None
    if action.status == ActionStatus.PENDING:  # pending but past its expiry
        outcome = "expired"
        when = clock_text(account, action.expires_at, now)
    if decider is not None:
        who = "You" if member is not None and decider.id == member.id else member_label(decider)
        message = f"{who} already {outcome} this {when}."
    elif action.auto_executed:
        who = "automation"
        message = f"An automation rule already approved this {when}; Tamio carried it out."
    else:
        who = "Tamio"
        reason = (action.execution_result or {}).get("reason")
        verb = "expired" if outcome == "expired" else f"was {outcome}"
        message = f"This action {verb} {when}" + (f" ({reason})." if reason else ".")
    if action.status == ActionStatus.FAILED:
        message += " Carrying it out failed; an approver can retry it."
    return AlreadyDecided(
        message,
        action_id=action.id,
        outcome=outcome,
        decided_by=who if who != "You" else member_label(decider),
        decided_at=action.decided_at or action.expires_at,
        decided_by_member_id=decider.id if decider else None,
        decided_by_slack_user_id=decider.slack_user_id if decider else None,
    )
