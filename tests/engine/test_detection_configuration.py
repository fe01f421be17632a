"""Safety modes move each threshold of the design's table by 25% in its direction; overrides replace one."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest

from tamio.accounts.models import SafetyMode
from tamio.detection.configuration import (
    THRESHOLD_OF,
    BaselineConfig,
    EffectiveConfig,
    apply_safety_mode,
    with_override,
)
from tamio.detection.models import DetectionType

D = Decimal
DEFAULTS = BaselineConfig()
C, N, A = SafetyMode.CONSERVATIVE, SafetyMode.NORMAL, SafetyMode.AGGRESSIVE


def test_the_defaults_are_the_design_documents() -> None:
    assert DEFAULTS == BaselineConfig(
        obligations_buffer_amount=D("0"), runway_buffer_months=6, late_payment_threshold_days=7,
        unexpected_expense_threshold_pct=D("20"), payroll_check_days_before=7, payroll_buffer_percent=D("10"),
        payment_cluster_threshold_pct=D("40"),
    )


# One test per row of "Safety Mode Effects": conservative, normal, aggressive.

@pytest.mark.parametrize(("mode", "expected"), [(C, D("12500.00")), (N, D("10000.00")), (A, D("7500.00"))])
def test_buffer_threshold_row(mode: SafetyMode, expected: Decimal) -> None:
    config = apply_safety_mode(BaselineConfig(obligations_buffer_amount=D("10000")), mode)
    assert config.obligations_buffer_amount == expected


def test_buffer_is_rounded_half_up_to_cents() -> None:
    assert apply_safety_mode(BaselineConfig(obligations_buffer_amount=D("0.10")), A).obligations_buffer_amount == D("0.08")  # 0.075
    assert apply_safety_mode(BaselineConfig(obligations_buffer_amount=D("0.02")), C).obligations_buffer_amount == D("0.03")  # 0.025


@pytest.mark.parametrize(("mode", "expected"), [(C, 5), (N, 7), (A, 9)])  # 5.25 -> 5, 8.75 -> 9
def test_late_payment_days_row(mode: SafetyMode, expected: int) -> None:
    assert apply_safety_mode(DEFAULTS, mode).late_payment_threshold_days == expected


@pytest.mark.parametrize(("days", "mode", "expected"), [(2, C, 2), (2, A, 3), (1, C, 1), (1, A, 1), (10, C, 8), (10, A, 13), (30, C, 23)])
def test_late_payment_days_round_half_up_and_never_below_one(days: int, mode: SafetyMode, expected: int) -> None:
    # 2 * 0.75 = 1.5 -> 2; 2 * 1.25 = 2.5 -> 3; 1 * 0.75 -> 1; 10 * 1.25 = 12.5 -> 13; 30 * 0.75 = 22.5 -> 23
    assert apply_safety_mode(BaselineConfig(late_payment_threshold_days=days), mode).late_payment_threshold_days == expected


@pytest.mark.parametrize(("mode", "expected"), [(C, D("15")), (N, D("20")), (A, D("25"))])
def test_expense_spike_threshold_row(mode: SafetyMode, expected: Decimal) -> None:
    assert apply_safety_mode(DEFAULTS, mode).unexpected_expense_threshold_pct == expected


@pytest.mark.parametrize(("mode", "expected"), [(C, D("7.5")), (N, D("6")), (A, D("4.5"))])
def test_runway_months_row(mode: SafetyMode, expected: Decimal) -> None:
    assert apply_safety_mode(DEFAULTS, mode).runway_buffer_months == expected


@pytest.mark.parametrize("mode", [C, N, A])
def test_settings_outside_the_table_pass_through(mode: SafetyMode) -> None:
    baseline = BaselineConfig(payroll_check_days_before=5, payroll_buffer_percent=D("12.5"), payment_cluster_threshold_pct=D("35"))
    config = apply_safety_mode(baseline, mode)
    assert (config.payroll_check_days_before, config.payroll_buffer_percent, config.payment_cluster_threshold_pct) == (5, D("12.5"), D("35"))
    assert config.safety_mode == mode


def test_normal_mode_changes_nothing() -> None:
    config = apply_safety_mode(DEFAULTS, N)
    assert config == EffectiveConfig()


def test_the_effective_configuration_is_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        EffectiveConfig().late_payment_threshold_days = 3  # type: ignore[misc]


def test_every_detection_type_names_the_threshold_its_override_replaces() -> None:
    assert set(THRESHOLD_OF) == set(DetectionType)
    assert all(hasattr(EffectiveConfig(), name) for name in THRESHOLD_OF.values())


def test_an_override_replaces_the_threshold_literally_after_safety_mode() -> None:
    conservative = apply_safety_mode(DEFAULTS, C)
    late = with_override(conservative, DetectionType.LATE_PAYMENT, D("10"))
    assert late.late_payment_threshold_days == 10  # not 10 * 0.75
    assert late.unexpected_expense_threshold_pct == D("15")  # the rest keeps the mode
    buffer = with_override(conservative, DetectionType.BUFFER_BREACH, D("2500"))
    assert buffer.obligations_buffer_amount == D("2500")
    assert with_override(conservative, DetectionType.LATE_PAYMENT, None) is conservative


def test_whole_number_overrides_round_half_up_and_stay_positive() -> None:
    assert with_override(EffectiveConfig(), DetectionType.VENDOR_TERMS_EXPIRING, D("3.5")).vendor_notice_days == 4
    assert with_override(EffectiveConfig(), DetectionType.CLIENT_CHURN, D("0")).churn_missed_payments == 1
    assert with_override(EffectiveConfig(), DetectionType.RUNWAY_THRESHOLD, D("4.5")).runway_buffer_months == D("4.5")
