"""Rules about clients, vendors and payroll, read as a business's books: fires, stays quiet, the
threshold's edge, and what each safety mode does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tamio.accounts.models import SafetyMode
from tamio.detection.configuration import with_override
from tamio.detection.models import AlertSeverity, DetectionType
from tamio.detection.rules_counterparty import (
    client_churn,
    headcount_change,
    late_payment,
    revenue_variance,
)
from tamio.detection.rules_payments import unexpected_expense, unexpected_revenue
from tests.engine.detection_builders import MODES, MONDAY, Books, D, check, config, days

C, N, A = SafetyMode.CONSERVATIVE, SafetyMode.NORMAL, SafetyMode.AGGRESSIVE
EMERGENCY, THIS_WEEK, UPCOMING = AlertSeverity.EMERGENCY, AlertSeverity.THIS_WEEK, AlertSeverity.UPCOMING


# --- late payment -------------------------------------------------------------------------------


def late_books(days_late: int, *, usual_delay: int = 0, paid: str = "0") -> Books:
    books = Books()
    acme = books.client("Acme Corp", usual_delay=usual_delay)
    books.invoice(acme, "8000", due=MONDAY - days(days_late), paid=paid, number="INV-12")
    return books


def test_an_invoice_16_days_late_needs_a_look_this_week() -> None:
    books = late_books(16, usual_delay=3)
    [finding] = check(late_payment, books)
    schedule = books.schedules[0]
    assert finding.severity == THIS_WEEK and finding.detection_type == DetectionType.LATE_PAYMENT
    assert finding.title == "Acme Corp is 16 days late"
    assert "Invoice INV-12 for $8,000.00 was due Sat 21 Nov" in finding.explanation and "usually pays 3 days late" in finding.explanation
    assert (finding.entity_type, finding.entity_id, finding.amount, finding.currency) == ("client", schedule.client_id, D("8000"), "USD")
    assert finding.fingerprint == f"late_payment:schedule:{schedule.id}"
    assert finding.context["schedule_id"] == schedule.id and finding.context["days_late"] == 16


def test_a_client_with_no_payments_on_record_is_not_said_to_pay_on_time() -> None:
    [finding] = check(late_payment, late_books(16))
    assert "Acme Corp has no payments on record yet" in finding.explanation and "on time" not in finding.explanation
    [early] = check(late_payment, late_books(16, usual_delay=-4))
    assert "Acme Corp usually pays 4 days early" in early.explanation


def test_what_is_paid_not_yet_due_or_within_the_clients_habit_is_not_late() -> None:
    assert check(late_payment, late_books(16, paid="8000")) == []
    assert check(late_payment, late_books(-3)) == []  # due in three days
    assert check(late_payment, late_books(16, usual_delay=20)) == []  # this client always pays ~20 days late
    assert check(late_payment, late_books(20, usual_delay=20)) == []
    assert len(check(late_payment, late_books(21, usual_delay=20))) == 1


def test_a_part_payment_leaves_the_rest_late() -> None:
    [finding] = check(late_payment, late_books(10, paid="3000"))
    assert finding.amount == D("5000") and "$5,000.00" in finding.explanation


def test_a_late_invoice_paid_in_part_says_what_was_paid_and_what_is_late() -> None:
    books = late_books(16, usual_delay=3, paid="2000")
    books.received("2000", on=MONDAY - days(7), invoice=books.schedules[0])
    [finding] = check(late_payment, books)
    assert finding.explanation.startswith(
        "Invoice INV-12 was due Sat 21 Nov: $2,000.00 of $8,000.00 paid on Mon 30 Nov, $6,000.00 is 16 days late; Acme Corp usually pays"
    ), finding.explanation
    assert (finding.title, finding.amount) == ("Acme Corp is 16 days late", D("6000"))
    books.received("1000", on=MONDAY - days(2), invoice=books.schedules[0])
    [twice] = check(late_payment, books)
    assert "$2,000.00 of $8,000.00 paid in 2 parts, the last on Sat 5 Dec, $6,000.00 is 16 days late" in twice.explanation


@pytest.mark.parametrize(
    ("days_late", "severity"), [(7, None), (8, UPCOMING), (13, UPCOMING), (14, THIS_WEEK), (29, THIS_WEEK), (30, EMERGENCY), (75, EMERGENCY)]
)
def test_late_payment_threshold_and_severity_edges(days_late: int, severity: AlertSeverity | None) -> None:
    found = check(late_payment, late_books(days_late))
    assert [f.severity for f in found] == ([severity] if severity else [])


@pytest.mark.parametrize(("days_late", "fires_in"), [(6, {C}), (8, {C, N}), (10, {C, N, A}), (5, set())])
def test_safety_mode_moves_the_late_threshold(days_late: int, fires_in: set[SafetyMode]) -> None:
    # conservative flags after 5 days, normal after 7, aggressive after 9
    assert {mode for mode in MODES if check(late_payment, late_books(days_late), mode=mode)} == fires_in


# --- unexpected revenue -----------------------------------------------------------------------------


def paid_invoice(received: str, *, on_days_ago: int = 2, schedule_status: str | None = None) -> Books:
    books = Books()
    acme = books.client("Acme Corp")
    invoice = books.invoice(acme, "10000", due=MONDAY - days(5), paid=received)
    books.received(received, on=MONDAY - days(on_days_ago), invoice=invoice, schedule_status=schedule_status)
    return books


def test_an_overpayment_is_news() -> None:
    books = paid_invoice("11000")
    [finding] = check(unexpected_revenue, books)
    assert finding.severity == THIS_WEEK and finding.title == "Acme Corp paid $1,000.00 more than expected"
    assert "$11,000.00 arrived on Sat 5 Dec against $10,000.00 expected: 10% more" in finding.explanation
    assert finding.amount == D("1000") and finding.context["variance_kind"] == "over"
    assert finding.context["agreement_id"] == books.schedules[0].agreement_id and finding.context["actual_amount"] == "11000"
    assert finding.fingerprint == f"unexpected_revenue:payment:{books.payments[0].id}"


def test_money_that_matches_nothing_is_news() -> None:
    books = Books()
    books.received("2500", on=MONDAY - days(1), reference="Wire 4471")
    [finding] = check(unexpected_revenue, books)
    assert finding.title == "$2,500.00 arrived from Wire 4471 with no invoice to match"
    assert finding.amount == D("2500") and finding.entity_id is None and finding.context["variance_kind"] == "unmatched"


def test_an_exact_or_old_payment_is_not_news() -> None:
    assert check(unexpected_revenue, paid_invoice("10000")) == []
    assert check(unexpected_revenue, paid_invoice("11000", on_days_ago=30)) == []
    assert len(check(unexpected_revenue, paid_invoice("11000", on_days_ago=29))) == 1


def test_an_underpayment_is_news_until_the_rest_arrives() -> None:
    [finding] = check(unexpected_revenue, paid_invoice("6000"))
    assert finding.title == "Acme Corp paid $4,000.00 less than expected" and finding.context["variance_kind"] == "under"
    assert check(unexpected_revenue, paid_invoice("6000", schedule_status="paid")) == []


@pytest.mark.parametrize(("received", "fires"), [("10500", False), ("10500.01", True), ("9500", False), ("9499.99", True)])
def test_unexpected_revenue_tolerance_edge(received: str, fires: bool) -> None:
    assert bool(check(unexpected_revenue, paid_invoice(received))) is fires


@pytest.mark.parametrize("mode", MODES)
def test_safety_mode_does_not_change_revenue_tolerance(mode: SafetyMode) -> None:
    assert len(check(unexpected_revenue, paid_invoice("10600"), mode=mode)) == 1
    assert check(unexpected_revenue, paid_invoice("10400"), mode=mode) == []


# --- unexpected expense -----------------------------------------------------------------------------


def vendor_charged(paid: str, *, on_days_ago: int = 1) -> Books:
    books = Books()
    host = books.vendor("Cloud Host")
    bill = books.bill(host, "1000", due=MONDAY - days(2), paid=paid)
    books.paid(paid, on=MONDAY - days(on_days_ago), bill=bill)
    return books


def test_a_vendor_charging_30_percent_more_is_flagged() -> None:
    books = vendor_charged("1300")
    [finding] = check(unexpected_expense, books)
    assert finding.title == "Cloud Host charged 30% more than expected" and finding.severity == THIS_WEEK
    assert finding.amount == D("300") and (finding.entity_type, finding.entity_id) == ("expense", books.vendors and next(iter(books.vendors)))
    assert finding.context["expected_amount"] == "1000" and finding.context["actual_amount"] == "1300"
    assert "above your 20% threshold" in finding.explanation


def test_paying_less_or_slightly_more_or_long_ago_is_not_a_spike() -> None:
    assert check(unexpected_expense, vendor_charged("1100")) == []
    assert check(unexpected_expense, vendor_charged("800")) == []
    assert check(unexpected_expense, vendor_charged("1300", on_days_ago=45)) == []


@pytest.mark.parametrize(("paid", "fires"), [("1200", False), ("1200.01", True)])
def test_expense_threshold_edge(paid: str, fires: bool) -> None:
    assert bool(check(unexpected_expense, vendor_charged(paid))) is fires


@pytest.mark.parametrize(("paid", "fires_in"), [("1180", {C}), ("1220", {C, N}), ("1260", {C, N, A}), ("1140", set())])
def test_safety_mode_moves_the_expense_threshold(paid: str, fires_in: set[SafetyMode]) -> None:
    # 15% conservative, 20% normal, 25% aggressive
    assert {mode for mode in MODES if check(unexpected_expense, vendor_charged(paid), mode=mode)} == fires_in


# --- client churn -----------------------------------------------------------------------------------------


def retainer(*, relationship: str = "transactional", status: str = "active", cancelled_days_ago: int | None = None,
             unpaid_days_ago: tuple[int, ...] = (), paid_days_ago: tuple[int, ...] = ()) -> Books:
    books = Books()
    globex = books.client("Globex", relationship=relationship)
    monthly = books.agreement(globex, "5000", frequency="monthly", status=status,
                              cancelled_on=MONDAY - days(cancelled_days_ago) if cancelled_days_ago is not None else None)
    for ago in unpaid_days_ago:
        books.invoice(globex, "5000", due=MONDAY - days(ago), agreement=monthly)
    for ago in paid_days_ago:
        books.invoice(globex, "5000", due=MONDAY - days(ago), paid="5000", agreement=monthly)
    return books


def test_a_cancelled_retainer_means_revenue_at_risk() -> None:
    [finding] = check(client_churn, retainer(status="cancelled", cancelled_days_ago=10))
    assert finding.severity == THIS_WEEK and finding.title == "Globex ended their recurring agreement"
    assert finding.amount == D("5000") and "ended on Fri 27 Nov ($5,000.00 a month)" in finding.explanation
    assert finding.context["reason"] == "We noticed our agreement ended on Fri 27 Nov." and finding.context["reasons"] == ["agreement_ended"]


def test_a_strategic_client_leaving_is_an_emergency() -> None:
    [finding] = check(client_churn, retainer(relationship="strategic", status="cancelled", cancelled_days_ago=3))
    assert finding.severity == EMERGENCY and "strategic" in finding.explanation


def test_two_missed_payments_in_a_row_look_like_churn() -> None:
    [finding] = check(client_churn, retainer(unpaid_days_ago=(45, 15), paid_days_ago=(75,)))
    assert finding.title == "Globex missed 2 payments in a row" and finding.amount == D("10000")
    assert len(finding.context["missed_schedule_ids"]) == 2


def test_a_paying_client_or_an_old_goodbye_is_not_churn() -> None:
    assert check(client_churn, retainer(unpaid_days_ago=(45,), paid_days_ago=(15,))) == []  # only one missed
    assert check(client_churn, retainer(unpaid_days_ago=(15,), paid_days_ago=(45,))) == []
    assert check(client_churn, retainer(status="cancelled", cancelled_days_ago=90)) == []
    books = retainer(status="cancelled", cancelled_days_ago=10)
    books.agreement(next(iter(books.clients.values())), "6000", frequency="monthly")  # a new contract replaced it
    assert check(client_churn, books) == []


def test_a_one_off_project_ending_is_not_churn() -> None:
    books = Books()
    initech = books.client("Initech")
    books.agreement(initech, "9000", frequency="once", status="cancelled", cancelled_on=MONDAY - days(2))
    assert check(client_churn, books) == []


@pytest.mark.parametrize(("latest_days_ago", "fires"), [(7, False), (8, True)])
def test_a_payment_counts_as_missed_once_past_the_late_threshold(latest_days_ago: int, fires: bool) -> None:
    assert bool(check(client_churn, retainer(unpaid_days_ago=(37, latest_days_ago)))) is fires


@pytest.mark.parametrize(("latest_days_ago", "fires_in"), [(6, {C}), (8, {C, N}), (10, {C, N, A})])
def test_safety_mode_moves_when_a_payment_counts_as_missed(latest_days_ago: int, fires_in: set[SafetyMode]) -> None:
    books = retainer(unpaid_days_ago=(40, latest_days_ago))
    assert {mode for mode in MODES if check(client_churn, books, mode=mode)} == fires_in


# --- revenue variance -----------------------------------------------------------------------------------


def month_of_revenue(received: str) -> Books:
    books = Books()
    acme, globex = books.client("Acme Corp"), books.client("Globex", usual_delay=10)
    books.invoice(acme, "6000", due=MONDAY - days(20))
    books.invoice(globex, "4000", due=MONDAY - days(35))  # expected 25 days ago with Globex's usual delay
    books.invoice(acme, "9000", due=MONDAY - days(45))  # before the window
    if D(received):
        books.received(received, on=MONDAY - days(3), client=acme)
    return books


def test_revenue_30_percent_short_of_expected() -> None:
    [finding] = check(revenue_variance, month_of_revenue("7000"))
    assert finding.title == "Revenue is 30% below expected" and finding.amount == D("3000") and finding.severity == THIS_WEEK
    assert "From Sat 7 Nov to Sun 6 Dec $7,000.00 came in against $10,000.00 expected" in finding.explanation
    assert finding.fingerprint == "revenue_variance:trailing_30_days" and finding.context["variance_pct"] == "-30.0"


def test_revenue_close_to_expected_or_nothing_expected_is_quiet() -> None:
    assert check(revenue_variance, month_of_revenue("9000")) == []
    assert check(revenue_variance, Books()) == []


def test_no_revenue_variance_before_the_record_covers_the_window() -> None:
    # Day one: invoices just entered, nothing recorded yet. The old code said "Revenue is 100% below expected".
    books = month_of_revenue("0")
    books.account_created_on = MONDAY
    assert check(revenue_variance, books) == []
    books.account_created_on = MONDAY - days(29)  # a day short of a whole window on record
    assert check(revenue_variance, books) == []
    books.account_created_on = MONDAY - days(30)
    assert check(revenue_variance, books)[0].title == "Revenue is 100% below expected"


def test_revenue_variance_counts_payment_history_brought_in_with_a_new_account() -> None:
    books = month_of_revenue("7000")
    books.account_created_on = MONDAY
    assert check(revenue_variance, books) == []
    books.received("500", on=MONDAY - days(31))  # imported history from before the window
    assert check(revenue_variance, books)[0].title == "Revenue is 30% below expected"


@pytest.mark.parametrize(("received", "fires"), [("8000", False), ("7999.99", True), ("12000", False), ("12000.01", True)])
def test_revenue_variance_edge(received: str, fires: bool) -> None:
    assert bool(check(revenue_variance, month_of_revenue(received))) is fires


@pytest.mark.parametrize("mode", MODES)
def test_safety_mode_does_not_change_revenue_variance(mode: SafetyMode) -> None:
    assert len(check(revenue_variance, month_of_revenue("7900"), mode=mode)) == 1
    assert check(revenue_variance, month_of_revenue("8100"), mode=mode) == []


# --- headcount change -------------------------------------------------------------------------------------


def payroll_books(**agreement: object) -> Books:
    books = Books()
    books.agreement(books.vendor("Payroll", category="payroll"), "42000", **agreement)  # type: ignore[arg-type]
    return books


def test_a_new_payroll_agreement_is_a_new_hire() -> None:
    books = payroll_books(created_on=MONDAY - days(5), start=MONDAY + days(8))
    [finding] = check(headcount_change, books)
    agreement = next(iter(books.agreements.values()))
    assert finding.title == "New payroll: Payroll, $42,000.00 a month" and finding.severity == THIS_WEEK
    assert finding.fingerprint == f"headcount_change:agreement:{agreement.id}:new" and finding.context["agreement_id"] == agreement.id


def test_a_payroll_that_rose_is_flagged_with_the_increase() -> None:
    books = payroll_books(previous_amount="40000", changed_on=MONDAY - days(3))
    [finding] = check(headcount_change, books)
    assert finding.title == "Payroll for Payroll rose by $2,000.00 a month" and finding.amount == D("2000")
    assert "(5% more) on Fri 4 Dec" in finding.explanation and finding.fingerprint.endswith(":rise:2026-12-04")


def test_payroll_set_up_on_day_one_or_lowered_or_old_news_is_quiet() -> None:
    assert check(headcount_change, payroll_books()) == []  # created with the account
    assert check(headcount_change, payroll_books(previous_amount="45000", changed_on=MONDAY - days(3))) == []
    assert check(headcount_change, payroll_books(created_on=MONDAY - days(40))) == []
    books = Books()
    books.agreement(books.vendor("Cloud Host"), "900", created_on=MONDAY - days(2))  # not payroll
    assert check(headcount_change, books) == []


@pytest.mark.parametrize(("created_days_ago", "fires"), [(30, True), (31, False)])
def test_headcount_lookback_edge(created_days_ago: int, fires: bool) -> None:
    assert bool(check(headcount_change, payroll_books(created_on=MONDAY - days(created_days_ago)))) is fires


@pytest.mark.parametrize("mode", MODES)
def test_safety_mode_does_not_change_headcount_news(mode: SafetyMode) -> None:
    assert len(check(headcount_change, payroll_books(created_on=MONDAY - days(10)), mode=mode)) == 1


def test_an_override_can_widen_the_headcount_lookback() -> None:
    books = payroll_books(created_on=MONDAY - days(40))
    assert check(headcount_change, books) == []
    wider = with_override(config(), DetectionType.HEADCOUNT_CHANGE, D("45"))
    assert len(check(headcount_change, books, cfg=wider)) == 1


def test_amounts_are_decimal_and_context_is_json_safe() -> None:
    import json

    findings = check(late_payment, late_books(16)) + check(unexpected_revenue, paid_invoice("11000"))
    for finding in findings:
        assert isinstance(finding.amount, Decimal)
        json.dumps(dict(finding.context))


def test_one_off_invoices_of_a_retainer_client_do_not_count_as_missed_retainer_payments() -> None:
    books = retainer(unpaid_days_ago=(15,), paid_days_ago=(45,))
    globex = next(iter(books.clients.values()))
    books.invoice(globex, "800", due=MONDAY - days(30))  # a one-off project invoice, unpaid
    assert check(client_churn, books) == []
