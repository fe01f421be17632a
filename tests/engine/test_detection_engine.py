"""The pure engine: twelve rules over one snapshot, EMERGENCY first, crashes become error records."""

from __future__ import annotations

from dataclasses import replace

from tamio.detection.engine import RuleError, RuleSetting, evaluate
from tamio.detection.findings import Finding
from tamio.detection.models import CRITICAL_DETECTIONS, SEVERITY_RANK, AlertSeverity, DetectionType
from tamio.detection.rules import ALL_RULES, RULES
from tests.engine.detection_builders import MONDAY, Books, D, config, days


def troubled_books() -> Books:
    """A business with a problem of every kind."""
    books = Books().cash("12000")
    acme = books.client("Acme Corp", relationship="strategic")
    books.invoice(acme, "8000", due=MONDAY - days(35), number="INV-7")
    monthly = books.agreement(acme, "5000", frequency="monthly")
    books.invoice(acme, "5000", due=MONDAY - days(40), agreement=monthly)
    books.invoice(acme, "5000", due=MONDAY - days(10), agreement=monthly)
    globex = books.client("Globex")
    overpaid = books.invoice(globex, "3000", due=MONDAY - days(4), paid="4000")
    books.received("4000", on=MONDAY - days(2), invoice=overpaid)
    payroll = books.vendor("Payroll", category="payroll")
    books.agreement(payroll, "42000", created_on=MONDAY - days(3))
    books.bill(payroll, "42000", due=MONDAY + days(3))
    host = books.vendor("Cloud Host", terms="net_15")
    pricier = books.bill(host, "1000", due=MONDAY - days(1), paid="1500")
    books.paid("1500", on=MONDAY - days(1), bill=pricier)
    books.bill(host, "1000", due=MONDAY + days(5))
    books.bill(books.vendor("HMRC VAT", category="tax"), "4200", due=MONDAY + days(2))
    return books


def test_all_twelve_rules_run_and_the_most_urgent_come_first() -> None:
    snapshot = troubled_books().snapshot()
    result = evaluate(snapshot, DetectionType, today=MONDAY, config=config())
    assert result.errors == () and set(result.ran) == set(DetectionType) and len(ALL_RULES) == len(RULES) == 12
    found = {f.detection_type for f in result.findings}
    assert found == set(DetectionType), set(DetectionType) - found
    ranks = [SEVERITY_RANK[f.severity] for f in result.findings]
    assert ranks == sorted(ranks) and result.findings[0].severity == AlertSeverity.EMERGENCY
    assert len({f.fingerprint for f in result.findings}) == len(result.findings)


def test_a_rerun_over_the_same_books_gives_the_same_fingerprints() -> None:
    snapshot = troubled_books().snapshot()
    first = evaluate(snapshot, DetectionType, today=MONDAY, config=config())
    again = evaluate(snapshot, DetectionType, today=MONDAY, config=config())
    assert [f.fingerprint for f in first.findings] == [f.fingerprint for f in again.findings]


def test_critical_detections_run_only_buffer_payroll_and_statutory() -> None:
    result = evaluate(troubled_books().snapshot(), CRITICAL_DETECTIONS, today=MONDAY, config=config())
    assert set(result.ran) == set(CRITICAL_DETECTIONS)
    assert {f.detection_type for f in result.findings} == set(CRITICAL_DETECTIONS)


def test_an_account_can_switch_a_type_off_or_replace_its_threshold() -> None:
    snapshot = troubled_books().snapshot()
    settings = {
        DetectionType.LATE_PAYMENT: RuleSetting(enabled=False),
        DetectionType.STATUTORY_DEADLINE: RuleSetting(threshold=D("1")),  # VAT is due in 2 days: outside a 1-day notice
    }
    result = evaluate(snapshot, DetectionType, today=MONDAY, config=config(), settings=settings)
    assert DetectionType.LATE_PAYMENT not in result.ran
    assert not any(f.detection_type in (DetectionType.LATE_PAYMENT, DetectionType.STATUTORY_DEADLINE) for f in result.findings)
    assert DetectionType.STATUTORY_DEADLINE in result.ran
    # switched off: not run, but settled (its open alerts resolve), unlike a type that was not asked for
    assert result.switched_off == (DetectionType.LATE_PAYMENT,) and DetectionType.LATE_PAYMENT in result.settled
    critical = evaluate(snapshot, CRITICAL_DETECTIONS, today=MONDAY, config=config(), settings=settings)
    assert critical.switched_off == () and DetectionType.LATE_PAYMENT not in critical.settled


def test_a_rule_that_crashes_is_an_error_record_and_the_others_still_run() -> None:
    snapshot = troubled_books().snapshot()
    first, *rest = snapshot.schedules
    broken = first._replace(base_amount=None)  # a receivable the loader could never produce
    result = evaluate(replace(snapshot, schedules=(broken, *rest)), DetectionType, today=MONDAY, config=config())
    crashed = {e.detection_type for e in result.errors}
    assert "late_payment" in crashed and all(isinstance(e, RuleError) and "TypeError" in e.error for e in result.errors)
    assert not any(DetectionType(t) in result.ran for t in crashed)
    assert {DetectionType.BUFFER_BREACH, DetectionType.PAYROLL_SAFETY, DetectionType.STATUTORY_DEADLINE} <= set(result.ran)
    assert any(f.detection_type == DetectionType.PAYROLL_SAFETY for f in result.findings)


def test_a_corrupt_override_is_an_error_of_that_type_only() -> None:
    settings = {DetectionType.BUFFER_BREACH: RuleSetting(threshold=D("NaN"))}
    result = evaluate(troubled_books().snapshot(), DetectionType, today=MONDAY, config=config(), settings=settings)
    assert [e.detection_type for e in result.errors] == ["buffer_breach"]
    assert len(result.ran) == 11


DEBT = (DetectionType.LATE_PAYMENT, DetectionType.UNEXPECTED_REVENUE)


def underpaid_books(days_late: int) -> Books:
    """Acme paid $2,000 of an $8,000 invoice two days ago; the invoice was due ``days_late`` days ago."""
    books = Books()
    acme = books.client("Acme Corp")
    invoice = books.invoice(acme, "8000", due=MONDAY - days(days_late), paid="2000", number="INV-12")
    books.received("2000", on=MONDAY - days(2), invoice=invoice)
    return books


def cards(findings: tuple[Finding, ...]) -> list[tuple[str, str]]:
    """The alerts about the debt (revenue_variance also notices the month's revenue is short)."""
    return sorted((f.detection_type.value, f.title) for f in findings if f.detection_type in DEBT)


def test_a_part_payment_on_a_late_invoice_is_one_alert_the_late_payment_that_says_what_was_paid() -> None:
    result = evaluate(underpaid_books(16).snapshot(), DetectionType, today=MONDAY, config=config())
    assert cards(result.findings) == [("late_payment", "Acme Corp is 16 days late")]
    [late] = [f for f in result.findings if f.detection_type == DetectionType.LATE_PAYMENT]
    assert "$2,000.00 of $8,000.00 paid on Sat 5 Dec, $6,000.00 is 16 days late" in late.explanation
    # asked for unexpected revenue alone (a targeted run), the late-payment alert still stands for the debt
    alone = evaluate(underpaid_books(16).snapshot(), [DetectionType.UNEXPECTED_REVENUE], today=MONDAY, config=config())
    assert cards(alone.findings) == [] and alone.ran == (DetectionType.UNEXPECTED_REVENUE,)


def test_an_underpayment_keeps_its_own_alert_while_late_payment_does_not_report_the_rest() -> None:
    not_late = evaluate(underpaid_books(3).snapshot(), DetectionType, today=MONDAY, config=config())
    assert cards(not_late.findings) == [("unexpected_revenue", "Acme Corp paid $6,000.00 less than expected")]
    snapshot = underpaid_books(16).snapshot()
    switched_off = evaluate(snapshot, DetectionType, today=MONDAY, config=config(),
                            settings={DetectionType.LATE_PAYMENT: RuleSetting(enabled=False)})
    assert cards(switched_off.findings) == [("unexpected_revenue", "Acme Corp paid $6,000.00 less than expected")]
    later_threshold = evaluate(snapshot, DetectionType, today=MONDAY, config=config(),
                               settings={DetectionType.LATE_PAYMENT: RuleSetting(threshold=D("20"))})
    assert cards(later_threshold.findings) == [("unexpected_revenue", "Acme Corp paid $6,000.00 less than expected")]
