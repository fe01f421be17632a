"""What the daily digest says, as data: the morning summary of one account's cash and open work.

At 6 AM in the account's time zone the scheduler loads a ``DailyDigest`` and queues it in the
outbox (kind ``digest``, key ``digest:<account>:<local date>``); the Slack adapter renders it
(``bot.digests``). It holds:

- cash today, the 13-week low point and the week it falls in, and the runway;
- alerts raised, and alerts escalated (with the severity they came from), since the last digest;
- pending actions (the first ``LIST_LIMIT``, most urgent first, with the Slack message of each card
  when it was posted) and how many there are in all;
- what was executed yesterday (local date).

A day with none of the lists is quiet: the digest is one line (``quiet_line``), never silence.
``load_digest`` reads it in a fixed number of queries; the rest is pure, and the JSON form
(``to_json`` / ``from_json``) round-trips exactly, because it travels in the outbox row.

    digest = await load_digest(db, account=account, today=date(2026, 12, 8), now=now, settings=settings)
    digest.quiet, digest.headline()   # False, 'Cash $48,250.00 · Lowest $3,740.00 (week of 28 Dec) · Runway 7.5 months'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.verify import audit_head
from tamio.config import Settings
from tamio.detection.models import SEVERITY_RANK, AlertSeverity, AlertStatus, DetectionAlert
from tamio.forecast.runway import describe_runway
from tamio.forecast.service import calculate_forecast
from tamio.money import format_money
from tamio.outbox.models import OutboxMessage
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction

LIST_LIMIT = 10
FIRST_DIGEST_LOOKBACK = timedelta(days=1)
OPEN = (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)


@dataclass(frozen=True)
class AlertNote:
    alert_id: str
    title: str
    severity: str
    amount: Decimal | None = None
    currency: str | None = None
    due_date: date | None = None
    was: str | None = None  # for an escalation: the severity it rose from
    kind: str | None = None  # the detection type: a runway's date is no due date


@dataclass(frozen=True)
class PendingNote:
    action_id: str
    title: str
    severity: str
    amount: Decimal | None = None
    currency: str | None = None
    deadline: date | None = None
    channel: str | None = None  # where its card was posted, when it was
    ts: str | None = None


@dataclass(frozen=True)
class DoneNote:
    action_id: str
    title: str
    option: str
    executed_at: datetime


@dataclass(frozen=True)
class DailyDigest:
    account_id: str
    account_name: str
    day: date
    base_currency: str
    cash_today: Decimal
    lowest_balance: Decimal
    lowest_week: date
    runway_weeks: Decimal | None  # ``tamio.forecast.runway``: None is "more than 13 weeks"
    since: datetime
    new_alerts: tuple[AlertNote, ...] = ()
    escalated: tuple[AlertNote, ...] = ()
    pending: tuple[PendingNote, ...] = ()
    pending_total: int = 0
    done_yesterday: tuple[DoneNote, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    audit_head: str | None = None  # the audit trail's head checkpoint (``AuditMark.short``), kept in Slack
    locale: str = "en_US"  # how the account writes amounts and dates (``Account.locale``)

    @property
    def quiet(self) -> bool:
        return not (self.new_alerts or self.escalated or self.pending_total or self.done_yesterday)

    def money(self, amount: Decimal) -> str:
        return format_money(amount, self.base_currency, locale=self.locale)

    def week_label(self) -> str:
        return str(format_date(self.lowest_week, "d MMM", locale=self.locale))

    def runway_text(self) -> str:
        return describe_runway(self.runway_weeks)

    def headline(self) -> str:
        return (f"Cash {self.money(self.cash_today)} · Lowest {self.money(self.lowest_balance)} "
                f"(week of {self.week_label()}) · Runway {self.runway_text()}")

    def quiet_line(self) -> str:
        return (f"Nothing new. Cash {self.money(self.cash_today)}, lowest {self.money(self.lowest_balance)} "
                f"(week of {self.week_label()}).")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _jsonable(asdict(self))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DailyDigest:
        return cls(
            account_id=data["account_id"], account_name=data["account_name"], day=date.fromisoformat(data["day"]),
            base_currency=data["base_currency"], cash_today=Decimal(data["cash_today"]),
            lowest_balance=Decimal(data["lowest_balance"]), lowest_week=date.fromisoformat(data["lowest_week"]),
            runway_weeks=None if data.get("runway_weeks") is None else Decimal(data["runway_weeks"]),
            since=datetime.fromisoformat(data["since"]),
            new_alerts=tuple(_alert(a) for a in data["new_alerts"]),
            escalated=tuple(_alert(a) for a in data["escalated"]),
            pending=tuple(_pending(p) for p in data["pending"]), pending_total=int(data["pending_total"]),
            done_yesterday=tuple(DoneNote(d["action_id"], d["title"], d["option"], datetime.fromisoformat(d["executed_at"]))
                                 for d in data["done_yesterday"]),
            extra=dict(data.get("extra") or {}), audit_head=data.get("audit_head"), locale=data.get("locale") or "en_US",
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _opt_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _opt_date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _alert(data: dict[str, Any]) -> AlertNote:
    return AlertNote(data["alert_id"], data["title"], data["severity"], _opt_decimal(data.get("amount")), data.get("currency"),
                     _opt_date(data.get("due_date")), data.get("was"), data.get("kind"))


def _pending(data: dict[str, Any]) -> PendingNote:
    return PendingNote(data["action_id"], data["title"], data["severity"], _opt_decimal(data.get("amount")),
                       data.get("currency"), _opt_date(data.get("deadline")), data.get("channel"), data.get("ts"))


def _urgency(severity: AlertSeverity, day: date | None, title: str) -> tuple[int, date, str]:
    return SEVERITY_RANK[severity], day or date.max, title


def _note(alert: DetectionAlert, *, escalated: bool = False) -> AlertNote:
    was = alert.previous_severity.value if escalated and alert.previous_severity else None
    return AlertNote(alert.id, alert.title, alert.severity.value, alert.amount, alert.currency, alert.due_date, was,
                     alert.detection_type.value)


async def last_digest_at(db: AsyncSession, *, account_id: str, before: datetime) -> datetime | None:
    """When the previous digest of this account was queued."""
    return (await db.execute(
        select(func.max(OutboxMessage.created_at)).where(
            OutboxMessage.user_id == account_id, OutboxMessage.kind == "digest", OutboxMessage.created_at < before
        )
    )).scalar_one()


async def load_digest(
    db: AsyncSession, *, account: Account, today: date, now: datetime, settings: Settings, since: datetime | None = None,
) -> DailyDigest:
    """Everything the morning digest says about ``account`` on its local date ``today``."""
    zone = ZoneInfo(account.timezone)
    forecast = await calculate_forecast(db, account.id, as_of=today, settings=settings)
    if since is None:
        since = await last_digest_at(db, account_id=account.id, before=now) or now - FIRST_DIGEST_LOOKBACK

    fresh = list((await db.execute(select(DetectionAlert).where(
        DetectionAlert.user_id == account.id, DetectionAlert.status.in_(OPEN), DetectionAlert.first_detected_at >= since,
    ))).scalars())
    fresh.sort(key=lambda a: _urgency(a.severity, a.due_date, a.title))
    fresh_ids = {a.id for a in fresh}

    escalation_rows = (await db.execute(select(OutboxMessage.payload).where(
        OutboxMessage.user_id == account.id, OutboxMessage.kind == "alert_escalated", OutboxMessage.created_at >= since,
    ))).scalars()
    escalated_ids = {str(p.get("alert_id")) for p in escalation_rows} - fresh_ids
    risen: list[DetectionAlert] = []
    if escalated_ids:
        risen = list((await db.execute(select(DetectionAlert).where(
            DetectionAlert.user_id == account.id, DetectionAlert.id.in_(escalated_ids), DetectionAlert.status.in_(OPEN),
        ))).scalars())
        risen.sort(key=lambda a: _urgency(a.severity, a.due_date, a.title))

    pending_rows = list((await db.execute(select(PreparedAction).where(
        PreparedAction.user_id == account.id, PreparedAction.status == ActionStatus.PENDING,
    ))).scalars())
    pending_rows.sort(key=lambda a: _urgency(a.severity, a.deadline, a.title))

    start = datetime.combine(today - timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(today, time(0), tzinfo=zone).astimezone(UTC)
    done_rows = (await db.execute(
        select(PreparedAction, ActionOption.title)
        .outerjoin(ActionOption, and_(ActionOption.id == PreparedAction.chosen_option_id))
        .where(PreparedAction.user_id == account.id, PreparedAction.status == ActionStatus.EXECUTED,
               PreparedAction.executed_at >= start, PreparedAction.executed_at < end)
        .order_by(PreparedAction.executed_at)
    )).all()

    return DailyDigest(
        account_id=account.id, account_name=account.name, day=today, base_currency=forecast.base_currency,
        cash_today=forecast.opening_balance, lowest_balance=forecast.lowest_closing_balance,
        lowest_week=forecast.lowest_week_start, runway_weeks=forecast.runway_weeks, since=since,
        new_alerts=tuple(_note(a) for a in fresh[:LIST_LIMIT]),
        escalated=tuple(_note(a, escalated=True) for a in risen[:LIST_LIMIT]),
        pending=tuple(PendingNote(a.id, a.title, a.severity.value, a.amount, a.currency, a.deadline, a.slack_channel_id,
                                  a.slack_message_ts) for a in pending_rows[:LIST_LIMIT]),
        pending_total=len(pending_rows),
        done_yesterday=tuple(DoneNote(a.id, a.title, option or a.title, a.executed_at or end)
                             for a, option in done_rows[:LIST_LIMIT]),
        extra={"new_total": len(fresh), "escalated_total": len(risen), "done_total": len(done_rows)},
        audit_head=head.short if (head := await audit_head(db, account_id=account.id)) else None,
        locale=account.locale,
    )
