"""``/api/v1/data/cash-accounts``, ``/api/v1/data/exchange-rates`` and ``/api/v1/forecast``.

Exchange rates: the server's feed (the ECB's, written by the scheduler or an operator's CLI) serves
every account and no route writes it; what an account's admin adds or imports here is that
account's own rates, which only it reads and which win over the feed for their pair. Importing from
a URL is limited to the configured feed and the ECB's own site: the server never fetches an address
a caller made up. The download happens before the
database transaction opens, so a slow feed holds no lock. The forecast is the one ``tamio
forecast --json`` prints, for the same account, weeks and start.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from sqlalchemy import select

from tamio.accounts.permissions import Operation
from tamio.api.registry import Call, Router, Upload
from tamio.api.schemas.money import (
    BalanceIn,
    CashAccountCreate,
    CashAccountList,
    CashAccountOut,
    EcbImportIn,
    EcbImportOut,
    ForecastOut,
    ForecastQuery,
    RateIn,
    RateList,
    RateOut,
    RateQuery,
    cash_account_out,
    rate_out,
)
from tamio.api.types import check_precision
from tamio.config import Settings
from tamio.currency.ecb import EcbFetchError, EcbFormatError, EcbRate, load_ecb_rates, parse_ecb_document
from tamio.currency.models import ExchangeRate
from tamio.currency.service import list_rates, set_account_rate, upsert_rates
from tamio.data.service import find_cash_account, get_cash_account, list_cash_accounts, set_balance
from tamio.errors import Conflict, TamioError, ValidationError
from tamio.forecast.service import calculate_forecast
from tamio.money import normalize_currency

router = Router("Cash, rates and forecast")

ECB_SITE = "https://www.ecb.europa.eu/stats/eurofxref/"


class FeedUnavailable(TamioError):
    status = 502
    title = "Bad Gateway"


# -- cash accounts ------------------------------------------------------------------------------


@router.route("GET", "/data/cash-accounts", response=CashAccountList, summary="List cash accounts")
async def list_cash(call: Call) -> CashAccountList:
    accounts = await list_cash_accounts(call.db, account_id=call.account.id)
    return CashAccountList(cash_accounts=[cash_account_out(c, base_currency=call.account.base_currency) for c in accounts])


@router.route("GET", "/data/cash-accounts/{cash_account_id}", response=CashAccountOut, summary="Get a cash account")
async def get_cash(call: Call) -> CashAccountOut:
    cash = await get_cash_account(call.db, account_id=call.account.id, cash_account_id=call.path["cash_account_id"])
    return cash_account_out(cash, base_currency=call.account.base_currency)


@router.route(
    "POST", "/data/cash-accounts", body=CashAccountCreate, response=CashAccountOut, status=201, permission=Operation.MANAGE_DATA,
    errors=(409,), summary="Create a cash account",
)
async def create_cash(call: Call) -> CashAccountOut:
    """A bank or savings account, or a credit line, with its balance today; 409 when the name is taken."""
    body = call.body(CashAccountCreate)
    if await find_cash_account(call.db, account_id=call.account.id, name=body.name) is not None:
        raise Conflict(f"There is already a cash account named `{body.name}`.", hint="Set its balance with PUT .../balance.")
    currency = normalize_currency(body.currency or call.account.base_currency)
    check_precision(body.balance, currency, "balance")
    if body.credit_limit is not None:
        check_precision(body.credit_limit, currency, "credit_limit")
    cash = await set_balance(
        call.db, account=call.account, name=body.name, amount=body.balance, currency=currency, on_date=call.today,
        now=call.now, account_type=body.account_type, credit_limit=body.credit_limit, actor=call.actor,
    )
    return cash_account_out(cash, base_currency=call.account.base_currency)


@router.route(
    "PUT", "/data/cash-accounts/{cash_account_id}/balance", body=BalanceIn, response=CashAccountOut, permission=Operation.MANAGE_DATA,
    errors=(409,), summary="Set a cash account's balance",
)
async def set_cash_balance(call: Call) -> CashAccountOut:
    """The balance as of now, converted to the base currency at today's rate."""
    body = call.body(BalanceIn)
    cash = await get_cash_account(call.db, account_id=call.account.id, cash_account_id=call.path["cash_account_id"])
    # set_balance finds the account by name; make sure that name leads back to this account.
    same = await find_cash_account(call.db, account_id=call.account.id, name=cash.name)
    if same is None or same.id != cash.id:
        raise Conflict(
            f"The name of cash account `{cash.id}` cannot be told apart from another's, so its balance was not set.",
            hint="Rename one of them so their names differ by more than the case of accented letters.",
        )
    currency = normalize_currency(body.currency or cash.currency)
    check_precision(body.balance, currency, "balance")
    if body.credit_limit is not None:
        check_precision(body.credit_limit, currency, "credit_limit")
    cash = await set_balance(
        call.db, account=call.account, name=cash.name, amount=body.balance, currency=currency, on_date=call.today,
        now=call.now, credit_limit=body.credit_limit, actor=call.actor,
    )
    return cash_account_out(cash, base_currency=call.account.base_currency)


# -- exchange rates ------------------------------------------------------------------------------


@router.route("GET", "/data/exchange-rates", query=RateQuery, response=RateList, summary="List exchange rates")
async def list_exchange_rates(call: Call) -> RateList:
    query = call.query(RateQuery)
    rows = await list_rates(
        call.db, account_id=call.account.id, base_currency=query.base or query.base_currency, quote_currency=query.quote or query.quote_currency, limit=query.limit
    )
    return RateList(rates=[rate_out(r) for r in rows])


@router.route(
    "POST", "/data/exchange-rates", body=RateIn, response=RateOut, status=201, permission=Operation.CHANGE_SETTINGS, errors=(409,),
    summary="Add an exchange rate",
)
async def add_exchange_rate(call: Call) -> RateOut:
    """Add (or replace) this account's own rate of a pair on a date; it wins over the server's feed for this account only."""
    body = call.body(RateIn)
    base, quote = _currency(body.base_currency, "base_currency"), _currency(body.quote_currency, "quote_currency")
    on = body.rate_date or call.today
    await set_account_rate(call.db, account_id=call.account.id, base_currency=base, quote_currency=quote, rate=body.rate,
                           rate_date=on, actor=call.actor, source="api", now=call.now)
    stored = (
        await call.db.execute(
            select(ExchangeRate).where(
                ExchangeRate.user_id == call.account.id, ExchangeRate.base_currency == base, ExchangeRate.quote_currency == quote, ExchangeRate.rate_date == on
            ).execution_options(populate_existing=True)
        )
    ).scalar_one()
    return rate_out(stored)


def _currency(code: str, field: str) -> str:
    """The currency code, or a 422 that names the body field it came from."""
    try:
        return normalize_currency(code)
    except ValidationError as exc:
        message = next(iter(exc.field_errors.values()), exc.message)
        raise ValidationError(exc.message, field_errors={field: message}, hint=exc.hint) from exc


def allowed_feed(url: str, configured: str | None) -> bool:
    return url == configured or url.startswith(ECB_SITE)


async def _fetch_ecb(body: Any, settings: Settings) -> list[EcbRate]:
    """Read or download the ECB document before any transaction opens (the prefetch step)."""
    assert isinstance(body, EcbImportIn)
    if body.url is not None and not allowed_feed(body.url, settings.ecb_feed_url):
        message = f"only the configured feed (TAMIO_ECB_FEED_URL) or {ECB_SITE}..."
        raise ValidationError(
            f"I only download rates from the configured feed (TAMIO_ECB_FEED_URL) or {ECB_SITE}...; send the file's content instead.",
            field_errors={"url": message},
        )
    try:
        if body.content is not None:
            return await asyncio.to_thread(parse_ecb_document, body.content.encode("utf-8"))
        if body.content_base64 is not None:
            try:
                data = base64.b64decode("".join(body.content_base64.split()), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValidationError("content_base64 is not valid base64.", field_errors={"content_base64": str(exc)}) from exc
            return await asyncio.to_thread(parse_ecb_document, data)
        assert body.url is not None
        return await load_ecb_rates(body.url)
    except EcbFormatError as exc:
        field = "url" if body.url else ("content" if body.content is not None else "content_base64")
        raise ValidationError(f"That is not an ECB reference-rate file: {exc}.", field_errors={field: str(exc)}) from exc
    except EcbFetchError as exc:
        raise FeedUnavailable(f"The rates could not be downloaded: {exc}.", hint="Try again later, or send the file's content.") from exc


def _file_as_body(data: bytes) -> dict[str, Any]:
    return {"content_base64": base64.b64encode(data).decode("ascii")}


# The file itself may be the body (curl --data-binary @eurofxref-daily.xml, or -F file=@...).
ECB_UPLOAD = Upload(
    to_body=_file_as_body,
    media_types=("application/xml", "text/xml", "text/csv", "application/zip", "application/octet-stream"),
    max_bytes=6_000_000,  # as base64, within EcbImportIn.content_base64's 8,000,000 characters
)


@router.route(
    "POST", "/data/exchange-rates/import-ecb", body=EcbImportIn, response=EcbImportOut, permission=Operation.CHANGE_SETTINGS, errors=(413, 502),
    prefetch=_fetch_ecb, summary="Import ECB reference rates", upload=ECB_UPLOAD,
)
async def import_ecb_rates(call: Call) -> EcbImportOut:
    """Store the euro reference rates of an ECB file (daily or 90-day XML, history CSV, or its zip) as this account's own rates.

    Send a JSON body, or the file itself: raw (``curl --data-binary @eurofxref-daily.xml -H
    'Content-Type: application/xml'``) or as the form field ``file`` (``curl -F file=@eurofxref-hist.zip``)."""
    rates: list[EcbRate] = call.prefetched
    count = await upsert_rates(call.db, [("EUR", r.currency, r.rate, r.rate_date) for r in rates], source="ecb",
                               account_id=call.account.id)
    return EcbImportOut(imported=count, latest_rate_date=max((r.rate_date for r in rates), default=None))


# -- forecast ------------------------------------------------------------------------------------


@router.route("GET", "/forecast", query=ForecastQuery, response=ForecastOut, summary="Get the cash forecast")
async def get_forecast(call: Call) -> ForecastOut:
    """Weekly opening and closing balances, inflows, outflows, confidence and runway (``tamio forecast --json``)."""
    query = call.query(ForecastQuery)
    as_of = query.as_of or call.today
    # A read: schedules short of the last day are read from the billing lines, never extended here.
    forecast = await calculate_forecast(call.db, call.account.id, as_of=as_of, weeks=query.weeks, settings=call.settings)
    return ForecastOut.model_validate(forecast.to_json())
