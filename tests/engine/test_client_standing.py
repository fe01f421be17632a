"""A client's revenue share and payment risk, from its receipts, receivables and lateness (issue 19 item 7)."""

from __future__ import annotations

from decimal import Decimal

from tamio.data.models import RiskLevel
from tamio.obligations.standing import risk_of, standings


def test_the_share_is_of_the_last_years_receipts_and_the_risk_follows_lateness() -> None:
    found = standings({"acme": Decimal("30000"), "beta": Decimal("10000")}, {"acme": Decimal("1"), "gamma": Decimal("99")},
                      {"beta": [40, 35], "acme": [0, 2, -3]})
    assert (found["acme"].revenue_percent, found["acme"].basis, found["acme"].risk) == (Decimal("75.0"), "received", RiskLevel.LOW)
    assert (found["beta"].revenue_percent, found["beta"].risk, found["beta"].avg_days_late) == (Decimal("25.0"), RiskLevel.HIGH, 38)
    assert found["gamma"].revenue_percent == Decimal("0.0") and found["gamma"].risk is None


def test_without_receipts_the_share_is_of_what_is_expected() -> None:
    found = standings({}, {"acme": Decimal("2000"), "beta": Decimal("6000")}, {})
    assert (found["beta"].revenue_percent, found["beta"].basis) == (Decimal("75.0"), "expected")
    assert standings({}, {}, {"acme": [3]})["acme"].revenue_percent is None


def test_risk_by_average_lateness_and_a_long_overdue_invoice() -> None:
    assert [risk_of(d) for d in ([], [5], [20], [45], [70])] == [None, RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL]
    assert risk_of([0, 0, 0, 120]) == RiskLevel.CRITICAL  # one invoice four months overdue
