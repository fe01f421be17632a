"""Xero's JSON shapes <-> Tamio's integration records, and Xero's date formats.

Pure functions, no network, so the mapping is tested on its own. Xero's Accounting API writes
dates the .NET way, ``/Date(1518652800000+0000)/`` (milliseconds since the epoch in UTC; the
offset is informational), and some fields also come as ISO text (``DateString``). Amounts must
be read with ``json.loads(text, parse_float=Decimal)`` so they arrive here as ``Decimal``.

    >>> parse_xero_datetime("/Date(1518652800000+0000)/")
    datetime.datetime(2018, 2, 15, 0, 0, tzinfo=datetime.timezone.utc)
    >>> format_xero_datetime(datetime(2018, 2, 15, tzinfo=UTC))
    '/Date(1518652800000+0000)/'
    >>> format_if_modified_since(datetime(2018, 2, 15, 9, 30, 5, 900000, tzinfo=UTC))
    '2018-02-15T09:30:05'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tamio.integrations.base import (
    ContactDraft,
    ContactStatus,
    ExternalContact,
    ExternalInvoice,
    ExternalPayment,
    IntegrationError,
    InvoiceKind,
    InvoiceStatus,
    PaymentStatus,
)

XeroObject = Mapping[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DOTNET_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")

INVOICE_KINDS: dict[str, InvoiceKind] = {"ACCREC": "receivable", "ACCPAY": "payable"}
XERO_INVOICE_TYPES: dict[InvoiceKind, str] = {kind: code for code, kind in INVOICE_KINDS.items()}
INVOICE_STATUSES: dict[str, InvoiceStatus] = {
    "DRAFT": "draft",
    "SUBMITTED": "submitted",
    "AUTHORISED": "authorised",
    "PAID": "paid",
    "VOIDED": "voided",
    "DELETED": "deleted",
}
CONTACT_STATUSES: dict[str, ContactStatus] = {
    "ACTIVE": "active",
    "ARCHIVED": "archived",
    "GDPRREQUEST": "gdpr_request",
}
PAYMENT_STATUSES: dict[str, PaymentStatus] = {"AUTHORISED": "authorised", "DELETED": "deleted"}


# --- dates ---------------------------------------------------------------------------------------


def parse_xero_datetime(value: str) -> datetime:
    """Read ``/Date(ms+0000)/``, ``/Date(ms)/`` or ISO 8601 (naive means UTC) as aware UTC."""
    match = _DOTNET_DATE.match(value.strip())
    if match:
        millis = int(match.group(1))
        return _EPOCH + timedelta(milliseconds=millis)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise IntegrationError(f"Xero sent a date I can't read: {value!r}.") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_xero_date(value: str) -> date:
    """A calendar date (invoice date, due date): Xero sends midnight UTC of that day."""
    return parse_xero_datetime(value).date()


def format_xero_datetime(moment: datetime) -> str:
    """Write an aware datetime as Xero does, to the millisecond: ``/Date(ms+0000)/``."""
    if moment.tzinfo is None:
        raise ValueError("Xero datetimes must be timezone-aware")
    delta = moment.astimezone(UTC) - _EPOCH
    millis = delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
    return f"/Date({millis}+0000)/"


def format_xero_date(day: date) -> str:
    return format_xero_datetime(datetime(day.year, day.month, day.day, tzinfo=UTC))


def format_if_modified_since(since: datetime) -> str:
    """Xero's ``If-Modified-Since``: a UTC timestamp ``yyyy-mm-ddThh:mm:ss`` without fractions.

    Fractions are dropped (rounded down), so the record changed at exactly ``since`` comes back
    again: pulls are idempotent upserts, and missing a change would be worse than seeing it twice.
    """
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware (UTC)")
    return since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


# --- amounts and small readers -------------------------------------------------------------------


def money(value: object) -> Decimal:
    """An amount from parsed JSON: Decimal (floats parsed as Decimal), int or numeric text."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise IntegrationError(f"Xero sent an amount I can't read: {value!r}.")
    if isinstance(value, int | str):
        return Decimal(value)
    raise IntegrationError(
        f"Xero sent an amount as {type(value).__name__}; parse JSON with parse_float=Decimal."
    )


def _optional_money(value: object) -> Decimal | None:
    return None if value is None else money(value)


def _text(obj: XeroObject, key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _required(obj: XeroObject, key: str, what: str) -> Any:
    if key not in obj or obj[key] is None:
        raise IntegrationError(f"Xero sent a {what} without {key}.")
    return obj[key]


def _optional_date(obj: XeroObject, key: str) -> date | None:
    value = obj.get(key)
    return parse_xero_date(value) if isinstance(value, str) and value else None


# --- records -------------------------------------------------------------------------------------


def contact_from_xero(obj: XeroObject) -> ExternalContact:
    person = " ".join(part for part in (_text(obj, "FirstName"), _text(obj, "LastName")) if part)
    status = str(obj.get("ContactStatus") or "ACTIVE").upper()
    if status not in CONTACT_STATUSES:
        raise IntegrationError(f"Xero sent a contact status I don't know: {status!r}.")
    return ExternalContact(
        external_id=str(_required(obj, "ContactID", "contact")),
        name=str(_required(obj, "Name", "contact")),
        email=_text(obj, "EmailAddress"),
        is_customer=bool(obj.get("IsCustomer", False)),
        is_supplier=bool(obj.get("IsSupplier", False)),
        updated_at=parse_xero_datetime(str(_required(obj, "UpdatedDateUTC", "contact"))),
        contact_name=person or None,
        status=CONTACT_STATUSES[status],
    )


def contact_to_xero(draft: ContactDraft) -> dict[str, Any]:
    """The body element for PUT/POST /Contacts. IsCustomer/IsSupplier are read-only in Xero."""
    body: dict[str, Any] = {"Name": draft.name}
    if draft.external_id:
        body["ContactID"] = draft.external_id
    if draft.email is not None:
        body["EmailAddress"] = draft.email
    if draft.contact_name is not None:
        first, _, last = draft.contact_name.strip().partition(" ")
        body["FirstName"] = first
        body["LastName"] = last.strip()
    return body


def invoice_from_xero(obj: XeroObject) -> ExternalInvoice:
    invoice_type = str(_required(obj, "Type", "invoice"))
    status = str(_required(obj, "Status", "invoice"))
    if invoice_type not in INVOICE_KINDS:
        raise IntegrationError(f"Xero sent an invoice type I don't know: {invoice_type!r}.")
    if status not in INVOICE_STATUSES:
        raise IntegrationError(f"Xero sent an invoice status I don't know: {status!r}.")
    contact: XeroObject = _required(obj, "Contact", "invoice")
    return ExternalInvoice(
        external_id=str(_required(obj, "InvoiceID", "invoice")),
        number=_text(obj, "InvoiceNumber"),
        kind=INVOICE_KINDS[invoice_type],
        contact_external_id=str(_required(contact, "ContactID", "invoice contact")),
        contact_name=str(contact.get("Name") or ""),
        issue_date=_optional_date(obj, "Date"),
        due_date=_optional_date(obj, "DueDate"),
        total=money(obj.get("Total", 0)),
        amount_due=money(obj.get("AmountDue", 0)),
        amount_paid=money(obj.get("AmountPaid", 0)),
        currency=str(_required(obj, "CurrencyCode", "invoice")),
        currency_rate=_optional_money(obj.get("CurrencyRate")),
        status=INVOICE_STATUSES[status],
        updated_at=parse_xero_datetime(str(_required(obj, "UpdatedDateUTC", "invoice"))),
    )


def payment_from_xero(obj: XeroObject) -> ExternalPayment:
    status = str(obj.get("Status") or "AUTHORISED")
    if status not in PAYMENT_STATUSES:
        raise IntegrationError(f"Xero sent a payment status I don't know: {status!r}.")
    invoice: XeroObject | None = obj.get("Invoice")
    # A payment may settle a credit note, prepayment or overpayment instead of an invoice.
    document: XeroObject = (
        invoice or obj.get("CreditNote") or obj.get("Prepayment") or obj.get("Overpayment") or {}
    )
    paid_on = parse_xero_date(str(_required(obj, "Date", "payment")))
    return ExternalPayment(
        external_id=str(_required(obj, "PaymentID", "payment")),
        invoice_external_id=_text(invoice, "InvoiceID") if invoice else None,
        amount=money(_required(obj, "Amount", "payment")),
        currency=_text(document, "CurrencyCode"),
        currency_rate=_optional_money(obj.get("CurrencyRate")),
        date=paid_on,
        status=PAYMENT_STATUSES[status],
        updated_at=parse_xero_datetime(str(_required(obj, "UpdatedDateUTC", "payment"))),
    )
