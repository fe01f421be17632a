"""How risky a prepared action is, so options can be ranked and the risky ones flagged.

The design document's formula::

    composite_risk = relationship_risk * 0.4 + operational_risk * 0.3 + financial_cost * 0.3

Each component is a ``Decimal`` in [0, 1] (0 = no risk), quantized to four places, and is built
only from fields the business already records.

relationship_risk — how much the action could strain the relationship with the other party. It
is the weighted mean of the signals that are known (``None`` = not known, left out; nothing known
gives 0.5):

    ====================================  ======  =================================================
    signal (field)                        weight  score
    ====================================  ======  =================================================
    relationship_type                     3       strategic 1.0, managed 0.6, transactional 0.2
    revenue_percent (concentration)       3       revenue_percent / 50, at most 1 (40 % -> 0.8)
    avg_payment_delay_days (history)      1       0.8 for a client who pays on time, falling to
                                                  0.2 at 60+ days late: a chaser surprises a
                                                  punctual client more than a habitual late payer
    criticality (vendor)                  3       critical 1.0, important 0.6, flexible 0.2
    flexibility_level (vendor)            2       cannot_delay 1.0, negotiable 0.5, can_delay 0.1
    prior_delays (len of delay_history)   2       prior_delays / 3, at most 1
    ====================================  ======  =================================================

operational_risk — how hard the action is to get right and to undo:
``0.5 * reversibility + 0.3 * time_sensitivity + 0.2 * complexity`` where reversibility is
``reversible`` 0.0 (an internal schedule change, a draft), ``partly_reversible`` 0.4 (an email:
sent is sent, but it can be followed up or apologised for) or ``irreversible`` 1.0 (a payment, a
credit-line draw); time_sensitivity is ``1 - days_until_deadline / 30`` (clamped, 1.0 when the
deadline is today or past, 0.5 when there is none); complexity is
``(steps - 1 + counterparties - 1) / 8`` clamped to [0, 1].

financial_cost — money at stake against the cash there is:
``(amount + fees) / available_cash`` clamped to [0, 1], where ``fees`` is any money the action
itself costs (a credit line's interest, a late fee, a lost early-payment discount). With no cash
(``available_cash <= 0``) any amount costs 1.

Levels: composite below 0.34 is ``low``, below 0.67 ``medium``, otherwise ``high``.

    >>> client = relationship_risk(RelationshipFactors(relationship_type="strategic", revenue_percent=Decimal("40")))
    >>> email = operational_risk(OperationalFactors(reversibility="partly_reversible", days_until_deadline=7))
    >>> money = financial_cost(FinancialFactors(amount=Decimal("5000"), available_cash=Decimal("20000")))
    >>> composite_risk(client, email, money)
    RiskScore(relationship=Decimal('0.9000'), operational=Decimal('0.4300'), financial=Decimal('0.2500'), composite=Decimal('0.5640'), level='medium')
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Literal

from tamio.errors import ValidationError

RiskLevel = Literal["low", "medium", "high"]
Reversibility = Literal["reversible", "partly_reversible", "irreversible"]

ZERO = Decimal(0)
ONE = Decimal(1)
HALF = Decimal("0.5")
PLACES = Decimal("0.0001")

RELATIONSHIP_WEIGHT = Decimal("0.4")
OPERATIONAL_WEIGHT = Decimal("0.3")
FINANCIAL_WEIGHT = Decimal("0.3")
LOW_BELOW = Decimal("0.34")
MEDIUM_BELOW = Decimal("0.67")

RELATIONSHIP_TYPE_RISK = {"strategic": ONE, "managed": Decimal("0.6"), "transactional": Decimal("0.2")}
CRITICALITY_RISK = {"critical": ONE, "important": Decimal("0.6"), "flexible": Decimal("0.2")}
FLEXIBILITY_RISK = {"cannot_delay": ONE, "negotiable": HALF, "can_delay": Decimal("0.1")}
REVERSIBILITY_RISK: dict[str, Decimal] = {
    "reversible": ZERO,
    "partly_reversible": Decimal("0.4"),
    "irreversible": ONE,
}
CONCENTRATION_FULL_AT_PERCENT = Decimal(50)
PAYMENT_DELAY_FLOOR_DAYS = Decimal(60)
PRIOR_DELAYS_FULL_AT = Decimal(3)
DEADLINE_HORIZON_DAYS = Decimal(30)
COMPLEXITY_FULL_AT = Decimal(8)


@dataclass(frozen=True)
class RelationshipFactors:
    """The other party, as recorded on the client or vendor (expense bucket)."""

    relationship_type: str | None = None
    revenue_percent: Decimal | None = None
    avg_payment_delay_days: int | None = None
    criticality: str | None = None
    flexibility_level: str | None = None
    prior_delays: int | None = None


@dataclass(frozen=True)
class OperationalFactors:
    """The action itself: can it be undone, how soon it must happen, how many moving parts."""

    reversibility: Reversibility
    days_until_deadline: int | None = None
    steps: int = 1
    counterparties: int = 1


@dataclass(frozen=True)
class FinancialFactors:
    """Money at stake, the cash available, and what the action costs in fees or interest."""

    amount: Decimal
    available_cash: Decimal
    fees: Decimal = ZERO


@dataclass(frozen=True)
class RiskScore:
    relationship: Decimal
    operational: Decimal
    financial: Decimal
    composite: Decimal
    level: RiskLevel


# The scores are pure functions of frozen factors, and a run scores the same counterparty and the same
# kind of step for many options: each is remembered (an error, raised again, never is).
@lru_cache(maxsize=4096)
def relationship_risk(factors: RelationshipFactors) -> Decimal:
    """Weighted mean of the known relationship signals (table in the module docstring)."""
    signals: list[tuple[Decimal, Decimal]] = []
    if factors.relationship_type is not None:
        signals.append((Decimal(3), _lookup(RELATIONSHIP_TYPE_RISK, factors.relationship_type, "relationship_type")))
    if factors.revenue_percent is not None:
        percent = _non_negative(factors.revenue_percent, "revenue_percent")
        if percent > 100:
            raise ValidationError(
                "A client cannot bring in more than 100% of revenue.",
                field_errors={"revenue_percent": "Use a percentage between 0 and 100."},
            )
        signals.append((Decimal(3), _clamp(percent / CONCENTRATION_FULL_AT_PERCENT)))
    if factors.avg_payment_delay_days is not None:
        # Paying early counts as paying on time.
        lateness = _clamp(Decimal(max(factors.avg_payment_delay_days, 0)) / PAYMENT_DELAY_FLOOR_DAYS)
        signals.append((ONE, Decimal("0.8") - Decimal("0.6") * lateness))
    if factors.criticality is not None:
        signals.append((Decimal(3), _lookup(CRITICALITY_RISK, factors.criticality, "criticality")))
    if factors.flexibility_level is not None:
        signals.append((Decimal(2), _lookup(FLEXIBILITY_RISK, factors.flexibility_level, "flexibility_level")))
    if factors.prior_delays is not None:
        delays = _non_negative(Decimal(factors.prior_delays), "prior_delays")
        signals.append((Decimal(2), _clamp(delays / PRIOR_DELAYS_FULL_AT)))
    if not signals:
        return _quantize(HALF)
    total_weight = sum((weight for weight, _ in signals), ZERO)
    return _quantize(sum((weight * score for weight, score in signals), ZERO) / total_weight)


@lru_cache(maxsize=1024)
def operational_risk(factors: OperationalFactors) -> Decimal:
    """``0.5 * reversibility + 0.3 * time_sensitivity + 0.2 * complexity``."""
    reversibility = _lookup(REVERSIBILITY_RISK, factors.reversibility, "reversibility")
    if factors.days_until_deadline is None:
        time_sensitivity = HALF
    else:
        time_sensitivity = ONE - _clamp(Decimal(factors.days_until_deadline) / DEADLINE_HORIZON_DAYS)
    if factors.steps < 1:
        raise ValidationError("An action has at least one step.", field_errors={"steps": "Use 1 or more."})
    _non_negative(Decimal(factors.counterparties), "counterparties")
    moving_parts = (factors.steps - 1) + max(factors.counterparties - 1, 0)
    complexity = _clamp(Decimal(moving_parts) / COMPLEXITY_FULL_AT)
    return _quantize(Decimal("0.5") * reversibility + Decimal("0.3") * time_sensitivity + Decimal("0.2") * complexity)


def financial_cost(factors: FinancialFactors) -> Decimal:
    """``(amount + fees) / available_cash``, clamped to [0, 1]; 1 when there is no cash."""
    at_stake = _non_negative(factors.amount, "amount") + _non_negative(factors.fees, "fees")
    if at_stake == 0:
        return _quantize(ZERO)
    if factors.available_cash <= 0:
        return _quantize(ONE)
    return _quantize(_clamp(at_stake / factors.available_cash))


def composite_risk(relationship: Decimal, operational: Decimal, financial: Decimal) -> RiskScore:
    """Combine three component scores in [0, 1] with the design document's weights."""
    for name, value in (("relationship", relationship), ("operational", operational), ("financial", financial)):
        if not value.is_finite() or not ZERO <= value <= ONE:
            raise ValueError(f"{name} risk must be between 0 and 1, got {value}")
    composite = _quantize(
        RELATIONSHIP_WEIGHT * relationship + OPERATIONAL_WEIGHT * operational + FINANCIAL_WEIGHT * financial
    )
    return RiskScore(
        relationship=relationship,
        operational=operational,
        financial=financial,
        composite=composite,
        level=risk_level(composite),
    )


def score_action(
    relationship: RelationshipFactors, operational: OperationalFactors, financial: FinancialFactors
) -> RiskScore:
    """All three components from their factors, then the composite."""
    return _composite(relationship_risk(relationship), operational_risk(operational), financial_cost(financial))


# Remembered for the components score_action makes (always four places, so equal values are the same figures).
_composite = lru_cache(maxsize=4096)(composite_risk)


def risk_level(composite: Decimal) -> RiskLevel:
    if composite < LOW_BELOW:
        return "low"
    if composite < MEDIUM_BELOW:
        return "medium"
    return "high"


def _lookup(table: dict[str, Decimal], value: str, field: str) -> Decimal:
    try:
        return table[value]
    except KeyError:
        choices = ", ".join(table)
        raise ValidationError(
            f"`{value}` is not a valid {field}.", field_errors={field: f"Use one of: {choices}."}
        ) from None


def _non_negative(value: Decimal, field: str) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValidationError(f"`{field}` must be 0 or more, got {value}.", field_errors={field: "Use 0 or more."})
    return value


def _clamp(value: Decimal) -> Decimal:
    return min(max(value, ZERO), ONE)


def _quantize(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_EVEN)
