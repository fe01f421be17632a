"""Bodies of the cash-account, exchange-rate and forecast routes.

``ForecastOut`` is ``Forecast.to_json()`` (the shape ``tamio forecast --json`` prints) described as
a model: the route validates the engine's JSON against it, so the two cannot part ways silently.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from tamio.api.types import (
    BODY_CONFIG,
    OUT_CONFIG,
    QUERY_CONFIG,
    Amount,
    Currency,
    Day,
    DecimalOut,
    MoneyOut,
    Name,
    PositiveAmount,
    Rate,
    decimal_out,
    money_out,
    optional_money_out,
)
from tamio.currency.models import ExchangeRate
from tamio.data.models import CashAccount, CashAccountType

# -- cash accounts ------------------------------------------------------------------------------


class CashAccountCreate(BaseModel):
    model_config = BODY_CONFIG
    name: Name
    balance: Amount = Field(description="a credit line's balance is what is drawn, as a negative amount")
    currency: Currency | None = Field(None, description="default: the account's base currency")
    account_type: CashAccountType = CashAccountType.BANK
    credit_limit: PositiveAmount | None = None


class BalanceIn(BaseModel):
    model_config = BODY_CONFIG
    balance: Amount
    currency: Currency | None = Field(None, description="default: the cash account's currency")
    credit_limit: PositiveAmount | None = None


class CashAccountOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    name: str
    account_type: CashAccountType
    balance: MoneyOut
    currency: str
    base_currency_amount: MoneyOut | None
    exchange_rate_used: DecimalOut | None
    credit_limit: MoneyOut | None
    drawn_amount: MoneyOut
    is_primary: bool
    balance_as_of: datetime | None
    created_at: datetime
    updated_at: datetime


class CashAccountList(BaseModel):
    model_config = OUT_CONFIG
    cash_accounts: list[CashAccountOut]


def cash_account_out(cash: CashAccount, *, base_currency: str) -> CashAccountOut:
    return CashAccountOut(
        id=cash.id, name=cash.name, account_type=cash.account_type, balance=money_out(cash.balance, cash.currency),
        currency=cash.currency, base_currency_amount=optional_money_out(cash.base_currency_amount, base_currency),
        exchange_rate_used=decimal_out(cash.exchange_rate_used), credit_limit=optional_money_out(cash.credit_limit, cash.currency),
        drawn_amount=money_out(cash.drawn_amount, cash.currency), is_primary=cash.is_primary, balance_as_of=cash.balance_as_of,
        created_at=cash.created_at, updated_at=cash.updated_at,
    )


# -- exchange rates -----------------------------------------------------------------------------


class RateQuery(BaseModel):
    """Filter by pair: ``base`` and ``quote``, or by the names the rates carry, ``base_currency`` and ``quote_currency``."""

    model_config = QUERY_CONFIG
    base: Currency | None = None
    quote: Currency | None = None
    base_currency: Currency | None = None
    quote_currency: Currency | None = None
    limit: int = Field(200, ge=1, le=2000)

    @model_validator(mode="after")
    def _one_name_each(self) -> RateQuery:
        for short, long in (("base", "base_currency"), ("quote", "quote_currency")):
            if getattr(self, short) is not None and getattr(self, long) is not None:
                raise ValueError(f"give {short} or {long}, not both")
        return self


class RateIn(BaseModel):
    """``rate`` units of ``quote_currency`` buy one ``base_currency`` on ``rate_date``."""

    model_config = BODY_CONFIG
    base_currency: Currency
    quote_currency: Currency
    rate: Rate
    rate_date: Day | None = Field(None, description="default: today in the account's time zone")


class RateOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    own: bool = Field(description="this account's own rate (it wins over the server's feed for the pair); false: the server's feed")
    base_currency: str
    quote_currency: str
    rate: DecimalOut
    rate_date: date
    source: str


class RateList(BaseModel):
    model_config = OUT_CONFIG
    rates: list[RateOut]


def rate_out(rate: ExchangeRate) -> RateOut:
    return RateOut(
        id=rate.id, own=rate.user_id is not None, base_currency=rate.base_currency, quote_currency=rate.quote_currency, rate=format(rate.rate, "f"),
        rate_date=rate.rate_date, source=rate.source,
    )


FeedUrl = Annotated[str, Field(max_length=500, pattern=r"^https?://[^\s\x00]+$")]
Base64 = Annotated[str, Field(max_length=8_000_000, pattern=r"^[A-Za-z0-9+/=\s]*$")]
Document = Annotated[str, Field(max_length=8_000_000, pattern=r"^[^\x00]*$")]


class EcbImportIn(BaseModel):
    """One of: the file's text (daily or 90-day XML, history CSV), the file base64-encoded (also the zip),
    or the URL of the configured feed (TAMIO_ECB_FEED_URL) or of the ECB's own site."""

    model_config = BODY_CONFIG
    content: Document | None = None
    content_base64: Base64 | None = None
    url: FeedUrl | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EcbImportIn:
        given = [name for name in ("content", "content_base64", "url") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of content, content_base64 or url")
        return self


class EcbImportOut(BaseModel):
    model_config = OUT_CONFIG
    imported: int = Field(description="rates stored (new or replaced)")
    latest_rate_date: date | None


# -- forecast ------------------------------------------------------------------------------------


class ForecastQuery(BaseModel):
    model_config = QUERY_CONFIG
    weeks: int = Field(13, ge=1, le=52)
    as_of: Day | None = Field(None, description="first day of week 1 (default: today in the account's time zone)")


class ForecastWeekOut(BaseModel):
    model_config = OUT_CONFIG
    start: date
    end: date
    opening_balance: MoneyOut
    inflows: MoneyOut
    outflows: MoneyOut
    net: MoneyOut
    closing_balance: MoneyOut
    confidence: str
    low: MoneyOut
    high: MoneyOut


class ForecastOut(BaseModel):
    """The weekly cash forecast, exactly as ``tamio forecast --json`` prints it."""

    model_config = OUT_CONFIG
    base_currency: str
    as_of: date
    interval: DecimalOut = Field(description="each week's low and high are an interval of this probability (0.80)")
    opening_balance: MoneyOut
    weeks: list[ForecastWeekOut]
    lowest_closing_balance: MoneyOut
    lowest_week_start: date
    runway_weeks: DecimalOut | None
