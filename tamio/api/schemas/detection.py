"""Bodies of the detection-rule routes: each detection type as this account runs it.

``DetectionRuleOut`` is ``tamio.detection.rule_settings.DetectionRuleView``; ``DetectionRuleUpdate``
names only what changes (``threshold: null`` goes back to the configuration's threshold).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tamio.api.types import BODY_CONFIG, OUT_CONFIG, DecimalOut, PositiveAmount
from tamio.detection.rule_settings import DetectionRuleView


class DetectionRuleOut(BaseModel):
    model_config = OUT_CONFIG
    detection_type: str = Field(description="late_payment, unexpected_expense, buffer_breach, ... (the design's twelve)")
    enabled: bool = Field(description="false: the rule does not run, and its open alerts are settled on the next run")
    threshold: DecimalOut | None = Field(description="this rule's own threshold; null: the configuration's")
    configured_threshold: DecimalOut = Field(description="the configuration's threshold, safety mode applied")
    threshold_in_effect: DecimalOut
    unit: str = Field(description="days, %, months, missed payments, or empty for money in the base currency")


class DetectionRuleList(BaseModel):
    model_config = OUT_CONFIG
    rules: list[DetectionRuleOut]


class DetectionRuleUpdate(BaseModel):
    """The fields to change; those left out are kept. Admins only; audited."""

    model_config = BODY_CONFIG
    enabled: bool | None = None
    threshold: PositiveAmount | None = Field(None, description="null goes back to the configuration's threshold")

    def changes(self) -> dict[str, Any]:
        """What was sent: a field given as null is a change, one left out is not (``enabled: null`` is refused)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def detection_rule_out(view: DetectionRuleView) -> DetectionRuleOut:
    return DetectionRuleOut(
        detection_type=view.detection_type.value, enabled=view.enabled,
        threshold=format(view.threshold, "f") if view.threshold is not None else None,
        configured_threshold=format(view.configured, "f"), threshold_in_effect=format(view.in_effect, "f"), unit=view.unit,
    )
