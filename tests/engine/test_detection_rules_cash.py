"""Rules about cash and deadlines, read as a business's books: fires, stays quiet, the threshold's
edge, and what each safety mode does."""

from __future__ import annotations

from datetime import date

import pytest

from tamio.accounts.models import SafetyMode
from tamio.detection.models import AlertSeverity, DetectionType
from tamio.detection.rules_cash import (
    buffer_breach,
    payment_timing_conflict,
    payroll_safety,
    runway_threshold,
    statutory_deadline,
    vendor_terms_expiring,
)
from tests.engine.detection_builders import MODES, MONDAY, Books, D, check, config, days

C, N, A = SafetyMode.CONSERVATIVE, SafetyMode.NORMAL, SafetyMode.AGGRESSIVE
EMERGENCY, THIS_WEEK = AlertSeverity.EMERGENCY, AlertSeverity.THIS_WEEK


# --- buffer breach -------------------------------------------------------------------------------------


def payroll_week(cash: str, payroll: str = "42000", *, due: date = MONDAY + days(8)) -> Books:
    books = Books().cash(cash)
    books.bill(books.vendor("Payroll", category="payroll"), payroll, due=due)
    return books


def test_cash_going_negative_after_payroll_is_an_emergency() -> None:
    [finding] = check(buffer_breach, payroll_week("30000"))
    assert finding.severity == EMERGENCY and finding.detection_type == DetectionType.BUFFER_BREACH
    assert finding.title == "Cash falls $12,000.00 below zero" and finding.amount == D("12000")
    assert finding.due_date == MONDAY + days(7)  # the week of 14 Dec
    assert "closes the week of Mon 14 Dec at -$12,000.00" in finding.explanation and "(12 weeks below)" in finding.explanation


def test_enough_cash_is_no_breach() -> None:
    assert check(buffer_breach, payroll_week("50000")) == []


@pytest.mark.parametrize(("cash", "fires"), [("52000", False), ("51999.99", True)])
def test_buffer_edge_closing_exactly_at_the_buffer_is_fine(cash: str, fires: bool) -> None:
    cfg = config(obligations_buffer_amount=D("10000"))
    assert bool(check(buffer_breach, payroll_week(cash), cfg=cfg)) is fires


@pytest.mark.parametrize(("cash", "fires_in"), [("53000", {C}), ("51000", {C, N}), ("49000", {C, N, A}), ("55000", set())])
def test_safety_mode_moves_the_buffer(cash: str, fires_in: set[SafetyMode]) -> None:
    # a 10,000 buffer: 12,500 conservative, 10,000 normal, 7,500 aggressive; the week closes at cash - 42,000
    found = {m for m in MODES if check(buffer_breach, payroll_week(cash), cfg=config(m, obligations_buffer_amount=D("10000")))}
    assert found == fires_in


def test_a_breach_whose_lowest_week_moves_stays_the_same_alert() -> None:
    early = check(buffer_breach, payroll_week("30000", due=MONDAY + days(8)))
    later = check(buffer_breach, payroll_week("20000", due=MONDAY + days(30)))
    assert early[0].fingerprint == later[0].fingerprint == "buffer_breach:account"
    assert early[0].due_date != later[0].due_date


# --- runway ------------------------------------------------------------------------------------------------


def burning(cash: str, per_week: str = "10000") -> Books:
    return Books().cash(cash).spend_evenly(per_week)


def test_ten_weeks_of_cash_is_an_emergency() -> None:
    [finding] = check(runway_threshold, burning("100000"))
    assert finding.severity == EMERGENCY and finding.title == "Runway is 10 weeks (2.3 months)"
    assert finding.amount == D("43482.14")  # 10,000 a week is 43,482.14 a month
    assert "a runway of 10 weeks (2.3 months), under your 6-month threshold" in finding.explanation
    assert finding.fingerprint == "runway_threshold:account"


def test_four_and_a_half_months_needs_a_look_this_week() -> None:
    [finding] = check(runway_threshold, burning("200000"))  # 20 weeks
    # Past the 13 weeks the runway is "more than 13 weeks" everywhere; the alert's months are an estimate
    assert finding.severity == THIS_WEEK and finding.title == "Runway is more than 13 weeks, about 4.6 months at this pace"


def test_cash_already_under_the_buffer_says_so_not_0_weeks() -> None:
    [finding] = check(runway_threshold, burning("1000"), cfg=config(obligations_buffer_amount=D("5000")))
    assert finding.title == "Cash is already below the buffer"
    assert "0 weeks" not in finding.explanation and "0 months" not in finding.explanation


def test_a_business_that_is_not_burning_cash_has_no_runway_problem() -> None:
    assert check(runway_threshold, Books().cash("5000")) == []
    assert check(runway_threshold, burning("1000000", "1000")) == []


@pytest.mark.parametrize(("cash", "severity"), [("261000", None), ("257000", THIS_WEEK), ("129000", THIS_WEEK), ("128000", EMERGENCY)])
def test_runway_edges(cash: str, severity: AlertSeverity | None) -> None:
    # 26.1 weeks = 6.0 months (not under 6); 25.7 = 5.9; 12.9 weeks = 3.0 months (not under 3); 12.8 = 2.9
    assert [f.severity for f in check(runway_threshold, burning(cash))] == ([severity] if severity else [])


@pytest.mark.parametrize(("cash", "fires_in"), [("304000", {C}), ("217000", {C, N}), ("150000", {C, N, A}), ("400000", set())])
def test_safety_mode_moves_the_runway_threshold(cash: str, fires_in: set[SafetyMode]) -> None:
    # 7.0 months fires under 7.5 (conservative) only; 5.0 under 7.5 and 6; 3.5 under all three
    assert {m for m in MODES if check(runway_threshold, burning(cash), mode=m)} == fires_in


def test_runway_is_measured_to_the_effective_buffer() -> None:
    assert check(runway_threshold, burning("400000")) == []
    assert len(check(runway_threshold, burning("400000"), cfg=config(obligations_buffer_amount=D("200000")))) == 1


# --- payroll safety -------------------------------------------------------------------------------------------


def test_payroll_in_three_days_that_leaves_too_little_is_an_emergency() -> None:
    books = payroll_week("45000", due=MONDAY + days(3))
    [finding] = check(payroll_safety, books)
    assert finding.severity == EMERGENCY and finding.title == "Payroll on Thu 10 Dec is $1,200.00 short"
    assert finding.amount == D("1200") and finding.entity_id == books.schedules[0].id
    assert "leaves $3,000.00 in cash; you want at least 10% of it ($4,200.00)" in finding.explanation
    assert finding.context["schedule_id"] == books.schedules[0].id


def test_payroll_with_its_buffer_covered_is_safe() -> None:
    assert check(payroll_safety, payroll_week("50000", due=MONDAY + days(3))) == []


@pytest.mark.parametrize(("cash", "fires"), [("46200", False), ("46199.99", True)])
def test_payroll_buffer_edge(cash: str, fires: bool) -> None:
    assert bool(check(payroll_safety, payroll_week(cash, due=MONDAY + days(3)))) is fires


@pytest.mark.parametrize(("due_in", "severity"), [(0, EMERGENCY), (4, EMERGENCY), (5, THIS_WEEK), (7, THIS_WEEK), (8, None)])
def test_payroll_window_and_severity_edges(due_in: int, severity: AlertSeverity | None) -> None:
    found = check(payroll_safety, payroll_week("30000", due=MONDAY + days(due_in)))
    assert [f.severity for f in found] == ([severity] if severity else [])


def test_money_arriving_on_payroll_day_counts_but_not_the_day_after() -> None:
    books = payroll_week("42000", due=MONDAY + days(3))
    acme = books.client("Acme Corp")
    books.invoice(acme, "5000", due=MONDAY + days(3))
    assert check(payroll_safety, books) == []
    books = payroll_week("42000", due=MONDAY + days(3))
    books.invoice(books.client("Acme Corp"), "5000", due=MONDAY + days(4))  # same forecast week, too late
    assert len(check(payroll_safety, books)) == 1


@pytest.mark.parametrize("mode", MODES)
def test_safety_mode_does_not_change_payroll_safety(mode: SafetyMode) -> None:
    assert len(check(payroll_safety, payroll_week("46000", due=MONDAY + days(3)), mode=mode)) == 1
    assert check(payroll_safety, payroll_week("46500", due=MONDAY + days(3)), mode=mode) == []


# --- payment timing conflict -----------------------------------------------------------------------------------


def weekly_rent_and(extra: str, *, extra_due: date = MONDAY + days(16), weeks: int = 13) -> Books:
    books = Books().cash("100000")
    rent = books.vendor("Landlord")
    for week in range(weeks):
        books.bill(rent, "1000", due=MONDAY + days(7 * week + 1))
    books.bill(books.vendor("Tax Office", category="tax"), extra, due=extra_due)
    return books


def test_a_week_holding_half_the_quarters_payments_is_a_cluster() -> None:
    books = weekly_rent_and("10000")
    [finding] = check(payment_timing_conflict, books)
    assert finding.severity == THIS_WEEK and finding.due_date == MONDAY + days(14)
    assert finding.title == "47.8% of the next 13 weeks' payments fall in the week of Mon 21 Dec"
    assert finding.amount == D("11000") and finding.fingerprint == "payment_timing_conflict:day:2026-12-23"


def test_payments_spread_evenly_are_no_cluster() -> None:
    assert check(payment_timing_conflict, weekly_rent_and("1000")) == []
    assert check(payment_timing_conflict, Books().cash("1000")) == []


@pytest.mark.parametrize(("extra", "fires"), [("4000", False), ("4000.01", True)])
def test_cluster_edge(extra: str, fires: bool) -> None:
    # six weeks of 1,000 and one week of 4,000: exactly 40% of 10,000 is allowed
    books = weekly_rent_and(extra, weeks=6, extra_due=MONDAY + days(45))
    assert bool(check(payment_timing_conflict, books)) is fires


def test_the_cluster_keeps_its_fingerprint_as_the_forecast_weeks_roll() -> None:
    books = weekly_rent_and("10000")
    assert check(payment_timing_conflict, books)[0].fingerprint == check(payment_timing_conflict, books, today=MONDAY + days(1))[0].fingerprint


@pytest.mark.parametrize("mode", MODES)
def test_safety_mode_does_not_change_the_cluster_limit(mode: SafetyMode) -> None:
    assert len(check(payment_timing_conflict, weekly_rent_and("10000"), mode=mode)) == 1
    assert check(payment_timing_conflict, weekly_rent_and("3000"), mode=mode) == []


# --- vendor terms --------------------------------------------------------------------------------------------------


def vendor_bill(due_in: int, *, category: str = "operating", paid: str = "0") -> Books:
    books = Books().cash("50000")
    books.bill(books.vendor("Cloud Host", category=category, terms="net_30", terms_days=30), "2500", due=MONDAY + days(due_in), paid=paid)
    return books


def test_a_vendor_payment_due_in_three_days_is_flagged() -> None:
    books = vendor_bill(3)
    [finding] = check(vendor_terms_expiring, books)
    assert finding.severity == THIS_WEEK and finding.title == "Cloud Host: $2,500.00 is due Thu 10 Dec, in 3 days"
    assert finding.explanation == "The $2,500.00 payment to Cloud Host is due Thu 10 Dec, in 3 days (net 30 terms)."
    assert (finding.entity_type, finding.entity_id, finding.amount) == ("expense", books.schedules[0].vendor_id, D("2500"))
    assert finding.context["schedule_id"] == books.schedules[0].id and finding.context["vendor_id"] == books.schedules[0].vendor_id


def test_an_unpaid_vendor_bill_past_its_terms_stays_flagged() -> None:
    [finding] = check(vendor_terms_expiring, vendor_bill(-2))
    assert "was due Sat 5 Dec, 2 days ago" in finding.title


def test_paid_bills_payroll_and_taxes_are_not_vendor_terms() -> None:
    assert check(vendor_terms_expiring, vendor_bill(3, paid="2500")) == []
    assert check(vendor_terms_expiring, vendor_bill(3, category="payroll")) == []
    assert check(vendor_terms_expiring, vendor_bill(3, category="tax")) == []


@pytest.mark.parametrize(("due_in", "fires"), [(0, True), (7, True), (8, False)])
def test_vendor_notice_edge(due_in: int, fires: bool) -> None:
    assert bool(check(vendor_terms_expiring, vendor_bill(due_in))) is fires


@pytest.mark.parametrize("mode", MODES)
def test_safety_mode_does_not_change_vendor_notice(mode: SafetyMode) -> None:
    assert len(check(vendor_terms_expiring, vendor_bill(7), mode=mode)) == 1
    assert check(vendor_terms_expiring, vendor_bill(8), mode=mode) == []


# --- statutory deadlines ------------------------------------------------------------------------------------------


def tax_due(due_in: int, *, category: str = "tax", paid: str = "0") -> Books:
    books = Books().cash("50000")
    books.bill(books.vendor("HMRC VAT", category=category), "4200", due=MONDAY + days(due_in), paid=paid)
    return books


def test_vat_due_in_two_days_is_an_emergency() -> None:
    books = tax_due(2)
    [finding] = check(statutory_deadline, books)
    assert finding.severity == EMERGENCY and finding.title == "HMRC VAT: $4,200.00 is due Wed 9 Dec, in 2 days"
    assert (finding.entity_type, finding.entity_id) == ("obligation", books.schedules[0].id)
    assert "penalties" in finding.explanation


@pytest.mark.parametrize(("due_in", "severity"), [(-1, EMERGENCY), (0, EMERGENCY), (2, EMERGENCY), (3, THIS_WEEK), (14, THIS_WEEK), (15, None)])
def test_statutory_edges(due_in: int, severity: AlertSeverity | None) -> None:
    assert [f.severity for f in check(statutory_deadline, tax_due(due_in))] == ([severity] if severity else [])


def test_statutory_filings_count_and_ordinary_bills_or_paid_taxes_do_not() -> None:
    assert len(check(statutory_deadline, tax_due(5, category="statutory"))) == 1
    assert check(statutory_deadline, tax_due(5, category="operating")) == []
    assert check(statutory_deadline, tax_due(5, paid="4200")) == []


@pytest.mark.parametrize("mode", MODES)
def test_safety_mode_does_not_change_statutory_notice(mode: SafetyMode) -> None:
    assert [f.severity for f in check(statutory_deadline, tax_due(2), mode=mode)] == [EMERGENCY]
    assert check(statutory_deadline, tax_due(15), mode=mode) == []


def test_a_shortfall_bigger_than_the_payroll_is_an_emergency_even_a_week_out() -> None:
    # 4,000 payroll in 7 days with -15,400 in the bank before it: 19,800 short, not "this week"
    books = payroll_week("-15400", "4000", due=MONDAY + days(7))
    [finding] = check(payroll_safety, books)
    assert finding.amount == D("19800") and finding.severity == EMERGENCY
    [modest] = check(payroll_safety, payroll_week("30000", due=MONDAY + days(7)))
    assert modest.severity == THIS_WEEK  # 16,200 short of a 42,000 payroll: a look this week
