"""Draft the emails a finance person would write: collections, reminders, vendor delays, payroll.

Preparation hands a human a ready-to-send draft; nothing here sends anything. Wording lives in
``templates/emails/*.txt.j2`` (plain text, the part people read) and every draft also carries an
HTML alternative rendered through ``layout.html.j2`` with autoescaping on. Names, invoice numbers
and reasons typed by users are only ever passed to templates as *variables*, never rendered as
templates, so a client called ``{{7*7}}`` stays ``{{7*7}}`` and ``<script>`` arrives as text
(``&lt;script&gt;`` in the HTML part). Subjects are folded onto one line so that no value can add
an email header.

Collection tone (``choose_tone``) — soft, professional or firm:

    ============================  ===========  ==============  ===========
    days overdue                  record good  mixed / none    record poor
    ============================  ===========  ==============  ===========
    0-13                          soft         soft            professional
    14-29                         soft         professional    firm
    30 and more                   professional firm            firm
    ============================  ===========  ==============  ===========

A ``strategic`` relationship softens the table's choice one step (firm -> professional -> soft),
the "softens tone automatically" of the design document. A tone asked for explicitly is the
tone used: someone who knows the client chose it, so neither the table, the payment record nor
the relationship changes it, and ``tone="professional"`` for a strategic client stays
``"professional"`` (the design document's example returns ``"professional"``).

    >>> draft = draft_collection_email(client_name="Acme Corp", invoice_number="INV-001",
    ...     amount=5000.00, due_date="2026-01-01", days_overdue=14, tone="professional",
    ...     relationship_type="strategic")
    >>> draft["tone"], "$5,000.00" in draft["body"], "1 January 2026" in draft["body"]
    ('professional', True, True)
    >>> draft_collection_email(client_name="Acme Corp", invoice_number="INV-001", amount=5000.00,
    ...     due_date="2026-01-01", days_overdue=14, relationship_type="strategic")["tone"]
    'soft'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypedDict

import jinja2

from tamio.errors import ValidationError
from tamio.preparation.draft_values import (
    AmountLike,
    DateLike,
    _as_date,
    _as_decimal,
    _count,
    _earlier_reminders,
    _format_amount,
    _format_date,
    _greeting,
    _invoice_context,
    _non_negative,
    _one_line,
    _one_of,
    _required_text,
    _signature,
)

Tone = Literal["soft", "professional", "firm"]
TONES: tuple[Tone, ...] = ("soft", "professional", "firm")
PAYMENT_RECORDS = ("good", "mixed", "poor")
RELATIONSHIP_TYPES = ("strategic", "managed", "transactional")
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
DEFAULT_ESCALATION_STEPS = "put your account on hold and start formal recovery of the amount owed"


class DraftedEmail(TypedDict):
    subject: str
    body: str
    html: str
    tone: Tone


def make_environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """The jinja2 environment for ``templates/`` (or ``templates_dir``), with ``emails/...`` names.

    Autoescaping is on for ``*.html.j2`` and off for ``*.txt.j2`` (a plain-text email must show
    ``<`` as ``<``); undefined variables raise instead of rendering as blanks.
    """
    root = templates_dir if templates_dir is not None else TEMPLATES_DIR
    if not (root / "emails").is_dir():
        raise FileNotFoundError(f"Email templates not found in {root / 'emails'}; pass templates_dir= or an environment=.")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,  # templates ship with the code; no stat() per render
    )


@functools.cache
def _default_environment() -> jinja2.Environment:
    return make_environment()


def shared_environment() -> jinja2.Environment:
    """The environment for ``templates/``, made once per process."""
    return _default_environment()


def choose_tone(
    days_overdue: int, *, payment_record: str | None = None, relationship_type: str | None = None, requested: str | None = None
) -> Tone:
    """The collection tone: ``requested`` as asked, else the table in the module docstring."""
    strategic = relationship_type is not None and _one_of(relationship_type, RELATIONSHIP_TYPES, "relationship_type") == "strategic"
    if requested is not None:
        return TONES[TONES.index(_one_of(requested, TONES, "tone"))]
    step = 0 if days_overdue < 14 else 1 if days_overdue < 30 else 2
    record = _one_of(payment_record, PAYMENT_RECORDS, "payment_record") if payment_record else None
    step = min(max(step + {"good": -1, "poor": 1}.get(record or "", 0), 0), len(TONES) - 1)
    return TONES[max(step - 1, 0) if strategic else step]


def draft_collection_email(
    *,
    client_name: str,
    invoice_number: str | None,
    amount: AmountLike,
    due_date: DateLike,
    days_overdue: int,
    tone: str | None = None,
    relationship_type: str | None = None,
    currency: str = "USD",
    contact_name: str | None = None,
    sender_name: str = "",
    company_name: str = "",
    payment_record: str | None = None,
    previous_reminders: int = 0,
    environment: jinja2.Environment | None = None,
) -> DraftedEmail:
    """A chaser for an overdue invoice, in the tone ``choose_tone`` picks."""
    if days_overdue < 0:
        raise ValidationError(
            "The invoice is not overdue yet.",
            field_errors={"days_overdue": "Use 0 or more; before the due date draft a payment reminder."},
        )
    chosen = choose_tone(days_overdue, payment_record=payment_record, relationship_type=relationship_type, requested=tone)
    context = _invoice_context(client_name, contact_name, invoice_number, amount, currency, due_date)
    context.update(
        days_overdue=days_overdue,
        days_overdue_text=_count(days_overdue, "day"),
        previous_reminders=_non_negative(previous_reminders, "previous_reminders"),
        reminders_text=_earlier_reminders(previous_reminders),
        closing={"soft": "Thank you", "professional": "Kind regards", "firm": "Regards"}[chosen],
        signature=_signature(sender_name, company_name),
    )
    return _render(f"emails/collection_{chosen}.txt.j2", context, chosen, environment)


def draft_payment_reminder(
    *,
    client_name: str,
    invoice_number: str | None,
    amount: AmountLike,
    due_date: DateLike,
    days_until_due: int,
    currency: str = "USD",
    contact_name: str | None = None,
    sender_name: str = "",
    company_name: str = "",
    environment: jinja2.Environment | None = None,
) -> DraftedEmail:
    """A courteous note before (or on) the due date; always soft."""
    context = _invoice_context(client_name, contact_name, invoice_number, amount, currency, due_date)
    context.update(
        days_until_due=_non_negative(days_until_due, "days_until_due"),
        days_until_due_text=_count(days_until_due, "day"),
        closing="Thank you",
        signature=_signature(sender_name, company_name),
    )
    return _render("emails/payment_reminder.txt.j2", context, "soft", environment)


def draft_collection_escalation(
    *,
    client_name: str,
    invoice_number: str | None,
    amount: AmountLike,
    due_date: DateLike,
    days_overdue: int,
    pay_by: DateLike,
    currency: str = "USD",
    contact_name: str | None = None,
    sender_name: str = "",
    company_name: str = "",
    previous_reminders: int = 0,
    next_steps: str = DEFAULT_ESCALATION_STEPS,
    environment: jinja2.Environment | None = None,
) -> DraftedEmail:
    """The final notice: a pay-by date and the next steps if it passes; always firm."""
    context = _invoice_context(client_name, contact_name, invoice_number, amount, currency, due_date)
    deadline = _as_date(pay_by, "pay_by")
    if deadline <= _as_date(due_date, "due_date"):
        raise ValidationError(
            "The final pay-by date must be after the invoice's due date.",
            field_errors={"pay_by": "Give a date after the due date, usually 7 to 14 days from today."},
        )
    reminders = _non_negative(previous_reminders, "previous_reminders")
    context.update(
        days_overdue_text=_count(_non_negative(days_overdue, "days_overdue"), "day"),
        pay_by=_format_date(deadline),
        previous_reminders=reminders,
        reminders_count_text={1: "once", 2: "twice"}.get(reminders, f"{reminders} times"),
        next_steps=_required_text(next_steps, "next_steps").rstrip("."),
        closing="Regards",
        signature=_signature(sender_name, company_name),
    )
    return _render("emails/collection_escalation.txt.j2", context, "firm", environment)


def draft_vendor_delay_request(
    vendor_name: str,
    amount: AmountLike,
    currency: str,
    original_date: DateLike,
    proposed_date: DateLike,
    contact_name: str | None = None,
    reason: str | None = None,
    company_name: str = "",
    invoice_number: str | None = None,
    *,
    sender_name: str = "",
    environment: jinja2.Environment | None = None,
) -> DraftedEmail:
    """Ask a vendor to accept payment on a later date; professional and specific."""
    original = _as_date(original_date, "original_date")
    proposed = _as_date(proposed_date, "proposed_date")
    if proposed <= original:
        raise ValidationError(
            "The proposed payment date must be later than the original one.",
            field_errors={"proposed_date": f"Pick a date after {_format_date(original)}."},
        )
    reason_text = _one_line(reason)
    if reason_text:
        reason_text = reason_text[0].upper() + reason_text[1:]
        if reason_text[-1] not in ".!?":
            reason_text += "."
    context: dict[str, Any] = {
        "greeting": _greeting(_required_text(vendor_name, "vendor_name"), contact_name),
        "amount": _format_amount(amount, currency),
        "original_date": _format_date(original),
        "proposed_date": _format_date(proposed),
        "delay_text": _count((proposed - original).days, "day"),
        "reason": reason_text,
        "company_name": _one_line(company_name),
        "invoice_number": _one_line(invoice_number),
        "closing": "Kind regards",
        "signature": _signature(sender_name, company_name),
    }
    return _render("emails/vendor_delay_request.txt.j2", context, "professional", environment)


def draft_payroll_contingency_summary(
    payroll_date: DateLike,
    payroll_amount: AmountLike,
    currency: str,
    cash_before: AmountLike,
    cash_after: AmountLike,
    buffer_required: AmountLike,
    steps: Sequence[tuple[str, AmountLike]],
    company_name: str = "",
    *,
    environment: jinja2.Environment | None = None,
) -> DraftedEmail:
    """An internal note for the team: payroll, the cash gap and the money moves proposed to close it.

    Nobody outside reads it: it goes with the plan to its approvers (``plan_steps`` in ``drafts``
    words the steps). ``cash_after`` may be negative; ``steps`` are ``(what to do, money it brings
    in before payroll)`` pairs, one line each; the total is given when there are several.
    """
    after = _as_decimal(cash_after, "cash_after", allow_negative=True)
    buffer = _as_decimal(buffer_required, "buffer_required")
    step_amounts = [(_required_text(text, "steps"), _as_decimal(value, "steps")) for text, value in steps]
    steps_total = sum((value for _, value in step_amounts), Decimal(0))
    after_steps = after + steps_total

    def money(value: Decimal) -> str:
        return _format_amount(value, currency, allow_negative=True)

    context: dict[str, Any] = {
        "company_name": _one_line(company_name),
        "payroll_date": _format_date(_as_date(payroll_date, "payroll_date")),
        "payroll_amount": _format_amount(payroll_amount, currency),
        "cash_before": money(_as_decimal(cash_before, "cash_before", allow_negative=True)),
        "cash_after": money(after),
        "buffer_required": money(buffer),
        "shortfall": money(buffer - after) if after < buffer else "",
        "headroom": money(after - buffer),
        # A step that already says its amount ("Draw $5,000.00 from Credit line") doesn't repeat it.
        "steps": [{"description": text, "amount": money(value), "names_amount": money(value) in text} for text, value in step_amounts],
        "steps_total": money(steps_total),
        "cash_after_steps": money(after_steps),
        "remaining_shortfall": money(buffer - after_steps) if after_steps < buffer else "",
        "headroom_after_steps": money(after_steps - buffer),
    }
    tone: Tone = "firm" if after < buffer else "professional"
    return _render("emails/payroll_contingency.txt.j2", context, tone, environment)


# --- rendering -----------------------------------------------------------------------------------


def _render(template: str, context: dict[str, Any], tone: Tone, environment: jinja2.Environment | None) -> DraftedEmail:
    env = environment if environment is not None else _default_environment()
    text = env.get_template(template).render(**context)
    first_line, _, rest = text.partition("\n")
    if not first_line.startswith("Subject:"):
        raise ValueError(f"{template} must start with a 'Subject:' line")
    # One line, no control characters: a value can never start a new email header.
    subject = " ".join(first_line.removeprefix("Subject:").split())
    body = _tidy(rest)
    paragraphs = [paragraph.split("\n") for paragraph in body.strip().split("\n\n")]
    html = env.get_template("emails/layout.html.j2").render(subject=subject, paragraphs=paragraphs)
    return {"subject": subject, "body": body, "html": html, "tone": tone}


def _tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.strip().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
