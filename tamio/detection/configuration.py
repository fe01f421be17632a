"""The thresholds detection actually uses: the account's settings after its safety mode and overrides.

A business sets its baseline in ``UserConfiguration`` (design: "V4 User Configuration") and picks a
safety mode. ``apply_safety_mode`` is the one place the design's "Safety Mode Effects" table is
applied; a ``DetectionRule`` row can then switch one detection type off or replace its threshold.

Safety mode (the table; conservative warns earlier, aggressive later):

    setting                            conservative   normal     aggressive
    obligations_buffer_amount          +25%           baseline   -25%
    late_payment_threshold_days        -25%           baseline   +25%
    unexpected_expense_threshold_pct   -25%           baseline   +25%
    runway_buffer_months               +25%           baseline   -25%

Rounding: the buffer is rounded half up to cents; days are rounded half up to whole days and never
fall below 1 (7 days -> 5 conservative, 9 aggressive); percentages and months stay exact Decimals
(6 months -> 7.5 conservative, 4.5 aggressive; 20% -> 15% / 25%). The other settings (payroll
check days and buffer, payment cluster share) are not in the table and pass through unchanged.

Overrides (``DetectionRule.threshold_override``) are taken literally: safety mode does not scale an
override, because it is a number the business chose for that one detection type. ``THRESHOLD_OF``
names the setting each type's override replaces:

    late_payment             late_payment_threshold_days (days past due)
    unexpected_revenue       unexpected_revenue_tolerance_pct (% of the expected amount, default 5)
    unexpected_expense       unexpected_expense_threshold_pct (% above expected)
    client_churn             churn_missed_payments (consecutive missed payments, default 2)
    revenue_variance         revenue_variance_pct (% off expected over 30 days, default 20)
    payment_timing_conflict  payment_cluster_threshold_pct (% of 13 weeks' outflows in one week)
    vendor_terms_expiring    vendor_notice_days (days before a vendor payment is due, default 7)
    statutory_deadline       statutory_notice_days (days before a tax deadline, default 14)
    buffer_breach            obligations_buffer_amount (money)
    runway_threshold         runway_buffer_months (months)
    payroll_safety           payroll_buffer_percent (% of the payroll left after it)
    headcount_change         headcount_lookback_days (days a new or raised payroll is news, default 30)

    config = effective_config(user_configuration_row)
    late_config = with_override(config, DetectionType.LATE_PAYMENT, Decimal("10"))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, TypeVar

from tamio.accounts.models import SafetyMode, UserConfiguration
from tamio.accounts.safety import effective_buffer, factors
from tamio.detection.models import DetectionType

T = TypeVar("T")


@dataclass(frozen=True)
class BaselineConfig:
    """The business's own settings, before safety mode (the design document's defaults)."""

    obligations_buffer_amount: Decimal = Decimal("0")
    runway_buffer_months: int = 6
    late_payment_threshold_days: int = 7
    unexpected_expense_threshold_pct: Decimal = Decimal("20")
    payroll_check_days_before: int = 7
    payroll_buffer_percent: Decimal = Decimal("10")
    payment_cluster_threshold_pct: Decimal = Decimal("40")

    @classmethod
    def of(cls, row: UserConfiguration) -> BaselineConfig:
        """The baseline of a UserConfiguration row (a column left NULL takes the default)."""
        default = cls()
        return cls(
            obligations_buffer_amount=_or(row.obligations_buffer_amount, default.obligations_buffer_amount),
            runway_buffer_months=_or(row.runway_buffer_months, default.runway_buffer_months),
            late_payment_threshold_days=_or(row.late_payment_threshold_days, default.late_payment_threshold_days),
            unexpected_expense_threshold_pct=_or(row.unexpected_expense_threshold_pct, default.unexpected_expense_threshold_pct),
            payroll_check_days_before=_or(row.payroll_check_days_before, default.payroll_check_days_before),
            payroll_buffer_percent=_or(row.payroll_buffer_percent, default.payroll_buffer_percent),
            payment_cluster_threshold_pct=_or(row.payment_cluster_threshold_pct, default.payment_cluster_threshold_pct),
        )


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


@dataclass(frozen=True)
class EffectiveConfig:
    """Every threshold a detection rule reads, after safety mode (and, per type, its override)."""

    safety_mode: SafetyMode = SafetyMode.NORMAL
    obligations_buffer_amount: Decimal = Decimal("0")
    runway_buffer_months: Decimal = Decimal("6")
    late_payment_threshold_days: int = 7
    unexpected_expense_threshold_pct: Decimal = Decimal("20")
    payroll_check_days_before: int = 7
    payroll_buffer_percent: Decimal = Decimal("10")
    payment_cluster_threshold_pct: Decimal = Decimal("40")
    # Fixed by the issue and the design's "Detection Types" table; changeable only by an override.
    unexpected_revenue_tolerance_pct: Decimal = Decimal("5")
    churn_missed_payments: int = 2
    revenue_variance_pct: Decimal = Decimal("20")
    vendor_notice_days: int = 7
    statutory_notice_days: int = 14
    headcount_lookback_days: int = 30


def _days(days: int, factor: Decimal) -> int:
    scaled = (Decimal(days) * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(1, int(scaled))


def apply_safety_mode(values: BaselineConfig, mode: SafetyMode) -> EffectiveConfig:
    """The design's "Safety Mode Effects" table, applied to a baseline."""
    stricter, looser = factors(mode)
    return EffectiveConfig(
        safety_mode=SafetyMode(mode),
        obligations_buffer_amount=effective_buffer(values.obligations_buffer_amount, mode),
        runway_buffer_months=Decimal(values.runway_buffer_months) * stricter,
        late_payment_threshold_days=_days(values.late_payment_threshold_days, looser),
        unexpected_expense_threshold_pct=values.unexpected_expense_threshold_pct * looser,
        payroll_check_days_before=values.payroll_check_days_before,
        payroll_buffer_percent=values.payroll_buffer_percent,
        payment_cluster_threshold_pct=values.payment_cluster_threshold_pct,
    )


def effective_config(row: UserConfiguration) -> EffectiveConfig:
    """An account's configuration row, with its own safety mode applied."""
    return apply_safety_mode(BaselineConfig.of(row), row.safety_mode or SafetyMode.NORMAL)


THRESHOLD_OF: Mapping[DetectionType, str] = MappingProxyType(
    {
        DetectionType.LATE_PAYMENT: "late_payment_threshold_days",
        DetectionType.UNEXPECTED_REVENUE: "unexpected_revenue_tolerance_pct",
        DetectionType.UNEXPECTED_EXPENSE: "unexpected_expense_threshold_pct",
        DetectionType.CLIENT_CHURN: "churn_missed_payments",
        DetectionType.REVENUE_VARIANCE: "revenue_variance_pct",
        DetectionType.PAYMENT_TIMING_CONFLICT: "payment_cluster_threshold_pct",
        DetectionType.VENDOR_TERMS_EXPIRING: "vendor_notice_days",
        DetectionType.STATUTORY_DEADLINE: "statutory_notice_days",
        DetectionType.BUFFER_BREACH: "obligations_buffer_amount",
        DetectionType.RUNWAY_THRESHOLD: "runway_buffer_months",
        DetectionType.PAYROLL_SAFETY: "payroll_buffer_percent",
        DetectionType.HEADCOUNT_CHANGE: "headcount_lookback_days",
    }
)

WHOLE_NUMBER_SETTINGS = frozenset(f.name for f in fields(EffectiveConfig) if f.type in ("int", int))
_INT_FIELDS = WHOLE_NUMBER_SETTINGS


def with_override(config: EffectiveConfig, detection_type: DetectionType, threshold: Decimal | None) -> EffectiveConfig:
    """``config`` with the threshold of ``detection_type`` replaced by ``threshold`` (None: unchanged).

    Whole-number settings (days, counts) take the override rounded half up, never below 1.
    """
    if threshold is None:
        return config
    name = THRESHOLD_OF[detection_type]
    value: int | Decimal = Decimal(threshold)
    if name in _INT_FIELDS:
        value = max(1, int(Decimal(threshold).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    changes: dict[str, Any] = {name: value}
    return replace(config, **changes)
