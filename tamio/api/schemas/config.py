"""Bodies of the user-configuration routes (design: "V4 User Configuration").

The stored settings are the business's baseline; ``effective`` shows them after the safety mode
("Safety Mode Effects"), which is what detection uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tamio.accounts.models import SafetyMode, UserConfiguration
from tamio.api.types import (
    BODY_CONFIG,
    OUT_CONFIG,
    DecimalOut,
    Id,
    MoneyOut,
    Percent,
    PositiveAmount,
    money_out,
)
from tamio.detection.configuration import effective_config

SETTING_FIELDS = (
    "obligations_buffer_amount", "runway_buffer_months", "late_payment_threshold_days", "unexpected_expense_threshold_pct",
    "safety_mode", "payroll_check_days_before", "payroll_buffer_percent", "payment_cluster_threshold_pct", "chase_cooloff_days",
)


class UserConfigUpdate(BaseModel):
    """The settings to change; settings left out keep their values."""

    model_config = BODY_CONFIG
    obligations_buffer_amount: PositiveAmount | None = Field(None, description="minimum cash to keep, in the base currency")
    runway_buffer_months: int | None = Field(None, ge=1, le=60, description="warn when runway falls below this")
    late_payment_threshold_days: int | None = Field(None, ge=1, le=365, description="days past due before a payment is late")
    unexpected_expense_threshold_pct: Percent | None = Field(None, description="a spike above expected, in percent")
    safety_mode: SafetyMode | None = None
    payroll_check_days_before: int | None = Field(None, ge=0, le=60)
    payroll_buffer_percent: Percent | None = Field(None, description="cash to keep after payroll, in percent of it")
    payment_cluster_threshold_pct: Percent | None = Field(None, description="most of 13 weeks' outflows due in one week")
    chase_cooloff_days: int | None = Field(None, ge=0, le=365, description="days after a chase email before another is proposed")

    def changes(self) -> dict[str, Any]:
        """The settings given (an explicit null means "leave it", like leaving it out)."""
        return {name: getattr(self, name) for name in SETTING_FIELDS if getattr(self, name) is not None}


class UserConfigCreate(UserConfigUpdate):
    """A configuration for the account ``user_id`` (the token's own account); defaults fill the rest."""

    user_id: Id


class EffectiveSettingsOut(BaseModel):
    model_config = OUT_CONFIG
    safety_mode: SafetyMode
    obligations_buffer_amount: MoneyOut
    runway_buffer_months: DecimalOut
    late_payment_threshold_days: int
    unexpected_expense_threshold_pct: DecimalOut
    payroll_check_days_before: int
    payroll_buffer_percent: DecimalOut
    payment_cluster_threshold_pct: DecimalOut


class UserConfigOut(BaseModel):
    model_config = OUT_CONFIG
    user_id: str
    obligations_buffer_amount: MoneyOut
    runway_buffer_months: int
    late_payment_threshold_days: int
    unexpected_expense_threshold_pct: DecimalOut
    safety_mode: SafetyMode
    payroll_check_days_before: int
    payroll_buffer_percent: DecimalOut
    payment_cluster_threshold_pct: DecimalOut
    chase_cooloff_days: int
    effective: EffectiveSettingsOut
    created_at: datetime
    updated_at: datetime


def user_config_out(config: UserConfiguration, *, base_currency: str) -> UserConfigOut:
    effective = effective_config(config)
    return UserConfigOut(
        user_id=config.user_id,
        obligations_buffer_amount=money_out(config.obligations_buffer_amount, base_currency),
        runway_buffer_months=config.runway_buffer_months,
        late_payment_threshold_days=config.late_payment_threshold_days,
        unexpected_expense_threshold_pct=format(config.unexpected_expense_threshold_pct, "f"),
        safety_mode=config.safety_mode,
        payroll_check_days_before=config.payroll_check_days_before,
        payroll_buffer_percent=format(config.payroll_buffer_percent, "f"),
        payment_cluster_threshold_pct=format(config.payment_cluster_threshold_pct, "f"),
        chase_cooloff_days=config.chase_cooloff_days,
        effective=EffectiveSettingsOut(
            safety_mode=effective.safety_mode,
            obligations_buffer_amount=money_out(effective.obligations_buffer_amount, base_currency),
            runway_buffer_months=format(effective.runway_buffer_months, "f"),
            late_payment_threshold_days=effective.late_payment_threshold_days,
            unexpected_expense_threshold_pct=format(effective.unexpected_expense_threshold_pct, "f"),
            payroll_check_days_before=effective.payroll_check_days_before,
            payroll_buffer_percent=format(effective.payroll_buffer_percent, "f"),
            payment_cluster_threshold_pct=format(effective.payment_cluster_threshold_pct, "f"),
        ),
        created_at=config.created_at,
        updated_at=config.updated_at,
    )
