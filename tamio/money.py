"""Money: ``Decimal`` amounts with a currency, their precision and how people write them.

Amounts are never floats. ``parse_amount`` reads what people type ("1200", "1,200.50") in ASCII
digits and refuses what is ambiguous ("12,00.5"), other scripts' digits ("١٢٠٠") and amounts past
the shared limit (``tamio.limits``); ``normalize_currency`` takes ISO 4217 codes of currencies in
circulation (not test or fund codes such as XTS or XXX); ``quantize`` rounds to the currency's minor units (JPY 0,
USD 2, KWD 3) with banker's rounding; ``format_money`` writes them as the business does.

    >>> format_money(Decimal("42000"), "USD")
    '$42,000.00'
    >>> quantize(Decimal("1.005"), "KWD")
    Decimal('1.005')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from babel.core import Locale, get_global
from babel.numbers import format_currency, get_currency_precision

from tamio.errors import ValidationError
from tamio.limits import amount_too_large, check_amount

ZERO = Decimal("0")
# ASCII digits only: ``\d`` would also read Arabic-Indic and other scripts' digits as an amount.
_AMOUNT_RE = re.compile(r"^[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?$")
_CODE_RE = re.compile(r"^[A-Za-z]{3}$")


def _in_circulation() -> frozenset[str]:
    """ISO 4217 codes that are legal tender somewhere with no end date in the CLDR data babel ships."""
    territories: Mapping[str, list[tuple[str, object, object, bool]]] = get_global("territory_currencies")
    return frozenset(code for periods in territories.values() for code, _start, end, tender in periods if end is None and tender)


CURRENCIES_IN_CIRCULATION: frozenset[str] = _in_circulation()


def is_currency(code: str) -> bool:
    return code.upper() in CURRENCIES_IN_CIRCULATION


def normalize_currency(code: str) -> str:
    """Upper-case a currency code, refusing what is not one in circulation with an example of a good one."""
    value = (code or "").strip().upper()
    shown = (code or "").strip()[:20]
    if not _CODE_RE.match(value):
        message = "Use the three-letter ISO code, such as USD, EUR or GBP."
        raise ValidationError(f"`{shown}` is not a currency code.", field_errors={"currency": message}, hint=message)
    if value not in CURRENCIES_IN_CIRCULATION:
        message = "Use the ISO code of a currency in circulation, such as USD, EUR or GBP."
        raise ValidationError(f"`{shown}` is not a currency I know.", field_errors={"currency": f"not a currency I know; {message[0].lower()}{message[1:]}"},
                              hint=message)
    return value


@lru_cache(maxsize=512)
def precision(currency: str) -> int:
    return int(get_currency_precision(currency.upper()))


@lru_cache(maxsize=512)
def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-precision(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN)


class AmountProblem(ValueError):
    """Why ``read_amount`` refused a text: ``kind`` is unreadable, negative, zero, too_large or
    precision; each edge words it for its reader (a Slack reply, a CSV cell, a settings field)."""

    def __init__(self, kind: str, value: Decimal | None = None, digits: int = 0) -> None:
        super().__init__(kind)
        self.kind, self.value, self.digits = kind, value, digits


def read_amount(text: str, *, currency: str | None = None, allow_negative: bool = False, allow_zero: bool = False) -> Decimal:
    """The one amount reader's rules: ASCII digits, ``1200`` or ``1,200.50`` (spaces and a leading
    $ € £ ¥ ignored), within ``tamio.limits``, no more decimals than ``currency`` has."""
    raw = (text or "").strip().replace(" ", "")
    for symbol in ("$", "€", "£", "¥"):
        raw = raw.replace(symbol, "")
    if not _AMOUNT_RE.fullmatch(raw):
        raise AmountProblem("unreadable")
    value = Decimal(raw.replace(",", ""))
    if value < 0 and not allow_negative:
        raise AmountProblem("negative", value)
    if value == 0 and not (allow_zero or allow_negative):
        raise AmountProblem("zero", value)
    if amount_too_large(value):
        raise AmountProblem("too_large", value)
    if currency is not None:
        digits = precision(currency)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > digits:
            raise AmountProblem("precision", value, -exponent)
    return value


def parse_amount(text: str, *, currency: str | None = None, allow_negative: bool = False, allow_zero: bool = False,
                 field: str = "amount") -> Decimal:
    """Read an amount as people type it (``read_amount``), refusing with a message for Slack, the CLI and the API."""
    hint = "Write it like `1200` or `1,200.50`."
    shown = (text or "").strip()
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    try:
        return read_amount(text, currency=currency, allow_negative=allow_negative, allow_zero=allow_zero)
    except AmountProblem as problem:
        if problem.kind == "too_large" and problem.value is not None:
            check_amount(problem.value, field=field, what=f"The {field.replace('_', ' ')}")
        message = {
            "negative": "The amount must be positive.",
            "zero": "The amount must be more than zero.",
            "precision": f"{(currency or '').upper()} amounts have at most {precision(currency or 'USD')} decimal places.",
        }.get(problem.kind)
        if message is None:
            raise ValidationError(f"I couldn't read the amount `{shown}`.", field_errors={field: hint}, hint=hint) from None
        raise ValidationError(f"I couldn't use the amount `{shown}`: {message}", field_errors={field: message}) from None


def format_money(amount: Decimal, currency: str, *, locale: str = "en_US", with_cents: bool = True) -> str:
    """The one way Tamio writes an amount in text: the currency's symbol and always its minor units
    (``$10,360.00`` beside ``$25,640.50``, never ``$10,360``). ``with_cents=False`` is for a chart's
    axis, not for text."""
    cur = currency.upper()
    if with_cents:
        shape = _shape(cur, locale)
        if shape is not None:  # babel is ~30 us a call; an alert run formats thousands of amounts
            prefix, suffix, digits = shape
            value = quantize(amount, cur)
            return f"{'-' if value < 0 else ''}{prefix}{abs(value):,.{digits}f}{suffix}"
    return _babel_money(amount, cur, locale, with_cents)


@lru_cache(maxsize=256)
def _shape(currency: str, locale: str) -> tuple[str, str, int] | None:
    """What babel writes around an amount in ``currency`` and ``locale``, when it is Python's own
    ``,`` and ``.`` grouping (en_US and its like); None sends the amount to babel."""
    digits = precision(currency)
    sample = _babel_money(Decimal("1234"), currency, locale, True)
    number = format(Decimal("1234").quantize(quantum(currency)), ",f")
    negative = _babel_money(Decimal("-1234"), currency, locale, True)
    at = sample.find(number)
    if at < 0 or negative != "-" + sample:
        return None
    return sample[:at], sample[at + len(number):], digits


@lru_cache(maxsize=8192)
def _babel_money(amount: Decimal, currency: str, locale: str, with_cents: bool) -> str:
    value = quantize(amount, currency)
    if not with_cents:
        value = value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        fmt = Locale.parse(locale).currency_formats["standard"].pattern
        return str(format_currency(value, currency, format=fmt.replace(".00", ""), locale=locale, currency_digits=False))
    return str(format_currency(value, currency, locale=locale))


def to_decimal_string(amount: Decimal, currency: str | None = None) -> str:
    """A JSON-safe decimal string, at the currency's precision when one is given."""
    value = quantize(amount, currency) if currency else amount
    return format(value, "f")
