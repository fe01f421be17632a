"""The field types every API schema is built from, so money, dates, ids and text behave the same.

Why: JSON numbers are floats in most clients, so amounts travel as strings ("1200.50") and a
number where an amount belongs is refused, never rounded. Text is bounded by the column it lands
in and may not hold NUL (PostgreSQL refuses it). Dates are bounded so no calendar arithmetic can
overflow. Each type carries the JSON Schema the OpenAPI document shows, so what the document says
is what the validator does.

    class PaymentCreate(BaseModel):
        amount: PositiveAmount          # "1200.50"
        currency: Currency | None       # "usd" -> "USD"
        payment_date: Day | None        # "2026-12-07"
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from tamio.dates import read_date
from tamio.errors import ValidationError
from tamio.limits import MAX_NAME, MAX_NOTES
from tamio.money import precision, to_decimal_string

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)

_NO_NUL = r"^[^\x00]*$"
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"  # names and subjects: no control characters, no line breaks
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # notes: line breaks and tabs, no other control characters
_ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
_ID_RE = re.compile(_ID_PATTERN)
_DAY = r"^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_DAY_RE = re.compile(_DAY)
_ISO_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

BODY_CONFIG = ConfigDict(extra="forbid", strict=True)
QUERY_CONFIG = ConfigDict(extra="forbid")
OUT_CONFIG = ConfigDict(extra="forbid")


def _decimal_parser(pattern: str, example: str, what: str) -> Any:
    compiled = re.compile(pattern)

    def parse(value: Any) -> Decimal:
        if isinstance(value, Decimal):
            return value
        if not isinstance(value, str):
            raise ValueError(f"write {what} as a string, e.g. \"{example}\" (numbers lose precision)")
        if not compiled.fullmatch(value):
            raise ValueError(f"write {what} like \"{example}\"")
        try:
            return Decimal(value)
        except InvalidOperation as exc:  # pragma: no cover - the pattern already guards this
            raise ValueError(f"write {what} like \"{example}\"") from exc

    return parse


def _as_string(value: Decimal) -> str:
    return format(value, "f")


_AMOUNT = r"^-?[0-9]{1,12}(\.[0-9]{1,3})?$"
_POSITIVE_AMOUNT = r"^[0-9]{1,12}(\.[0-9]{1,3})?$"
_RATE = r"^[0-9]{1,9}(\.[0-9]{1,9})?$"  # within tamio.limits: 10^-9 to 10^9
_PERCENT = r"^(100(\.0{1,4})?|[0-9]{1,2}(\.[0-9]{1,4})?)$"

# Money has at most 12 integer digits and 3 decimals (tamio.limits: up to 10^12 in any currency), exact in
# the database's integer thousandths; sums of them go through tamio.db.money_sum, and a conversion past
# the limit is a 422 from the service, so no amount or product of amount and rate overflows.
Amount = Annotated[
    Decimal,
    BeforeValidator(_decimal_parser(_AMOUNT, "1200.50", "amounts")),
    PlainSerializer(_as_string, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _AMOUNT, "examples": ["-250.00"]}),
]
PositiveAmount = Annotated[
    Decimal,
    BeforeValidator(_decimal_parser(_POSITIVE_AMOUNT, "1200.50", "amounts")),
    PlainSerializer(_as_string, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _POSITIVE_AMOUNT, "examples": ["1200.50"]}),
]
Rate = Annotated[
    Decimal,
    BeforeValidator(_decimal_parser(_RATE, "1.0842", "rates")),
    PlainSerializer(_as_string, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _RATE, "examples": ["1.0842"]}),
]
Percent = Annotated[
    Decimal,
    BeforeValidator(_decimal_parser(_PERCENT, "20", "percentages")),
    PlainSerializer(_as_string, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _PERCENT, "examples": ["20"]}),
]


def _iso_day(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` text is a date here (pydantic alone would read "0" as 1970-01-01)."""
    if not isinstance(value, str):
        return value
    if not _DAY_RE.fullmatch(value) and _ISO_SHAPE.fullmatch(value) is None:
        raise ValueError("write the date like 2026-12-07 (between 1900 and 2199)")
    try:
        return read_date(value)
    except ValidationError as exc:  # the same words as Slack, the CLI and the CSV import
        raise ValueError(exc.message) from None


def _check_day(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"the date must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return value


Day = Annotated[
    date,
    BeforeValidator(_iso_day),
    AfterValidator(_check_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": _DAY, "examples": ["2026-12-07"]}),
]


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=_ONE_LINE)]
ShortText = Annotated[str, Field(max_length=40, pattern=_ONE_LINE)]
Line = Annotated[str, Field(max_length=200, pattern=_ONE_LINE)]
Subject = Annotated[str, Field(max_length=300, pattern=_ONE_LINE)]
Reason = Annotated[str, Field(max_length=500, pattern=_NO_NUL)]
Notes = Annotated[str, Field(max_length=MAX_NOTES, pattern=_TEXT)]
MessageBody = Annotated[str, Field(max_length=20000, pattern=_NO_NUL)]
Id = Annotated[str, Field(pattern=_ID_PATTERN, examples=["cli_0f9e8d7c6b5a49382716a5b4c3d2e1f0"])]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=60, pattern=_ONE_LINE)]], Field(max_length=50)]
_EMAIL = r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,255}$"
_CURRENCY = r"^[A-Za-z]{3}$"
Email = Annotated[str, Field(max_length=320, pattern=_EMAIL)]


def _upper(value: str) -> str:
    return value.upper()


Currency = Annotated[str, Field(pattern=_CURRENCY, examples=["USD"]), AfterValidator(_upper)]

# What a 422 says when text does not match its field's pattern (instead of the regular expression).
PATTERN_MESSAGES: dict[str, str] = {
    _NO_NUL: "must not contain NUL characters",
    _ONE_LINE: "must be one line, without control characters",
    _TEXT: "must be text without control characters (line breaks are fine)",
    _ID_PATTERN: "must be an id such as cli_0f9e8d7c6b5a4938 (letters, digits, _ and -, at most 40)",
    _DAY: "write the date like 2026-12-07 (between 1900 and 2199)",
    _EMAIL: "must be an email address such as ap@client.com",
    _CURRENCY: "must be a three-letter currency code such as USD",
    _AMOUNT: "write amounts like \"1200.50\"",
    _POSITIVE_AMOUNT: "write amounts like \"1200.50\"",
}

# Outgoing decimals are strings already formatted at the currency's precision.
MoneyOut = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["1200.50"])]
DecimalOut = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["1.0842"])]


def is_id(value: str) -> bool:
    return bool(_ID_RE.fullmatch(value))


def money_out(amount: Decimal, currency: str | None) -> str:
    """An amount at its currency's precision (1200.50 USD, 120000 JPY), as a JSON-safe string."""
    if currency:
        try:
            return to_decimal_string(amount, currency)
        except (InvalidOperation, ValueError):
            pass
    return to_decimal_string(amount)


def optional_money_out(amount: Decimal | None, currency: str | None) -> str | None:
    return None if amount is None else money_out(amount, currency)


def decimal_out(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def check_precision(amount: Decimal, currency: str, field: str = "amount") -> None:
    """Refuse more decimals than the currency has (10.005 USD), rather than round silently."""
    digits = precision(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits:
        message = f"{currency.upper()} amounts have at most {digits} decimal places."
        raise ValidationError(message, field_errors={field: message})
