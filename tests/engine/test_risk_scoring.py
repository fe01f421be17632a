"""Risk scores order actions the way a finance person would, and the composite keeps its weights."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tamio.errors import ValidationError
from tamio.preparation.risk_scoring import (
    FinancialFactors,
    OperationalFactors,
    RelationshipFactors,
    RiskScore,
    composite_risk,
    financial_cost,
    operational_risk,
    relationship_risk,
    risk_level,
    score_action,
)

D = Decimal
EMAIL = OperationalFactors(reversibility="partly_reversible", days_until_deadline=7)
PAYMENT = OperationalFactors(reversibility="irreversible", days_until_deadline=7)


def in_unit_interval(value: Decimal) -> bool:
    return D(0) <= value <= D(1) and value == value.quantize(D("0.0001"))


# --- relationship risk -------------------------------------------------------------------------


def test_delaying_a_critical_vendor_is_riskier_than_delaying_a_flexible_one() -> None:
    vendor = RelationshipFactors(flexibility_level="negotiable", prior_delays=0)
    scores = [relationship_risk(replace(vendor, criticality=level)) for level in ("critical", "important", "flexible")]
    assert scores[0] > scores[1] > scores[2]


def test_a_vendor_who_cannot_wait_is_riskier_to_delay() -> None:
    vendor = RelationshipFactors(criticality="important")
    scores = [
        relationship_risk(replace(vendor, flexibility_level=level)) for level in ("cannot_delay", "negotiable", "can_delay")
    ]
    assert scores[0] > scores[1] > scores[2]


def test_each_earlier_delay_makes_the_next_one_riskier_up_to_three() -> None:
    vendor = RelationshipFactors(criticality="important", flexibility_level="negotiable")
    scores = [relationship_risk(replace(vendor, prior_delays=n)) for n in range(5)]
    assert scores[0] < scores[1] < scores[2] < scores[3] == scores[4]


def test_chasing_a_strategic_client_is_riskier_than_a_transactional_one() -> None:
    client = RelationshipFactors(revenue_percent=D("10"), avg_payment_delay_days=5)
    scores = [
        relationship_risk(replace(client, relationship_type=kind)) for kind in ("strategic", "managed", "transactional")
    ]
    assert scores[0] > scores[1] > scores[2]


def test_a_large_client_is_riskier_than_a_small_one() -> None:
    client = RelationshipFactors(relationship_type="managed")
    assert relationship_risk(replace(client, revenue_percent=D("40"))) > relationship_risk(
        replace(client, revenue_percent=D("2"))
    )


def test_a_punctual_client_is_more_surprised_by_a_chaser_than_a_habitual_late_payer() -> None:
    client = RelationshipFactors(relationship_type="managed", revenue_percent=D("10"))
    on_time, late, very_late = (relationship_risk(replace(client, avg_payment_delay_days=d)) for d in (0, 30, 90))
    assert on_time > late > very_late
    assert relationship_risk(replace(client, avg_payment_delay_days=-5)) == on_time


def test_relationship_risk_values() -> None:
    assert relationship_risk(RelationshipFactors()) == D("0.5000")  # nothing known: the middle
    assert relationship_risk(RelationshipFactors(relationship_type="strategic", revenue_percent=D("40"))) == D("0.9000")
    assert relationship_risk(RelationshipFactors(criticality="flexible", flexibility_level="can_delay")) == D("0.1600")
    assert relationship_risk(
        RelationshipFactors(criticality="critical", flexibility_level="cannot_delay", prior_delays=3)
    ) == D("1.0000")


@pytest.mark.parametrize(
    ("factors", "field"),
    [
        (RelationshipFactors(relationship_type="partner"), "relationship_type"),
        (RelationshipFactors(criticality="vital"), "criticality"),
        (RelationshipFactors(flexibility_level="whenever"), "flexibility_level"),
        (RelationshipFactors(revenue_percent=D("-1")), "revenue_percent"),
        (RelationshipFactors(revenue_percent=D("101")), "revenue_percent"),
        (RelationshipFactors(prior_delays=-1), "prior_delays"),
    ],
)
def test_unknown_relationship_values_are_refused(factors: RelationshipFactors, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        relationship_risk(factors)
    assert field in caught.value.field_errors


# --- operational risk ----------------------------------------------------------------------------


def test_an_irreversible_payment_is_riskier_than_an_email() -> None:
    assert operational_risk(PAYMENT) > operational_risk(EMAIL)
    assert operational_risk(EMAIL) > operational_risk(replace(EMAIL, reversibility="reversible"))


def test_a_closer_deadline_is_riskier() -> None:
    scores = [operational_risk(replace(EMAIL, days_until_deadline=days)) for days in (-3, 0, 7, 29, 30, 90)]
    assert scores[0] == scores[1] > scores[2] > scores[3] > scores[4] == scores[5]


def test_more_steps_and_counterparties_are_riskier() -> None:
    one = operational_risk(EMAIL)
    assert operational_risk(replace(EMAIL, steps=3)) > one
    assert operational_risk(replace(EMAIL, counterparties=4)) > one
    assert operational_risk(replace(EMAIL, counterparties=0)) == one  # an internal transfer
    assert operational_risk(replace(EMAIL, steps=20, counterparties=20)) == operational_risk(
        replace(EMAIL, steps=9, counterparties=1)
    )


def test_operational_risk_values() -> None:
    assert operational_risk(EMAIL) == D("0.4300")  # 0.5*0.4 + 0.3*(1 - 7/30)
    assert operational_risk(OperationalFactors(reversibility="reversible")) == D("0.1500")  # no deadline: 0.3*0.5
    assert operational_risk(
        OperationalFactors(reversibility="irreversible", days_until_deadline=0, steps=9)
    ) == D("1.0000")


def test_unknown_operational_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        operational_risk(OperationalFactors(reversibility="maybe"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        operational_risk(replace(EMAIL, steps=0))
    with pytest.raises(ValidationError):
        operational_risk(replace(EMAIL, counterparties=-1))


# --- financial cost ------------------------------------------------------------------------------


def test_a_bigger_amount_relative_to_cash_costs_more() -> None:
    cash = D("20000")
    costs = [financial_cost(FinancialFactors(amount=D(amount), available_cash=cash)) for amount in (0, 1000, 5000, 19999)]
    assert costs == sorted(costs) and len(set(costs)) == 4
    assert costs[0] == D("0.0000") and costs[2] == D("0.2500")
    same_amount = [financial_cost(FinancialFactors(amount=D("5000"), available_cash=D(c))) for c in (100000, 20000, 6000)]
    assert same_amount[0] < same_amount[1] < same_amount[2]


def test_interest_and_fees_add_to_the_cost() -> None:
    delay = FinancialFactors(amount=D("10000"), available_cash=D("40000"))
    credit_draw = replace(delay, fees=D("400"))
    assert financial_cost(credit_draw) > financial_cost(delay)
    assert financial_cost(credit_draw) == D("0.2600")


def test_more_than_the_cash_there_is_costs_everything() -> None:
    assert financial_cost(FinancialFactors(amount=D("50000"), available_cash=D("20000"))) == D("1.0000")
    assert financial_cost(FinancialFactors(amount=D("1"), available_cash=D("0"))) == D("1.0000")
    assert financial_cost(FinancialFactors(amount=D("1"), available_cash=D("-500"))) == D("1.0000")
    assert financial_cost(FinancialFactors(amount=D("0"), available_cash=D("-500"))) == D("0.0000")


def test_negative_money_is_refused() -> None:
    with pytest.raises(ValidationError):
        financial_cost(FinancialFactors(amount=D("-1"), available_cash=D("100")))
    with pytest.raises(ValidationError):
        financial_cost(FinancialFactors(amount=D("1"), available_cash=D("100"), fees=D("-1")))


# --- composite -----------------------------------------------------------------------------------


def test_the_docstring_example() -> None:
    score = score_action(
        RelationshipFactors(relationship_type="strategic", revenue_percent=D("40")),
        EMAIL,
        FinancialFactors(amount=D("5000"), available_cash=D("20000")),
    )
    assert score == RiskScore(
        relationship=D("0.9000"), operational=D("0.4300"), financial=D("0.2500"), composite=D("0.5640"), level="medium"
    )
    with pytest.raises(FrozenInstanceError):
        score.composite = D("0")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("composite", "level"),
    [("0", "low"), ("0.3399", "low"), ("0.34", "medium"), ("0.6699", "medium"), ("0.67", "high"), ("1", "high")],
)
def test_levels(composite: str, level: str) -> None:
    assert risk_level(D(composite)) == level


def test_paying_a_critical_vendor_late_with_no_cash_is_high_and_chasing_a_small_client_is_low() -> None:
    risky = score_action(
        RelationshipFactors(criticality="critical", flexibility_level="cannot_delay", prior_delays=2),
        OperationalFactors(reversibility="irreversible", days_until_deadline=1, steps=2, counterparties=2),
        FinancialFactors(amount=D("30000"), available_cash=D("25000")),
    )
    easy = score_action(
        RelationshipFactors(relationship_type="transactional", revenue_percent=D("2"), avg_payment_delay_days=40),
        OperationalFactors(reversibility="partly_reversible", days_until_deadline=30),
        FinancialFactors(amount=D("800"), available_cash=D("60000")),
    )
    assert risky.level == "high" and easy.level == "low"


def test_a_component_outside_zero_to_one_is_refused() -> None:
    for bad in (D("-0.0001"), D("1.0001"), D("NaN")):
        with pytest.raises(ValueError):
            composite_risk(bad, D("0.5"), D("0.5"))


unit = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


@given(unit, unit, unit)
def test_composite_is_the_weighted_sum_and_stays_in_range(r: Decimal, o: Decimal, f: Decimal) -> None:
    score = composite_risk(r, o, f)
    expected = D("0.4") * r + D("0.3") * o + D("0.3") * f
    assert abs(score.composite - expected) <= D("0.00005")
    assert score.composite == expected.quantize(D("0.0001"))
    assert in_unit_interval(score.composite)
    assert (score.relationship, score.operational, score.financial) == (r, o, f)
    assert score.level == risk_level(score.composite)


@given(
    relationship_type=st.none() | st.sampled_from(["strategic", "managed", "transactional"]),
    revenue_percent=st.none() | st.decimals(min_value=0, max_value=100, places=2),
    avg_payment_delay_days=st.none() | st.integers(min_value=-30, max_value=400),
    criticality=st.none() | st.sampled_from(["critical", "important", "flexible"]),
    flexibility_level=st.none() | st.sampled_from(["cannot_delay", "negotiable", "can_delay"]),
    prior_delays=st.none() | st.integers(min_value=0, max_value=50),
    reversibility=st.sampled_from(["reversible", "partly_reversible", "irreversible"]),
    days_until_deadline=st.none() | st.integers(min_value=-100, max_value=400),
    steps=st.integers(min_value=1, max_value=30),
    counterparties=st.integers(min_value=0, max_value=30),
    amount=st.decimals(min_value=0, max_value=10**12, places=2),
    cash=st.decimals(min_value=-(10**9), max_value=10**12, places=2),
    fees=st.decimals(min_value=0, max_value=10**6, places=2),
)
def test_every_score_is_between_zero_and_one(
    relationship_type: str | None,
    revenue_percent: Decimal | None,
    avg_payment_delay_days: int | None,
    criticality: str | None,
    flexibility_level: str | None,
    prior_delays: int | None,
    reversibility: str,
    days_until_deadline: int | None,
    steps: int,
    counterparties: int,
    amount: Decimal,
    cash: Decimal,
    fees: Decimal,
) -> None:
    score = score_action(
        RelationshipFactors(
            relationship_type, revenue_percent, avg_payment_delay_days, criticality, flexibility_level, prior_delays
        ),
        OperationalFactors(reversibility, days_until_deadline, steps, counterparties),  # type: ignore[arg-type]
        FinancialFactors(amount, cash, fees),
    )
    for value in (score.relationship, score.operational, score.financial, score.composite):
        assert in_unit_interval(value)
