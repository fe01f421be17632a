"""Do the account's alerts and pending cards say what the forecast says at this moment?

``figure_discrepancies`` returns one sentence per disagreement (an empty list: all agree):

- every open alert is one the rules raise from the current data, with the same title and amount,
  and every finding of the rules has its open alert (unless a person dismissed it);
- every pending action prepared from a forecast was prepared on the current basis, and preparing it
  again now gives the same figures (the amounts, what each option moves, each option's lowest
  balance after) and the same title.

Tests run it after every step of their stories; App Home's part (the headline and the alerts it
lists) is checked against the same forecast by the tests' support code, since App Home is Slack's.

    problems = await figure_discrepancies(db, account=account, now=now, settings=settings)
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.detection.engine import DetectionEngine
from tamio.detection.findings import to_minor_units
from tamio.detection.models import AlertStatus, DetectionAlert, DetectionType
from tamio.preparation.alerts import AlertView
from tamio.preparation.context import load_context
from tamio.preparation.engine import AGENTS
from tamio.preparation.freshness import figures_of, figures_of_draft, forecast_basis
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction

OPEN = (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)


async def figure_discrepancies(db: AsyncSession, *, account: Account, now: datetime, settings: Settings) -> list[str]:
    today = now.astimezone(ZoneInfo(account.timezone)).date()
    problems: list[str] = []
    evaluation = await DetectionEngine(db, account.id, today=today, now=now, settings=settings).evaluate(tuple(DetectionType))
    found = {f.fingerprint: f for f in evaluation.findings}
    alerts = (await db.execute(select(DetectionAlert).where(DetectionAlert.user_id == account.id))).scalars().all()
    open_alerts = {a.fingerprint: a for a in alerts if a.status in OPEN}
    dismissed = {a.fingerprint for a in alerts if a.status == AlertStatus.DISMISSED}
    ran = set(evaluation.ran)
    for fingerprint, alert in open_alerts.items():
        if alert.detection_type not in ran:
            continue  # its rule failed or is switched off: nothing to compare with
        finding = found.get(fingerprint)
        if finding is None:
            problems.append(f"alert “{alert.title}” is open but the current figures no longer raise it")
            continue
        amount = to_minor_units(finding.amount, finding.currency) if finding.amount is not None and finding.currency else finding.amount
        if (alert.title, alert.amount) != (finding.title, amount):
            problems.append(f"alert “{alert.title}” ({alert.amount}) but the current figures say “{finding.title}” ({amount})")
    for fingerprint, finding in found.items():
        if fingerprint not in open_alerts and fingerprint not in dismissed:
            problems.append(f"the current figures raise “{finding.title}” but no open alert says it")

    actions = (await db.execute(
        select(PreparedAction).where(PreparedAction.user_id == account.id, PreparedAction.status == ActionStatus.PENDING,
                                     PreparedAction.forecast_basis.is_not(None))
    )).scalars().all()
    if not actions:
        return problems
    ctx = await load_context(db, account_id=account.id, today=today, settings=settings)
    basis = forecast_basis(ctx)
    options: dict[str, list[ActionOption]] = {}
    for option in (await db.execute(
        select(ActionOption).where(ActionOption.action_id.in_([a.id for a in actions])).order_by(ActionOption.rank)
    )).scalars():
        options.setdefault(option.action_id, []).append(option)
    by_id = {a.id: a for a in alerts}
    for action in actions:
        if action.forecast_basis != basis:
            problems.append(f"card “{action.title}” was prepared on other figures than today's")
        behind = by_id.get(action.alert_id or "")
        agent = AGENTS.get(behind.detection_type.value) if behind is not None else None
        if behind is None or agent is None:
            continue
        draft = agent(AlertView.of(behind), ctx)
        if draft is None or not draft.options:
            problems.append(f"card “{action.title}” is pending but the current figures leave nothing to propose")
        elif (action.title, figures_of(action, options.get(action.id, []))) != (draft.title[:300], figures_of_draft(draft)):
            shown = [(o.title, o.forecast_lowest_balance) for o in options.get(action.id, [])]
            now_figures = [(o.title, o.forecast.lowest_closing_balance) for o in draft.options]
            problems.append(f"card “{action.title}” shows {shown} but the current figures give “{draft.title}” {now_figures}")
    return problems
