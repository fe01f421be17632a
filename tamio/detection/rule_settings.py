"""Detection rules switched off or re-thresholded by admins: one function for Slack, the API and the CLI.

A ``DetectionRule`` row per account and type holds the switch and the override the engine applies
(``tamio.detection.configuration.with_override``); no row means on, at the configuration's threshold.
``update_detection_rule`` checks the permission table (admins), validates, writes and audits in the
caller's transaction; the next run settles the open alerts of a type switched off.

    await update_detection_rule(db, account=account, member=admin, detection_type="late_payment",
                                changes={"threshold": Decimal("10")}, now=now)
    [(r.detection_type.value, r.enabled, r.threshold) for r in await list_detection_rules(db, account_id=account.id)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.accounts.permissions import Operation, check
from tamio.accounts.service import get_user_configuration
from tamio.audit.service import AuditService
from tamio.detection.configuration import THRESHOLD_OF, WHOLE_NUMBER_SETTINGS, effective_config
from tamio.detection.models import DetectionRule, DetectionType
from tamio.errors import NotFound, ValidationError

MAX_THRESHOLD = Decimal(10) ** 12


def unit_of(detection_type: DetectionType) -> str:
    name = THRESHOLD_OF[detection_type]
    if name.endswith("_days"):
        return "days"
    if name.endswith(("_pct", "_percent")):
        return "%"
    if name.endswith("_months"):
        return "months"
    if name == "churn_missed_payments":
        return "missed payments"
    return ""  # money, in the base currency


@dataclass(frozen=True)
class DetectionRuleView:
    detection_type: DetectionType
    enabled: bool
    threshold: Decimal | None  # the override; None: the configuration's
    configured: Decimal  # the configuration's threshold (safety mode applied)
    unit: str

    @property
    def in_effect(self) -> Decimal:
        return self.threshold if self.threshold is not None else self.configured

    def describe(self, amount: Any = None) -> str:
        """``on · threshold 10 days (set here; configuration 7 days)`` or ``off``."""
        if not self.enabled:
            return "off"
        shown = amount(self.in_effect) if amount and not self.unit else f"{self.in_effect.normalize():f} {self.unit}".strip()
        source = "set here" if self.threshold is not None else "from the configuration"
        return f"on · threshold {shown} ({source})"


def read_detection_type(name: str) -> DetectionType:
    try:
        return DetectionType(name.strip().lower())
    except ValueError as exc:
        raise NotFound(f"There is no detection rule `{name[:40]}`.",
                       hint="Rules: " + ", ".join(t.value for t in DetectionType) + ".") from exc


def read_rule_words(words: list[str]) -> tuple[DetectionType, dict[str, Any]] | None:
    """``late_payment off``, ``late_payment threshold 10``, ``late_payment threshold none``: what Slack and the CLI accept.

    No words: None (list the rules). Errors say what would be right.
    """
    if not words:
        return None
    kind = read_detection_type(words[0])
    rest = [w.lower() for w in words[1:]]
    if rest in (["on"], ["off"]):
        return kind, {"enabled": rest[0] == "on"}
    if len(rest) == 2 and rest[0] == "threshold":
        return kind, {"threshold": None if rest[1] in ("none", "default") else _threshold(kind, words[2])}
    raise ValidationError(f"Say `on`, `off`, `threshold N` or `threshold none` after `{kind.value}`.",
                          hint=f"Like `detection {kind.value} threshold 10` or `detection {kind.value} off`.")


async def list_detection_rules(db: AsyncSession, *, account_id: str) -> list[DetectionRuleView]:
    """Every detection type, in the design's order, as this account runs it."""
    config = effective_config(await get_user_configuration(db, account_id=account_id))
    rows = {r.detection_type: r for r in (await db.execute(select(DetectionRule).where(DetectionRule.user_id == account_id))).scalars()}
    views = []
    for kind in DetectionType:
        row = rows.get(kind)
        views.append(DetectionRuleView(
            detection_type=kind, enabled=row.enabled if row else True, threshold=row.threshold_override if row else None,
            configured=Decimal(getattr(config, THRESHOLD_OF[kind])), unit=unit_of(kind),
        ))
    return views


def _threshold(kind: DetectionType, raw: Any) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "default")):
        return None
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).replace(",", "").strip())
    except InvalidOperation as exc:
        raise ValidationError(f"`{str(raw)[:40]}` is not a threshold; write a number like 10.", field_errors={"threshold": "a number"}) from exc
    if not value.is_finite() or value <= 0 or value > MAX_THRESHOLD:
        raise ValidationError("A threshold is a number above zero (at most 10^12).", field_errors={"threshold": "above zero"})
    if THRESHOLD_OF[kind] in WHOLE_NUMBER_SETTINGS and value != value.to_integral_value():
        raise ValidationError(f"The {kind.value} threshold counts whole {unit_of(kind) or 'units'}; write it like 10.",
                              field_errors={"threshold": "a whole number"})
    return value


async def update_detection_rule(
    db: AsyncSession, *, account: Account, member: Member | None, detection_type: str, changes: Mapping[str, Any], now: datetime,
    token: bool = False,
) -> DetectionRuleView:
    """Switch a rule (``enabled``) or set its threshold (``threshold``; None goes back to the configuration's)."""
    check(member.role if member else None, Operation.CHANGE_SETTINGS, doing="change detection rules", token=token)
    assert member is not None
    kind = read_detection_type(detection_type)
    unknown = set(changes) - {"enabled", "threshold"}
    if unknown:
        raise ValidationError(f"A detection rule has no {', '.join(sorted(unknown))}; you can change enabled and threshold.",
                              field_errors={name: "unknown field" for name in unknown})
    if "enabled" in changes and not isinstance(changes["enabled"], bool):
        raise ValidationError("`enabled` is true or false.", field_errors={"enabled": "true or false"})
    row = (await db.execute(select(DetectionRule).where(DetectionRule.user_id == account.id, DetectionRule.detection_type == kind))).scalar_one_or_none()
    wanted: dict[str, Any] = {}
    if "enabled" in changes:
        wanted["enabled"] = changes["enabled"]
    if "threshold" in changes:
        wanted["threshold_override"] = _threshold(kind, changes["threshold"])
    current = {"enabled": row.enabled if row else True, "threshold_override": row.threshold_override if row else None}
    diff = {name: (current[name], value) for name, value in wanted.items() if current[name] != value}
    if diff:
        if row is None:
            row = DetectionRule(user_id=account.id, detection_type=kind, enabled=True, threshold_override=None, params={},
                                created_at=now, updated_at=now)
            db.add(row)
        for name, (_, value) in diff.items():
            setattr(row, name, value)
        row.updated_at = now
        await db.flush()
        await AuditService(db, account.id, actor=member.id, clock=lambda: now).log_update("detection_rule", row.id, diff)
    return next(v for v in await list_detection_rules(db, account_id=account.id) if v.detection_type == kind)
