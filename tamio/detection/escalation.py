"""When an alert's severity rises, it is escalated, so it can be announced again.

An open alert found again at a more urgent severity (UPCOMING -> THIS_WEEK -> EMERGENCY; a late
invoice that crosses 14 and then 30 days) keeps its row and its history: ``previous_severity``
records where it came from, ``escalation_count`` counts the rises, and ``escalated`` stays set
until whoever announces alerts has done so (they read ``DetectionRun.escalated``); an acknowledged
alert that escalates is active again. A severity that falls is recorded without an escalation.

A dismissed alert stays dismissed while its problem lasts, unless the problem becomes more urgent
than it was when dismissed: then a new alert is raised.

    if escalates(alert.severity, finding.severity):
        escalate(alert, finding.severity)
"""

from __future__ import annotations

from tamio.detection.models import SEVERITY_RANK, AlertSeverity, AlertStatus, DetectionAlert


def escalates(old: AlertSeverity, new: AlertSeverity) -> bool:
    """True when ``new`` is more urgent than ``old``."""
    return SEVERITY_RANK[AlertSeverity(new)] < SEVERITY_RANK[AlertSeverity(old)]


def escalate(alert: DetectionAlert, severity: AlertSeverity) -> None:
    """Raise ``alert`` to ``severity`` and mark it for announcing again.

    An acknowledgement was of the lower severity: an acknowledged alert becomes active again.
    """
    alert.previous_severity = alert.severity
    alert.severity = severity
    alert.escalated = True
    alert.escalation_count = (alert.escalation_count or 0) + 1
    if alert.status == AlertStatus.ACKNOWLEDGED:
        alert.status = AlertStatus.ACTIVE


def change_severity(alert: DetectionAlert, severity: AlertSeverity) -> bool:
    """Apply a rerun's severity to an open alert; True when that was an escalation."""
    if severity == alert.severity:
        return False
    if escalates(alert.severity, severity):
        escalate(alert, severity)
        return True
    alert.previous_severity = alert.severity
    alert.severity = severity
    return False


def reopens_dismissed(dismissed: DetectionAlert, severity: AlertSeverity) -> bool:
    """A dismissed problem is raised again only when it has become more urgent than when dismissed."""
    return escalates(dismissed.severity, severity)
