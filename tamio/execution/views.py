"""One read model of an action, for every edge: the Slack card, the REST API and the CLI render it.

An ``ActionView`` is what a person reads about an action: its figures (amount, each option's amount
and lowest balance after), its options and drafts (with the edited draft and the option it is for),
its status and who decided, the approvals so far, its alert, its links to other actions, the
one-line history of its client or vendor ("Chased 2x, last 3 Dec by @maria") and the forecast basis
it was prepared on; its execution records too when asked. Many views load in a fixed number of
queries (actions, options, alerts, links and the linked titles, approvals with their members,
deciders, edits, histories), never one query per action.

    views = await action_views(db, account_id=account.id, action_ids=ids)   # in the order given
    view = await action_view(db, account_id=account.id, action_id=action_id, with_records=True)
    view.decider          # "@maria", "automation", "Tamio" (superseded, expired) or None
    view.draft_of(view.options[0])   # (subject, body, edited?)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.detection.models import DetectionAlert
from tamio.errors import NotFound
from tamio.execution.history import summary_lines
from tamio.execution.models import ActionApproval, ExecutionRecord
from tamio.execution.queries import EVENT_ORDER, edited_options
from tamio.execution.transitions import member_label
from tamio.preparation.models import ActionOption, ActionStatus, LinkedAction, LinkType, PreparedAction


@dataclass(frozen=True)
class EmailNeed:
    """What an option's email lacks before it can be approved (``tamio.execution.readiness`` finds it)."""

    option_id: str
    missing: str  # "smtp", "address" or "draft"
    message: str
    hint: str = ""
    counterparty_type: str | None = None  # "client" or "expense": whose address to add
    counterparty_id: str | None = None
    counterparty_name: str = ""

@dataclass(frozen=True)
class Link:
    """A link seen from one action: ``outgoing`` when that action is the link's source."""

    link_type: LinkType
    outgoing: bool
    other_id: str
    other_title: str
    reason: str
    id: str = ""
    group_id: str = ""
    action_id: str = ""  # the action it is seen from

    @property
    def source_action_id(self) -> str:
        return self.action_id if self.outgoing else self.other_id

    @property
    def target_action_id(self) -> str:
        return self.other_id if self.outgoing else self.action_id


LINK_WORDS = {
    (LinkType.RESOLVES, True): "Resolves", (LinkType.RESOLVES, False): "Resolved by",
    (LinkType.CONFLICTS, True): "Conflicts with", (LinkType.CONFLICTS, False): "Conflicts with",
    (LinkType.SEQUENCE, True): "Comes before", (LinkType.SEQUENCE, False): "Comes after",
}
LINK_ORDER = ("Resolves", "Resolved by", "Comes before", "Comes after", "Conflicts with")


def link_phrases(links: Sequence[Link]) -> list[tuple[str, list[str]]]:
    """An action's links in words, one phrase per kind with each other action's title once:
    ``[("Resolves", ["Cash dips ...", "Runway ..."]), ("Conflicts with", ["Cloud Host ..."])]`` (cards, the CLI).

    Two actions that both draw on the same credit line conflict, and one of them may also resolve the other:
    "resolves" says it all (approving the one makes the other unnecessary), so the conflict is not said again."""
    resolving = {link.other_id for link in links if link.link_type == LinkType.RESOLVES}
    named: dict[str, dict[str, str]] = {words: {} for words in LINK_ORDER}
    for link in links:
        if link.link_type == LinkType.CONFLICTS and link.other_id in resolving:
            continue
        named[LINK_WORDS[(link.link_type, link.outgoing)]].setdefault(link.other_id, link.other_title)
    return [(words, list(titles.values())) for words, titles in named.items() if titles]


@dataclass(frozen=True)
class Approval:
    slack_user_id: str | None
    label: str  # the member's display name
    option_id: str
    at: datetime
    member_id: str = ""
    handle: str = ""  # how messages name them: "@maria"


@dataclass
class ActionView:
    action: PreparedAction
    options: list[ActionOption] = field(default_factory=list)  # by rank
    alert: DetectionAlert | None = None
    links: list[Link] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    decided_by: Member | None = None
    edited_option_id: str | None = None  # the option whose draft the action's edited subject/body rewrote
    history_line: str = ""  # what happened with its client or vendor: "Chased 2x, last 3 Dec by @maria"
    records: tuple[ExecutionRecord, ...] = ()  # what happened to it, oldest first (``with_records``)
    needs: dict[str, EmailNeed] = field(default_factory=dict)  # option id -> what its email needs before approval (``readiness.with_email_needs``)

    @property
    def basis(self) -> str | None:
        """The digest of the forecast inputs its figures were prepared on (``tamio.preparation.freshness``)."""
        return self.action.forecast_basis

    @property
    def chosen(self) -> ActionOption | None:
        return self.option(self.action.chosen_option_id)

    @property
    def decider(self) -> str | None:
        """Who decided, as messages name them; None while undecided."""
        if self.decided_by is not None:
            return member_label(self.decided_by)
        if self.action.auto_executed:
            return "automation"
        if self.action.status in (ActionStatus.SUPERSEDED, ActionStatus.EXPIRED):
            return "Tamio"
        return None

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


async def action_view(db: AsyncSession, *, account_id: str, action_id: str, with_records: bool = False) -> ActionView:
    views = await action_views(db, account_id=account_id, action_ids=[action_id], with_records=with_records)
    if not views:
        raise NotFound(f"There is no action `{action_id}` in this account.", hint="See them with `tamio actions list`.")
    return views[0]


async def action_views(
    db: AsyncSession, *, account_id: str, action_ids: Sequence[str], with_records: bool = False,
) -> list[ActionView]:
    """Views of these actions of this account, in the order given; ids of other accounts are left out."""
    if not action_ids:
        return []
    ids = list(action_ids)
    actions = {
        a.id: a
        for a in (await db.execute(
            select(PreparedAction).where(PreparedAction.user_id == account_id, PreparedAction.id.in_(ids))
            .execution_options(populate_existing=True)
        )).scalars()
    }
    views = {i: ActionView(actions[i]) for i in ids if i in actions}
    if not views:
        return []
    found = list(views)
    for option in (await db.execute(
        select(ActionOption).where(ActionOption.action_id.in_(found)).order_by(ActionOption.action_id, ActionOption.rank)
    )).scalars():
        views[option.action_id].options.append(option)
    await _alerts(db, account_id=account_id, views=views)
    await _links(db, account_id=account_id, views=views)
    await _approvals_and_deciders(db, account_id=account_id, views=views)
    edited = [v for v in views.values() if v.has_edits]
    if edited:
        by_action = await edited_options(db, account_id=account_id, actions=[v.action for v in edited])
        for view in edited:
            view.edited_option_id = by_action.get(view.action.id) or view.action.chosen_option_id
    await _history_lines(db, account_id=account_id, views=list(views.values()))
    if with_records:
        records: dict[str, list[ExecutionRecord]] = defaultdict(list)
        for record in (await db.execute(select(ExecutionRecord).where(ExecutionRecord.action_id.in_(found)))).scalars():
            records[record.action_id].append(record)
        for view in views.values():
            view.records = tuple(sorted(records[view.action.id], key=lambda r: (r.created_at, r.attempt, EVENT_ORDER.get(r.event, 9), r.id)))
    return [views[i] for i in ids if i in views]


async def _alerts(db: AsyncSession, *, account_id: str, views: dict[str, ActionView]) -> None:
    alert_ids = {v.action.alert_id for v in views.values() if v.action.alert_id}
    if not alert_ids:
        return
    alerts = {a.id: a for a in (await db.execute(
        select(DetectionAlert).where(DetectionAlert.user_id == account_id, DetectionAlert.id.in_(alert_ids))
    )).scalars()}
    for view in views.values():
        view.alert = alerts.get(view.action.alert_id or "")


async def _links(db: AsyncSession, *, account_id: str, views: dict[str, ActionView]) -> None:
    found = list(views)
    rows = (await db.execute(
        select(LinkedAction).where(
            LinkedAction.user_id == account_id,
            or_(LinkedAction.source_action_id.in_(found), LinkedAction.target_action_id.in_(found)),
        ).order_by(LinkedAction.created_at, LinkedAction.id)
    )).scalars().all()
    other_ids = {r.target_action_id for r in rows} | {r.source_action_id for r in rows}
    titles: dict[str, str] = dict((await db.execute(
        select(PreparedAction.id, PreparedAction.title).where(PreparedAction.user_id == account_id, PreparedAction.id.in_(other_ids))
    )).all()) if other_ids else {}
    for row in rows:
        for this, other, outgoing in ((row.source_action_id, row.target_action_id, True), (row.target_action_id, row.source_action_id, False)):
            if this in views:
                views[this].links.append(Link(row.link_type, outgoing, other, titles.get(other, "another action"), row.reason or "",
                                              id=row.id, group_id=row.group_id, action_id=this))


async def _approvals_and_deciders(db: AsyncSession, *, account_id: str, views: dict[str, ActionView]) -> None:
    members: dict[str, Member] = {}
    for approval, member in (await db.execute(
        select(ActionApproval, Member).join(Member, Member.id == ActionApproval.member_id)
        .where(ActionApproval.action_id.in_(list(views))).order_by(ActionApproval.created_at, ActionApproval.id)
    )).all():
        members[member.id] = member
        views[approval.action_id].approvals.append(Approval(
            member.slack_user_id, member.display_name, approval.option_id, approval.created_at, member_id=member.id, handle=member_label(member),
        ))
    decider_ids = {v.action.decided_by_member_id for v in views.values() if v.action.decided_by_member_id} - set(members)
    if decider_ids:
        for member in (await db.execute(select(Member).where(Member.user_id == account_id, Member.id.in_(decider_ids)))).scalars():
            members[member.id] = member
    for view in views.values():
        view.decided_by = members.get(view.action.decided_by_member_id or "")


def _counterparty_of(view: ActionView) -> str | None:
    if view.action.counterparty_id:
        return view.action.counterparty_id
    return next((o.counterparty_id for o in view.options if o.counterparty_id), None)


async def _history_lines(db: AsyncSession, *, account_id: str, views: list[ActionView]) -> None:
    """Each view's one-line history of its client or vendor (``tamio.execution.history``)."""
    wanted = {cid for v in views if (cid := _counterparty_of(v))}
    account = await db.get(Account, account_id) if wanted else None
    if account is None:
        return
    lines = await summary_lines(db, account=account, counterparty_ids=sorted(wanted))
    for view in views:
        view.history_line = lines.get(_counterparty_of(view) or "", "")
