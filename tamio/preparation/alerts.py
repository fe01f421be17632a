"""A read-only view of a DetectionAlert, what the agents work from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tamio.detection.models import DetectionAlert


@dataclass(frozen=True)
class AlertView:
    id: str
    detection_type: str
    severity: str
    entity_type: str
    entity_id: str | None
    entity_name: str
    title: str
    explanation: str
    amount: Decimal | None = None
    currency: str | None = None
    due_date: date | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, alert: DetectionAlert) -> AlertView:
        return cls(
            id=alert.id,
            detection_type=alert.detection_type.value,
            severity=alert.severity.value,
            entity_type=alert.entity_type,
            entity_id=alert.entity_id,
            entity_name=alert.entity_name,
            title=alert.title,
            explanation=alert.explanation,
            amount=alert.amount,
            currency=alert.currency,
            due_date=alert.due_date,
            context=MappingProxyType(dict(alert.context or {})),
        )
