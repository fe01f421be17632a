"""Read helpers for Slack surfaces: open alerts, pending actions and everything a card shows.

Everything is scoped by the account id of the verified request. Cards for many actions load in a
fixed number of queries (actions, options, alerts, links, approvals with their members, the
history of their clients and vendors), never one query per card.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.detection.models import AlertSeverity, AlertStatus, DetectionAlert
from tamio.execution.history import summary_lines
from tamio.execution.models import ActionApproval
from tamio.execution.queries import edited_options
from tamio.preparation.models import ActionOption, ActionStatus, LinkedAction, LinkType, PreparedAction

OPEN_ALERTS = (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)
SEVERITY_ORDER = case(
    (DetectionAlert.severity == AlertSeverity.EMERGENCY, 0), (DetectionAlert.severity == AlertSeverity.THIS_WEEK, 1), else_=2
)
ACTION_SEVERITY_ORDER = case(
    (PreparedAction.severity == AlertSeverity.EMERGENCY, 0), (PreparedAction.severity == AlertSeverity.THIS_WEEK, 1), else_=2
)


@dataclass(frozen=True)
class Link:
    link_type: LinkType
    outgoing: bool  # this action -> the other one
    other_id: str
    other_title: str
    reason: str


@dataclass(frozen=True)
class Approval:
    slack_user_id: str | None
    label: str
    option_id: str
    at: object


@dataclass
class CardData:
    action: PreparedAction
    options: list[ActionOption] = field(default_factory=list)
    alert: DetectionAlert | None = None
    links: list[Link] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    decided_by: Member | None = None
    edited_option_id: str | None = None  # the option whose draft the action's edited subject/body rewrote
    history_line: str = ""  # what happened with its client or vendor: "Chased 2x, last 3 Dec by @maria"

    def option(self, option_id: str | None) -> ActionOption | None:
        return next((o for o in self.options if o.id == option_id), None)

    @property
    def has_edits(self) -> bool:
        return bool(self.action.edited_subject or self.action.edited_body)

    def edits_apply_to(self, option: ActionOption) -> bool:
        """Whether the edited draft is this option's (an edit of option 1's email is not option 2's)."""
        return self.has_edits and self.edited_option_id in (None, option.id)

    def draft_of(self, option: ActionOption) -> tuple[str, str, bool]:
        """The subject and body this option would send, and whether someone edited them."""
        if self.edits_apply_to(option):
            return (self.action.edited_subject or option.draft_subject or "", self.action.edited_body or option.draft_body or "", True)
        return option.draft_subject or "", option.draft_body or "", False


async def open_alerts(db: AsyncSession, *, account_id: str, limit: int = 100) -> list[DetectionAlert]:
    stmt = (
        select(DetectionAlert)
        .where(DetectionAlert.user_id == account_id, DetectionAlert.status.in_(OPEN_ALERTS))
        .order_by(SEVERITY_ORDER, DetectionAlert.due_date.is_(None), DetectionAlert.due_date, DetectionAlert.first_detected_at,
                  DetectionAlert.id)  # one run detects many at once: the id keeps every listing in one order
        .limit(limit)
    )
    return list((await db.execute(stmt)).scalars().all())


async def pending_action_ids(db: AsyncSession, *, account_id: str, limit: int = 20) -> list[str]:
    stmt = (
        select(PreparedAction.id)
        .where(PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING)
        .order_by(ACTION_SEVERITY_ORDER, PreparedAction.deadline.is_(None), PreparedAction.deadline, PreparedAction.priority.desc(),
                  PreparedAction.created_at, PreparedAction.id)
        .limit(limit)
    )
    return list((await db.execute(stmt)).scalars().all())


async def count_pending(db: AsyncSession, *, account_id: str) -> int:
    from sqlalchemy import func

    stmt = select(func.count()).select_from(PreparedAction).where(
        PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING
    )
    return int((await db.execute(stmt)).scalar_one())


async def load_cards(db: AsyncSession, *, account_id: str, action_ids: Sequence[str]) -> list[CardData]:
    """Cards for these actions of this account, in the order given; ids of other accounts are left out."""
    if not action_ids:
        return []
    ids = list(action_ids)
    actions = {
        a.id: a
        for a in (
            await db.execute(
                select(PreparedAction).where(PreparedAction.user_id == account_id, PreparedAction.id.in_(ids))
                .execution_options(populate_existing=True)
            )
        ).scalars()
    }
    cards = {i: CardData(actions[i]) for i in ids if i in actions}
    if not cards:
        return []
    found = list(cards)
    for option in (await db.execute(select(ActionOption).where(ActionOption.action_id.in_(found)).order_by(ActionOption.rank))).scalars():
        cards[option.action_id].options.append(option)
    alert_ids = {c.action.alert_id for c in cards.values() if c.action.alert_id}
    if alert_ids:
        alerts = {a.id: a for a in (await db.execute(
            select(DetectionAlert).where(DetectionAlert.user_id == account_id, DetectionAlert.id.in_(alert_ids))
        )).scalars()}
        for card in cards.values():
            card.alert = alerts.get(card.action.alert_id or "")
    link_rows = (await db.execute(
        select(LinkedAction).where(
            LinkedAction.user_id == account_id,
            or_(LinkedAction.source_action_id.in_(found), LinkedAction.target_action_id.in_(found)),
        )
    )).scalars().all()
    other_ids = {r.target_action_id for r in link_rows} | {r.source_action_id for r in link_rows}
    titles: dict[str, str] = dict((await db.execute(
        select(PreparedAction.id, PreparedAction.title).where(PreparedAction.user_id == account_id, PreparedAction.id.in_(other_ids))
    )).all()) if other_ids else {}
    for row in link_rows:
        if row.source_action_id in cards:
            cards[row.source_action_id].links.append(
                Link(row.link_type, True, row.target_action_id, titles.get(row.target_action_id, "another action"), row.reason))
        if row.target_action_id in cards:
            cards[row.target_action_id].links.append(
                Link(row.link_type, False, row.source_action_id, titles.get(row.source_action_id, "another action"), row.reason))
    approvals: dict[str, list[Approval]] = defaultdict(list)
    members: dict[str, Member] = {}
    for approval, member in (await db.execute(
        select(ActionApproval, Member).join(Member, Member.id == ActionApproval.member_id)
        .where(ActionApproval.action_id.in_(found)).order_by(ActionApproval.created_at, ActionApproval.id)
    )).all():
        members[member.id] = member
        approvals[approval.action_id].append(Approval(member.slack_user_id, member.display_name, approval.option_id, approval.created_at))
    decider_ids = {c.action.decided_by_member_id for c in cards.values() if c.action.decided_by_member_id} - set(members)
    if decider_ids:
        for member in (await db.execute(select(Member).where(Member.user_id == account_id, Member.id.in_(decider_ids)))).scalars():
            members[member.id] = member
    for card in cards.values():
        card.approvals = approvals.get(card.action.id, [])
        card.decided_by = members.get(card.action.decided_by_member_id or "")
    await _edited_options(db, account_id=account_id, cards=[c for c in cards.values() if c.has_edits])
    await _history_lines(db, account_id=account_id, cards=list(cards.values()))
    return [cards[i] for i in ids if i in cards]


def _counterparty_of(card: CardData) -> str | None:
    if card.action.counterparty_id:
        return card.action.counterparty_id
    return next((o.counterparty_id for o in card.options if o.counterparty_id), None)


async def _history_lines(db: AsyncSession, *, account_id: str, cards: list[CardData]) -> None:
    """Each card's one-line history of its client or vendor (``tamio.execution.history``), in fixed queries."""
    wanted = {cid for c in cards if (cid := _counterparty_of(c))}
    account = await db.get(Account, account_id) if wanted else None
    if account is None:
        return
    lines = await summary_lines(db, account=account, counterparty_ids=sorted(wanted))
    for card in cards:
        card.history_line = lines.get(_counterparty_of(card) or "", "")


async def _edited_options(db: AsyncSession, *, account_id: str, cards: list[CardData]) -> None:
    """Which option each edited draft belongs to: the option of the latest edit (a saved draft, or an
    approval that came with one through the API or CLI); the chosen option when no record says."""
    if not cards:
        return
    found = await edited_options(db, account_id=account_id, actions=[c.action for c in cards])
    for card in cards:
        card.edited_option_id = found.get(card.action.id) or card.action.chosen_option_id


async def load_card(db: AsyncSession, *, account_id: str, action_id: str) -> CardData | None:
    cards = await load_cards(db, account_id=account_id, action_ids=[action_id])
    return cards[0] if cards else None
