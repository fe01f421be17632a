"""Drafted emails read like a finance person wrote them, in the right tone, and never run user text."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest

from tamio.errors import ValidationError
from tamio.preparation.message_drafting import (
    TEMPLATES_DIR,
    DraftedEmail,
    choose_tone,
    draft_collection_email,
    draft_collection_escalation,
    draft_payment_reminder,
    draft_payroll_contingency_summary,
    draft_vendor_delay_request,
    make_environment,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def chaser(**overrides: object) -> DraftedEmail:
    arguments: dict[str, object] = {
        "client_name": "Acme Corp",
        "invoice_number": "INV-001",
        "amount": Decimal("5000.00"),
        "due_date": "2026-01-01",
        "days_overdue": 14,
    }
    arguments.update(overrides)
    return draft_collection_email(**arguments)  # type: ignore[arg-type]


def assert_tidy(draft: DraftedEmail) -> None:
    assert "\n" not in draft["subject"] and "\r" not in draft["subject"]
    assert draft["body"].endswith("\n") and not draft["body"].endswith("\n\n")
    assert "\n\n\n" not in draft["body"]
    assert all(line == line.rstrip() for line in draft["body"].split("\n"))
    assert "Subject:" not in draft["body"]
    assert draft["html"].count("<p>") == draft["body"].strip().count("\n\n") + 1


# --- the design document's example -------------------------------------------------------------


def test_design_document_example_keeps_the_tone_asked_for() -> None:
    # The design document's call returns {"tone": "professional"}: an explicit tone is used as asked.
    message = draft_collection_email(
        client_name="Acme Corp",
        invoice_number="INV-001",
        amount=5000.00,
        due_date="2026-01-01",
        days_overdue=14,
        tone="professional",
        relationship_type="strategic",
    )
    assert set(message) == {"subject", "body", "html", "tone"}
    assert message["tone"] == "professional"
    assert "INV-001" in message["subject"]
    for fact in ("Acme Corp", "INV-001", "$5,000.00", "1 January 2026", "14 days"):
        assert fact in message["body"]
    assert_tidy(message)


def test_the_same_request_for_a_transactional_client_stays_professional() -> None:
    message = chaser(tone="professional", relationship_type="transactional")
    assert message["tone"] == "professional"
    assert message["subject"] == "Invoice INV-001 for $5,000.00 is 14 days overdue"


# --- the tone table, every cell ------------------------------------------------------------------

# days overdue band -> payment record -> tone, before a strategic relationship softens it
AUTOMATIC = {
    "0-13": {"good": "soft", "mixed": "soft", None: "soft", "poor": "professional"},
    "14-29": {"good": "soft", "mixed": "professional", None: "professional", "poor": "firm"},
    "30+": {"good": "professional", "mixed": "firm", None: "firm", "poor": "firm"},
}
STRATEGIC = {
    "0-13": {"good": "soft", "mixed": "soft", None: "soft", "poor": "soft"},
    "14-29": {"good": "soft", "mixed": "soft", None: "soft", "poor": "professional"},
    "30+": {"good": "soft", "mixed": "professional", None: "professional", "poor": "professional"},
}
BAND_DAYS = {"0-13": (0, 1, 13), "14-29": (14, 20, 29), "30+": (30, 45, 365)}


@pytest.mark.parametrize("relationship", ["strategic", "managed", "transactional", None])
@pytest.mark.parametrize("record", ["good", "mixed", None, "poor"])
@pytest.mark.parametrize("band", list(BAND_DAYS))
def test_automatic_tone_table(band: str, record: str | None, relationship: str | None) -> None:
    expected = (STRATEGIC if relationship == "strategic" else AUTOMATIC)[band][record]
    for days in BAND_DAYS[band]:
        assert choose_tone(days, payment_record=record, relationship_type=relationship) == expected
        drafted = chaser(days_overdue=days, payment_record=record, relationship_type=relationship)
        assert drafted["tone"] == expected


@pytest.mark.parametrize(
    ("requested", "relationship", "expected"),
    [
        ("soft", None, "soft"),
        ("professional", None, "professional"),
        ("firm", None, "firm"),
        ("soft", "transactional", "soft"),
        ("professional", "managed", "professional"),
        ("firm", "managed", "firm"),
        ("soft", "strategic", "soft"),
        ("professional", "strategic", "professional"),
        ("firm", "strategic", "firm"),
    ],
)
def test_a_requested_tone_is_used_as_asked_even_for_a_strategic_client(
    requested: str, relationship: str | None, expected: str
) -> None:
    # 90 days late with a poor record would be firm automatically (professional for a strategic
    # client); the human's choice replaces the table and the relationship's softening.
    drafted = chaser(days_overdue=90, payment_record="poor", tone=requested, relationship_type=relationship)
    assert drafted["tone"] == expected
    assert choose_tone(90, payment_record="poor", relationship_type=relationship, requested=requested) == expected


def test_a_strategic_client_still_softens_the_automatic_tone() -> None:
    automatic = chaser(days_overdue=14, relationship_type="strategic")
    asked = chaser(days_overdue=14, relationship_type="strategic", tone="professional")
    assert (automatic["tone"], asked["tone"]) == ("soft", "professional")
    assert automatic["subject"] != asked["subject"]


def test_each_tone_reads_differently() -> None:
    soft, professional, firm = (chaser(days_overdue=40, tone=tone) for tone in ("soft", "professional", "firm"))
    assert soft["subject"].startswith("Friendly reminder")
    assert "hope all is well" in soft["body"]
    assert professional["subject"] == "Invoice INV-001 for $5,000.00 is 40 days overdue"
    assert firm["subject"].startswith("Overdue:")
    assert "within 7 days" in firm["body"] and "payment plan" in firm["body"]
    assert len({soft["body"], professional["body"], firm["body"]}) == 3
    for drafted in (soft, professional, firm):
        assert_tidy(drafted)


def test_reminders_already_sent_are_mentioned() -> None:
    assert "This follows our earlier reminder." in chaser(tone="professional", previous_reminders=1)["body"]
    assert "after our 3 earlier reminders" in chaser(tone="firm", previous_reminders=3)["body"]
    assert "earlier reminder" not in chaser(tone="professional")["body"]


def test_greeting_and_signature() -> None:
    drafted = chaser(contact_name="Jane  Smith", sender_name="Dana Lee", company_name="Bright Co")
    assert drafted["body"].startswith("Hi Jane Smith,\n")
    assert drafted["body"].endswith("Dana Lee\nBright Co\n")
    assert chaser()["body"].startswith("Hello Acme Corp team,\n")


def test_one_day_is_singular() -> None:
    assert "(it is 1 day past due)" in chaser(days_overdue=1)["body"]


# --- money and dates as people write them --------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        (Decimal("5000"), "USD", "$5,000.00"),
        (5000.1, "USD", "$5,000.10"),
        (5000, "usd", "$5,000.00"),
        ("5000.005", "USD", "$5,000.00"),  # banker's rounding to the cent
        (Decimal("5000"), "EUR", "€5,000.00"),
        (Decimal("3200.5"), "GBP", "£3,200.50"),
        ("120000", "JPY", "¥120,000"),
        (Decimal("1250.5"), "KWD", "KWD1,250.500"),
    ],
)
def test_amounts_in_the_invoice_currency(amount: object, currency: str, written: str) -> None:
    drafted = chaser(amount=amount, currency=currency)
    assert written in drafted["body"] and written in drafted["subject"]


@pytest.mark.parametrize("due", ["2026-03-09", date(2026, 3, 9), datetime(2026, 3, 9, 17, 30)])
def test_dates_as_people_write_them(due: object) -> None:
    assert "due on 9 March 2026" in chaser(due_date=due)["body"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"amount": "-10"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"amount": float("nan")}, "amount"),
        ({"amount": True}, "amount"),
        ({"due_date": "01/02/2026"}, "due_date"),
        ({"tone": "angry"}, "tone"),
        ({"payment_record": "excellent"}, "payment_record"),
        ({"relationship_type": "partner"}, "relationship_type"),
        ({"days_overdue": -3}, "days_overdue"),
        ({"client_name": "   "}, "client_name"),
        ({"previous_reminders": -1}, "previous_reminders"),
    ],
)
def test_wrong_input_says_which_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        chaser(**overrides)
    assert field in caught.value.field_errors


# --- user text is data, never template ----------------------------------------------------------


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "{{7*7}}", "{% raw %}x{% endraw %} & Sons"])
def test_a_client_name_comes_out_literally(name: str) -> None:
    drafted = chaser(client_name=name, contact_name=None, tone="firm")
    assert f"Hello {name} team," in drafted["body"]
    assert "49" not in drafted["body"]
    escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f"Hello {escaped} team," in drafted["html"]
    assert "<script>" not in drafted["html"]


def test_the_html_part_escapes_every_user_value() -> None:
    drafted = draft_vendor_delay_request(
        "<b>Vendor</b>",
        Decimal("100"),
        "USD",
        "2026-03-01",
        "2026-03-08",
        contact_name='"><img src=x onerror=alert(1)>',
        reason="<script>steal()</script>",
        company_name="{{ config }}",
        invoice_number="<i>9</i>",
    )
    assert "<img" not in drafted["html"] and "<script>" not in drafted["html"] and "<i>" not in drafted["html"]
    assert "&lt;script&gt;steal()&lt;/script&gt;." in drafted["html"]
    assert "<script>steal()</script>." in drafted["body"]
    assert "We at {{ config }} would like" in drafted["body"]


def test_a_value_cannot_add_an_email_header() -> None:
    drafted = chaser(invoice_number="INV-1\r\nBcc: everyone@example.com")
    assert "\r" not in drafted["subject"] and "\n" not in drafted["subject"]
    assert "INV-1 Bcc: everyone@example.com" in drafted["subject"]


# --- the templates and the environment ----------------------------------------------------------


def test_templates_live_at_the_repository_root() -> None:
    assert TEMPLATES_DIR == REPO_ROOT / "templates"
    names = {path.name for path in (TEMPLATES_DIR / "emails").glob("*.j2")}
    assert {
        "collection_soft.txt.j2",
        "collection_professional.txt.j2",
        "collection_firm.txt.j2",
        "payment_reminder.txt.j2",
        "collection_escalation.txt.j2",
        "vendor_delay_request.txt.j2",
        "payroll_contingency.txt.j2",
        "layout.html.j2",
    } <= names


def test_html_templates_autoescape_and_text_templates_do_not() -> None:
    environment = make_environment()
    assert callable(environment.autoescape)
    assert environment.autoescape("emails/layout.html.j2") is True
    assert environment.autoescape("emails/collection_firm.txt.j2") is False
    html = environment.get_template("emails/layout.html.j2").render(subject="<b>", paragraphs=[["<b>", "x"]])
    assert html.count("&lt;b&gt;") == 2 and "<b>" not in html
    assert "&lt;b&gt;<br>" in html


def test_an_environment_can_be_passed_in(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES_DIR / "emails", tmp_path / "emails")
    soft = tmp_path / "emails" / "collection_soft.txt.j2"
    soft.write_text("Subject: Custom {{ invoice_number }}\n\nPlease pay {{ amount }}.\n")
    drafted = chaser(days_overdue=2, environment=make_environment(tmp_path))
    assert drafted["subject"] == "Custom INV-001"
    assert drafted["body"] == "Please pay $5,000.00.\n"


def test_a_missing_variable_fails_loudly(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES_DIR / "emails", tmp_path / "emails")
    (tmp_path / "emails" / "collection_soft.txt.j2").write_text("Subject: x\n\n{{ no_such_value }}\n")
    with pytest.raises(jinja2.UndefinedError):
        chaser(days_overdue=2, environment=make_environment(tmp_path))


def test_a_missing_templates_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pass templates_dir"):
        make_environment(tmp_path)


# --- the other drafts --------------------------------------------------------------------------


def test_payment_reminder_before_the_due_date() -> None:
    drafted = draft_payment_reminder(
        client_name="Acme Corp", invoice_number="INV-7", amount="1200", due_date="2026-02-01", days_until_due=3
    )
    assert drafted["tone"] == "soft"
    assert drafted["subject"] == "Invoice INV-7 for $1,200.00 is due on 1 February 2026"
    assert "is due on 1 February 2026, in 3 days." in drafted["body"]
    today = draft_payment_reminder(
        client_name="Acme Corp", invoice_number="INV-7", amount="1200", due_date="2026-02-01", days_until_due=0
    )
    assert "is due today, 1 February 2026." in today["body"]
    assert_tidy(drafted)


def test_final_notice_names_the_date_and_the_next_steps() -> None:
    drafted = draft_collection_escalation(
        client_name="Acme Corp",
        invoice_number="INV-001",
        amount=Decimal("5000"),
        currency="EUR",
        due_date="2026-01-01",
        days_overdue=60,
        pay_by=date(2026, 3, 16),
        previous_reminders=2,
        sender_name="Dana Lee",
    )
    assert drafted["tone"] == "firm"
    assert drafted["subject"] == "Final notice: invoice INV-001 for €5,000.00, payment needed by 16 March 2026"
    assert "This is our final notice. Please pay €5,000.00 by 16 March 2026." in drafted["body"]
    assert "our next steps will be to put your account on hold and start formal recovery" in drafted["body"]
    assert "written about it twice" in drafted["body"]
    assert "payment plan" in drafted["body"]
    assert_tidy(drafted)
    custom = draft_collection_escalation(
        client_name="Acme Corp", invoice_number="INV-001", amount=Decimal("5000"), due_date="2026-01-01",
        days_overdue=60, pay_by="2026-03-16", next_steps="add late-payment interest under our terms.",
    )
    assert "our next steps will be to add late-payment interest under our terms. We would" in custom["body"]
    with pytest.raises(ValidationError) as caught:
        draft_collection_escalation(
            client_name="Acme Corp", invoice_number="INV-001", amount=Decimal("5000"), due_date="2026-01-01",
            days_overdue=60, pay_by="2025-12-31",
        )
    assert "pay_by" in caught.value.field_errors


def test_vendor_delay_request_is_specific() -> None:
    drafted = draft_vendor_delay_request(
        "Paper Supplies Ltd",
        Decimal("3200"),
        "GBP",
        "2026-03-01",
        date(2026, 3, 15),
        contact_name="Sam",
        reason="a large client payment arrives on 10 March",
        company_name="Bright Co",
        invoice_number="PS-77",
        sender_name="Dana Lee",
    )
    assert drafted["tone"] == "professional"
    assert drafted["subject"] == "Request to move payment of invoice PS-77 to 15 March 2026"
    assert (
        "We at Bright Co would like to ask whether we could pay invoice PS-77 for £3,200.00 on 15 March 2026 "
        "instead of 1 March 2026, 14 days later than planned. A large client payment arrives on 10 March."
    ) in drafted["body"]
    assert drafted["body"].endswith("Kind regards,\nDana Lee\nBright Co\n")
    assert_tidy(drafted)
    plain = draft_vendor_delay_request("Cloud Host", "99", "USD", "2026-03-01", "2026-03-02")
    assert plain["subject"] == "Request to move payment to 2 March 2026"
    assert "We would like to ask whether we could pay $99.00 on 2 March 2026 instead of 1 March 2026, 1 day later" in plain["body"]
    with pytest.raises(ValidationError) as caught:
        draft_vendor_delay_request("Cloud Host", "99", "USD", "2026-03-01", "2026-03-01")
    assert "proposed_date" in caught.value.field_errors


def test_payroll_contingency_adds_up_the_steps() -> None:
    drafted = draft_payroll_contingency_summary(
        "2026-03-31",
        Decimal("42000"),
        "USD",
        Decimal("45000"),
        Decimal("3000"),
        Decimal("10000"),
        [("Delay Paper Supplies Ltd (PS-77) to 15 April", Decimal("3200")), ("Collect Acme Corp INV-001", "5000")],
        company_name="Bright Co",
    )
    assert drafted["tone"] == "firm"
    assert drafted["subject"] == "Payroll on 31 March 2026: $7,000.00 short of the buffer"
    body = drafted["body"]
    assert body.startswith("Bright Co payroll of $42,000.00 runs on 31 March 2026.\n")
    for line in (
        "Cash before payroll: $45,000.00",
        "Cash after payroll: $3,000.00",
        "Minimum buffer: $10,000.00",
        "Shortfall against the buffer: $7,000.00",
        "- Delay Paper Supplies Ltd (PS-77) to 15 April: $3,200.00",
        "- Collect Acme Corp INV-001: $5,000.00",
        "Total: $8,200.00",
    ):
        assert line in body.split("\n")
    assert "cash after payroll would be $11,200.00, which covers the buffer with $1,200.00 to spare." in body
    assert_tidy(drafted)


def test_payroll_contingency_says_when_the_steps_are_not_enough() -> None:
    drafted = draft_payroll_contingency_summary(
        date(2026, 3, 31), "42000", "USD", "40000", "-2000", "10000", [("Draw on the credit line", Decimal("5000"))]
    )
    assert "Cash after payroll: -$2,000.00" in drafted["body"]
    assert "Shortfall against the buffer: $12,000.00" in drafted["body"]
    assert "cash after payroll would be $3,000.00, still $7,000.00 short of the buffer." in drafted["body"]


def test_payroll_contingency_steps_that_name_their_amount_do_not_repeat_it() -> None:
    drafted = draft_payroll_contingency_summary(
        "2026-12-02", "21000", "USD", "19100", "-1900", "2100",
        [("Draw $26,000.00 from Credit line into Operating, repaid by 28 March 2027", Decimal("26000"))],
    )
    lines = drafted["body"].split("\n")
    steps = lines[lines.index("Proposed steps:") + 1:]
    assert steps[:2] == ["- Draw $26,000.00 from Credit line into Operating, repaid by 28 March 2027", ""]
    assert not any(line.startswith("Total:") for line in lines)  # one step is its own total
    assert "cash after payroll would be $24,100.00, which covers the buffer with $22,000.00 to spare." in drafted["body"]
    assert_tidy(drafted)


def test_payroll_covered_needs_no_steps() -> None:
    drafted = draft_payroll_contingency_summary(
        "2026-03-31", Decimal("42000"), "USD", Decimal("60000"), Decimal("18000"), Decimal("10000"), []
    )
    assert drafted["tone"] == "professional"
    assert drafted["subject"] == "Payroll on 31 March 2026: cash and buffer covered"
    assert "The buffer is covered with $8,000.00 to spare." in drafted["body"]
    assert "Proposed steps" not in drafted["body"]
    assert_tidy(drafted)


def test_an_invoice_without_a_number_is_named_by_its_amount_and_date_only_once() -> None:
    drafted = draft_collection_email(client_name="Bluebird Studio", invoice_number=None, amount="8500", due_date="2026-11-07",
                                     days_overdue=21, tone="firm")
    assert drafted["subject"] == "Overdue: invoice for $8,500.00, 21 days past due"
    assert "The invoice for $8,500.00 was due on 7 November 2026 and is now 21 days overdue." in drafted["body"]
    assert "None" not in drafted["body"] and "invoice  " not in drafted["body"]
