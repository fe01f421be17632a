"""Block Kit for the daily digest and for alert announcements (new, escalated, resolved).

The digest is data (``tamio.digest.DailyDigest``) rendered here: a greeting with cash, the 13-week
low point and runway, then what is new, what escalated, what waits for a decision (each linked to
its card) and what was done yesterday. A quiet day is one line.

Alerts are announced in the account's channel once when raised, again when they escalate (saying
what changed since the last announcement: severity, amount, due date), and when resolved the
messages already posted about them are edited in place, never reposted. The delivery worker keeps
what each announcement said (``announced``) in its outbox row, so the next one can compare.

    text, blocks = digest_message(digest)
    text, blocks = alert_escalated_message(alert, today=today, before={"severity": "this_week", ...})
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.blocks.alerts import alert_amount, date_words, kind_of
from bot.blocks.common import Block, context, cut, day_label, escape, in_days, money, section, slack_time
from tamio.detection.models import DetectionAlert
from tamio.digest import AlertNote, DailyDigest, PendingNote

SEVERITY = {
    "emergency": (":red_circle:", "Emergency"),
    "this_week": (":large_yellow_circle:", "This week"),
    "upcoming": (":large_green_circle:", "Upcoming"),
}
LINE_BUDGET = 2800  # characters per section, under Slack's 3,000


def _dot(severity: str) -> str:
    return SEVERITY.get(severity, (":white_circle:", severity))[0]


def _label(severity: str) -> str:
    return SEVERITY.get(severity, (":white_circle:", severity.replace("_", " ").capitalize()))[1]


def permalink(channel: str, ts: str) -> str:
    """A link to a message (Slack redirects it into the reader's workspace)."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def _fit(parts: list[str], joiner: str, total: int, *, prefix: str = "") -> str:
    """Join as many parts as fit the section budget, then say how many more there are."""
    shown: list[str] = []
    size = len(prefix)
    for part in parts:
        if size + len(part) + len(joiner) > LINE_BUDGET:
            break
        shown.append(part)
        size += len(part) + len(joiner)
    more = total - len(shown)
    tail = f"{joiner}…and {more} more" if more > 0 else ""
    return prefix + joiner.join(shown) + tail


def _alert_bit(note: AlertNote) -> str:
    bits = []
    if note.amount is not None and note.currency:
        bits.append(money(note.amount, note.currency))
    if note.due_date is not None:
        bits.append(date_words(note.kind, note.due_date))
    extra = f" ({', '.join(bits)})" if bits else ""
    return f"{_dot(note.severity)} {escape(cut(note.title, 150))}{extra}"


def _pending_line(note: PendingNote) -> str:
    title = escape(cut(note.title, 150))
    linked = f"<{permalink(note.channel, note.ts)}|{title}>" if note.channel and note.ts else title
    when = f" · by {day_label(note.deadline)}" if note.deadline else ""
    amount = f" · {money(note.amount, note.currency)}" if note.amount is not None and note.currency else ""
    return f"• {_dot(note.severity)} {linked}{amount}{when}"


def digest_message(digest: DailyDigest) -> tuple[str, list[Block]]:
    """The digest as (notification text, blocks)."""
    if digest.quiet:
        line = escape(digest.quiet_line())
        return line, [section(line), *_checkpoint(digest)]
    extra = digest.extra
    greeting = f"*Good morning — Tamio for {escape(cut(digest.account_name, 150))}, {day_label(digest.day)}*"
    blocks: list[Block] = [section(f"{greeting}\n{escape(digest.headline())}")]
    if digest.new_alerts:
        parts = [_alert_bit(a) for a in digest.new_alerts]
        blocks.append(section(_fit(parts, " · ", int(extra.get("new_total", len(parts))), prefix="*New:* ")))
    if digest.escalated:
        parts = [f"{_alert_bit(a)} — now {_label(a.severity)}" + (f" (was {_label(a.was).lower()})" if a.was else "")
                 for a in digest.escalated]
        blocks.append(section(_fit(parts, " · ", int(extra.get("escalated_total", len(parts))), prefix="*Escalated:* ")))
    if digest.pending_total:
        count = digest.pending_total
        heading = f"*Waiting for you:* {count} action{'s' if count != 1 else ''}\n"
        blocks.append(section(_fit([_pending_line(p) for p in digest.pending], "\n", count, prefix=heading)))
    if digest.done_yesterday:
        parts = [escape(cut(d.option if d.option == d.title else f"{d.option} ({d.title})", 300)) for d in digest.done_yesterday]
        blocks.append(section(_fit(parts, "; ", int(extra.get("done_total", len(parts))), prefix="*Done yesterday:* ")))
    blocks += _checkpoint(digest)
    return f"Tamio for {escape(digest.account_name)}, {day_label(digest.day)}: {escape(digest.headline())}", blocks


def _checkpoint(digest: DailyDigest) -> list[Block]:
    """The audit trail's head, kept here, outside Tamio's database: ``tamio audit verify --head`` with it
    finds any row removed since, even if whoever removed it rewrote the database's own record too."""
    if not digest.audit_head:
        return []
    return [context(f"Audit checkpoint `{digest.audit_head}` (`tamio audit verify --head {digest.audit_head}`)")]


# -- alert announcements ------------------------------------------------------------------------


def announced(alert: DetectionAlert) -> dict[str, Any]:
    """What an announcement says about an alert, kept to compare the next one with."""
    return {
        "severity": alert.severity.value, "title": alert.title,
        "amount": None if alert.amount is None else format(alert.amount, "f"), "currency": alert.currency,
        "due_date": alert.due_date.isoformat() if alert.due_date else None,
    }


def what_changed(alert: DetectionAlert, before: dict[str, Any] | None) -> list[str]:
    """Severity, amount and due date now, against the last announcement (or the alert's own history)."""
    was_severity = (before or {}).get("severity") or (alert.previous_severity.value if alert.previous_severity else None)
    changes = []
    if was_severity and was_severity != alert.severity.value:
        changes.append(f"now *{_label(alert.severity.value)}* (was {_label(was_severity).lower()})")
    if before:
        old_amount = before.get("amount")
        if alert.amount is not None and old_amount is not None and Decimal(old_amount) != alert.amount:
            changes.append(f"{money(Decimal(old_amount), before.get('currency'))} → {money(alert.amount, alert.currency)}")
        old_due = before.get("due_date")
        if alert.due_date is not None and old_due and date.fromisoformat(old_due) != alert.due_date:
            changes.append(f"{date_words(kind_of(alert), alert.due_date)} (was {day_label(date.fromisoformat(old_due))})")
    return changes


def _facts(alert: DetectionAlert, today: date) -> str:
    bits = []
    if alert_amount(alert):
        bits.append(alert_amount(alert))
    if alert.due_date:
        bits.append(f"{date_words(kind_of(alert), alert.due_date)} ({in_days(alert.due_date, today)})")
    return " · ".join(bits)


def alert_new_message(alert: DetectionAlert, *, today: date) -> tuple[str, list[Block]]:
    severity = alert.severity.value
    body = f"{_dot(severity)} *{escape(cut(alert.title, 200))}*"
    facts = _facts(alert, today)
    if facts:
        body += f"\n{facts}"
    if alert.explanation:
        body += f"\n{escape(cut(alert.explanation, 2000))}"
    note = f"{_label(severity)} · new alert · raised {slack_time(alert.first_detected_at)}"
    return f"{_label(severity)}: {escape(alert.title)}", [section(body), context(note)]


def alert_escalated_message(alert: DetectionAlert, *, today: date, before: dict[str, Any] | None) -> tuple[str, list[Block]]:
    severity = alert.severity.value
    changes = what_changed(alert, before)
    body = f":arrow_up: *Escalated:* {_dot(severity)} *{escape(cut(alert.title, 200))}*"
    if changes:
        body += "\n" + "; ".join(changes)
    facts = _facts(alert, today)
    if facts:
        body += f"\n{facts}"
    if alert.explanation:
        body += f"\n{escape(cut(alert.explanation, 2000))}"
    note = f"{_label(severity)} · escalated {alert.escalation_count}× · first raised {slack_time(alert.first_detected_at)}"
    return f"Escalated to {_label(severity).lower()}: {escape(alert.title)}", [section(body), context(note)]


def alert_resolved_message(alert: DetectionAlert, *, resolved_at: datetime | None) -> tuple[str, list[Block]]:
    """What an announcement becomes once its alert is resolved (edited in place)."""
    when = f" {slack_time(resolved_at)}" if resolved_at else ""
    body = f":white_check_mark: *Resolved:* ~{escape(cut(alert.title, 200))}~"
    return f"Resolved: {escape(alert.title)}", [section(body), context(f"Resolved{when}: the condition no longer holds. Nothing to do.")]


def run_heading_message(payload: dict[str, Any]) -> tuple[str, list[Block]]:
    """What heads a scheduled run's new cards: "Hourly check: 3 new things need you", one line each."""
    title = cut(str(payload.get("title") or "New things need you"), 150)
    lines = [f"• {escape(cut(str(line), 200))}" for line in payload.get("lines") or []]
    more = int(payload.get("more") or 0)
    if more:
        lines.append(f"…and {more} more: `/tamio actions` or App Home.")
    blocks: list[Block] = [section(f"*{escape(title)}*"), section("\n".join(lines)[:3000])] if lines else [section(f"*{escape(title)}*")]
    blocks.append(context("Tamio checks the forecast every hour; the cards below say what to do about each."))
    return title, blocks
