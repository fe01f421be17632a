"""Adding an obligation: one input holding every rule, whichever edge it comes from.

``AddObligation`` is what the business is owed or owes, as a person says it: a kind, a
counterparty's name, an amount in a currency, how it recurs, and for an invoice its number.
``/tamio add`` (through ``tamio.obligations.inline``), the add form, the CLI, the CSV import and the
REST API all build one with ``AddObligation.read`` and hand it to ``tamio.obligations.add``; they
only translate the ``ValidationError`` it raises (its ``message`` for a person, its
``field_errors`` for a form or problem JSON). All the problems of one input come back at once.

The rules: a name on one line of 1 to 200 characters; an amount above zero, at most 10^12, with no
more decimals than its currency has; a currency in circulation; a schedule that makes sense (an end
after the start, a day of the month only for monthly, quarterly and yearly ones); an invoice number
only on a one-off; dates from 1900 to 2199, and a start at most ``ARREARS_YEARS`` back (past dates
are fine: an invoice already overdue, or an agreement whose arrears are owed).

    add = AddObligation.read({"kind": "client", "name": "Acme", "amount": "5000", "currency": "USD",
                              "recurrence": RecurrenceSpec(Frequency.ONCE, date(2026, 11, 20)), "invoice": "INV-1042"},
                             today=date(2026, 12, 6))
    overdue_note(date(2026, 11, 20), today=date(2026, 12, 6))   # 'already 16 days overdue'
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Final, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from tamio.errors import TamioError, ValidationError
from tamio.limits import MAX_INVOICE, check_amount, check_name
from tamio.money import normalize_currency, parse_amount, precision
from tamio.obligations.counterparties import read_email
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec

Kind = Literal["client", "expense", "payroll", "tax"]
KINDS: Final = ("client", "expense", "payroll", "tax")
FIRST_DAY: Final = date(1900, 1, 1)
LAST_DAY: Final = date(2199, 12, 31)
ARREARS_YEARS: Final = 5
DAY_OF_MONTH: Final = frozenset({Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUALLY})


def _refuse(field: str, message: str, short: str | None = None) -> PydanticCustomError:
    """A rule's refusal inside pydantic: the sentence for a person and the short text for a form's field."""
    return PydanticCustomError("tamio", "{message}", {"message": message, "short": short or message, "field": field})


def _from(exc: TamioError, field: str) -> PydanticCustomError:
    short = exc.field_errors.get(field) if isinstance(exc, ValidationError) else None
    if short is None and isinstance(exc, ValidationError) and exc.field_errors:
        short = next(iter(exc.field_errors.values()))
    return _refuse(field, exc.message, short)


class AddObligation(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    name: str
    amount: Decimal
    currency: str
    recurrence: RecurrenceSpec
    invoice: str | None = None  # an invoice's (or bill's) number: what ``/tamio paid ... for INV-1042`` matches
    contact_email: str | None = None  # where follow-up emails go; replaces the counterparty's
    allow_duplicate: bool = False  # add it even when the same amount and frequency is already there (``tamio.obligations.duplicates``)

    @classmethod
    def read(cls, values: dict[str, Any], *, today: date | None = None) -> AddObligation:
        """The input, or one ``ValidationError`` with every field's problem (``today`` adds the rules on dates)."""
        try:
            return cls.model_validate(values, context={"today": today} if today is not None else None)
        except pydantic.ValidationError as exc:
            raise _as_tamio(exc) from None

    def checked(self, today: date) -> AddObligation:
        """This input held to the rules that need today's date (an edge may have built it without it)."""
        return AddObligation.read(dict(self), today=today)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        if value not in KINDS:
            raise _refuse("kind", f"`{str(value)[:40]}` is not something I can add.", "client, expense, payroll or tax")
        return value

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        try:
            return check_name(str(value if value is not None else ""))
        except ValidationError as exc:
            raise _from(exc, "name") from None

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: Any) -> str:
        try:
            return normalize_currency(str(value if value is not None else ""))
        except ValidationError as exc:
            raise _from(exc, "currency") from None

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        try:
            amount = value if isinstance(value, Decimal) else parse_amount(str(value))
            if not amount.is_finite() or amount <= 0:
                raise ValidationError("The amount must be more than zero.", field_errors={"amount": "must be more than zero"})
            return check_amount(amount, what="The amount")
        except ValidationError as exc:
            raise _from(exc, "amount") from None

    @field_validator("invoice", mode="before")
    @classmethod
    def _invoice(cls, value: Any) -> str | None:
        if value is None or not str(value).strip():
            return None
        try:
            ref = check_name(str(value), field="invoice", what="The invoice number")
        except ValidationError as exc:
            raise _from(exc, "invoice") from None
        if len(ref) > MAX_INVOICE:
            raise _refuse("invoice", f"The invoice number has {len(ref)} characters; use at most {MAX_INVOICE}.",
                          f"at most {MAX_INVOICE} characters")
        return ref

    @field_validator("contact_email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str | None:
        if value is None or not str(value).strip():
            return None
        try:
            return read_email(str(value))
        except ValidationError as exc:
            raise _from(exc, "contact_email") from None

    @field_validator("recurrence")
    @classmethod
    def _recurrence(cls, spec: RecurrenceSpec, info: ValidationInfo) -> RecurrenceSpec:
        for field, day in (("start_date", spec.start_date), ("end_date", spec.end_date)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise _refuse(field, f"{day.isoformat()} is too far away; use a date from {FIRST_DAY.year} to {LAST_DAY.year}.",
                              f"a date from {FIRST_DAY.year} to {LAST_DAY.year}")
        today = (info.context or {}).get("today")
        if today is not None and spec.start_date < years_before(today, ARREARS_YEARS):
            raise _refuse("start_date", f"The start date {spec.start_date.isoformat()} is more than {ARREARS_YEARS} years ago; "
                          f"Tamio schedules what is owed for at most {ARREARS_YEARS} years back.",
                          f"at most {ARREARS_YEARS} years ago")
        if spec.day is not None and spec.frequency not in DAY_OF_MONTH and spec.frequency != Frequency.CUSTOM:
            raise _refuse("day", f"`on {spec.day}` applies to monthly, quarterly and annual schedules only.",
                          "only for monthly, quarterly and yearly amounts")
        if spec.end_date is not None and spec.end_date < spec.start_date:
            raise _refuse("end_date", f"The end date {spec.end_date.isoformat()} is before the start date {spec.start_date.isoformat()}.",
                          "on or after the first date")
        try:
            spec.recurrence()
        except (TamioError, ValueError) as exc:
            message = exc.message if isinstance(exc, TamioError) else str(exc)
            field = {"end": "end_date", "start": "start_date", "calendar": "calendar", "day": "day",
                     "last_business_day": "day"}.get(getattr(exc, "field", None) or "", "frequency")
            raise _refuse(field, message[:1].upper() + message[1:] + ".") from None
        return spec

    @model_validator(mode="after")
    def _together(self) -> AddObligation:
        digits = precision(self.currency)
        exponent = self.amount.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > digits:
            raise _refuse("amount", f"{self.currency} amounts have at most {digits} decimal places.",
                          f"at most {digits} decimal places in {self.currency}")
        if self.invoice is not None and self.recurrence.frequency != Frequency.ONCE:
            raise _refuse("invoice", f"An invoice number goes with a one-off amount, not a {self.recurrence.frequency.value} one.",
                          "only for a one-off amount")
        return self


def _as_tamio(exc: pydantic.ValidationError) -> ValidationError:
    """pydantic's errors as Tamio's: the first problem's sentence, every field's short text."""
    messages: list[str] = []
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        context = error.get("ctx") or {}
        if error["type"] == "tamio":
            field, message, short = str(context["field"]), str(context["message"]), str(context["short"])
        else:
            field = ".".join(str(part) for part in error["loc"]) or "obligation"
            message = f"The {field.replace('_', ' ')} is missing." if error["type"] == "missing" else f"The {field}: {error['msg']}."
            short = "required" if error["type"] == "missing" else str(error["msg"])
        messages.append(message)
        fields.setdefault(field, short)
    return ValidationError(messages[0] if messages else "That obligation is not valid.", field_errors=fields)


def years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def overdue_note(due: date, *, today: date) -> str:
    """``already 16 days overdue`` for a date past, else empty: the same words in Slack, the CLI and the API."""
    days = (today - due).days
    if days <= 0:
        return ""
    return f"already {days} day{'s' if days != 1 else ''} overdue"
