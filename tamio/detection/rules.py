"""The twelve detection rules, as a list (the way beancount lists its validations).

A rule is a pure function of an immutable snapshot of the account, today and the effective
configuration, returning findings as values; it reads no clock and touches no database. The engine
runs the rules it is asked for, in this order, and turns a rule that raises into an error record.

    for detection_type, rule in ALL_RULES:
        findings = rule(snapshot, today=today, config=config)

Meanings, thresholds and severities are documented with the rules: ``rules_counterparty`` (late
payment, client churn, revenue variance, headcount change), ``rules_payments`` (unexpected revenue
and expense) and ``rules_cash`` (buffer breach, runway, payroll safety, payment timing, vendor
terms, statutory deadlines). Fingerprints are listed in ``findings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Protocol

from tamio.detection.configuration import EffectiveConfig
from tamio.detection.findings import Finding
from tamio.detection.models import DetectionType
from tamio.detection.rules_cash import (
    buffer_breach,
    payment_timing_conflict,
    payroll_safety,
    runway_threshold,
    statutory_deadline,
    vendor_terms_expiring,
)
from tamio.detection.rules_counterparty import (
    client_churn,
    headcount_change,
    late_payment,
    revenue_variance,
)
from tamio.detection.rules_payments import unexpected_expense, unexpected_revenue
from tamio.detection.snapshot import AccountSnapshot


class Rule(Protocol):
    def __call__(self, snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]: ...


ALL_RULES: tuple[tuple[DetectionType, Rule], ...] = (
    (DetectionType.BUFFER_BREACH, buffer_breach),
    (DetectionType.PAYROLL_SAFETY, payroll_safety),
    (DetectionType.STATUTORY_DEADLINE, statutory_deadline),
    (DetectionType.RUNWAY_THRESHOLD, runway_threshold),
    (DetectionType.LATE_PAYMENT, late_payment),
    (DetectionType.CLIENT_CHURN, client_churn),
    (DetectionType.VENDOR_TERMS_EXPIRING, vendor_terms_expiring),
    (DetectionType.PAYMENT_TIMING_CONFLICT, payment_timing_conflict),
    (DetectionType.UNEXPECTED_EXPENSE, unexpected_expense),
    (DetectionType.UNEXPECTED_REVENUE, unexpected_revenue),
    (DetectionType.REVENUE_VARIANCE, revenue_variance),
    (DetectionType.HEADCOUNT_CHANGE, headcount_change),
)

RULES: Mapping[DetectionType, Rule] = MappingProxyType(dict(ALL_RULES))

__all__ = ["ALL_RULES", "RULES", "Finding", "Rule"]
