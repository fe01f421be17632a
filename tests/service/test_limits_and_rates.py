"""Issue 22: each account converts with its own book, and no amount, rate, sum or product overflows.

Runs on SQLite and PostgreSQL. The findings: B's admin writing EUR/USD 0.000001 made A's EUR cash
worth almost nothing; two balances of 5e15 made the account's SUM overflow (its forecast a 500);
an amount and a rate that each passed the API multiplied past what a column holds.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.currency.service import RateBook, add_rate, list_rates, stale_rate_note
from tamio.data.models import CashAccount
from tamio.errors import MissingExchangeRate, ValidationError
from tamio.forecast.service import calculate_forecast, opening_balance
from tamio.limits import MAX_AMOUNT
from tamio.money import normalize_currency, parse_amount
from tamio.opening import open_account
from tests.service.books import SCHEDULE_PATH, Books, at

TODAY = date(2026, 12, 7)
ROOT = Path(__file__).resolve().parents[2]


async def test_another_accounts_rate_never_reaches_this_account(session: AsyncSession) -> None:
    a = await Books.open(session, today=TODAY, name="A")
    b = await Books.open(session, today=TODAY, name="B")
    await a.rate("EUR", "USD", "1.08")  # the server's feed
    await add_rate(session, base_currency="EUR", quote_currency="USD", rate=Decimal("0.000001"), rate_date=TODAY, account_id=b.account.id)
    await a.cash("Zurich", "100000", "EUR")
    await b.cash("Zurich", "100000", "EUR")
    await session.commit()
    assert await opening_balance(session, account_id=a.account.id) == Decimal("108000.000")
    assert await opening_balance(session, account_id=b.account.id) == Decimal("0.100")  # B's own rate is B's alone
    a_rates = [(r.user_id, r.rate) for r in await list_rates(session, account_id=a.account.id)]
    assert a_rates == [(None, Decimal("1.08"))]


async def test_an_accounts_own_rate_wins_over_the_feed_for_its_pair_only(session: AsyncSession) -> None:
    a = await Books.open(session, today=TODAY)
    await a.rate("EUR", "USD", "1.08")
    await a.rate("EUR", "CHF", "0.95")
    await add_rate(session, base_currency="CHF", quote_currency="USD", rate=Decimal("1.12"), rate_date=TODAY - timedelta(days=20),
                   account_id=a.account.id)
    book = await RateBook.load(session, {"CHF", "EUR", "USD"}, TODAY, account_id=a.account.id)
    assert book.rate("CHF", "USD", TODAY) == (Decimal("1.12"), TODAY - timedelta(days=20))  # older, but its own
    assert book.rate("EUR", "USD", TODAY) == (Decimal("1.08"), TODAY)
    assert book.rate("USD", "CHF", TODAY)[0] == Decimal("0.892857142857")
    other = await RateBook.load(session, {"CHF", "EUR", "USD"}, TODAY, account_id="acc_someone_else")
    assert other.rate("CHF", "USD", TODAY)[0] == Decimal("1.136842105263")  # through EUR, from the feed


def test_a_rate_older_than_a_week_is_named() -> None:
    assert stale_rate_note(TODAY - timedelta(days=7), today=TODAY) == ""
    assert stale_rate_note(date(2026, 11, 12), today=TODAY) == "at the 12 Nov rate"
    assert stale_rate_note(date(2024, 11, 12), today=TODAY) == "at the 12 Nov 2024 rate"


async def test_a_missing_rate_names_the_slack_command_not_a_command_line_tool(session: AsyncSession) -> None:
    book = await RateBook.load(session, {"CHF", "USD"}, TODAY, account_id="acc_x")
    with pytest.raises(MissingExchangeRate) as caught:
        book.convert(Decimal("10"), "CHF", "USD", TODAY)
    assert "`/tamio rate CHF" in str(caught.value) and caught.value.currencies == ("CHF", "USD")


# -- limits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("99999999999999999", "99,999,999,999,999,999 is more than Tamio takes: at most 1,000,000,000,000 in any currency"),
        ("1000000000000.01", "is more than Tamio takes"),
        ("١٢٠٠", "I couldn't read the amount"),  # Arabic-Indic digits
        ("１２００", "I couldn't read the amount"),  # full-width digits
    ],
)
def test_amounts_are_ascii_digits_up_to_the_shared_limit(typed: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        parse_amount(typed, allow_negative=True)
    assert parse_amount("1,000,000,000,000") == MAX_AMOUNT
    assert parse_amount("-1000000000000", allow_negative=True) == -MAX_AMOUNT


@pytest.mark.parametrize(("code", "says"), [("XXX", "`XXX` is not a currency I know"), ("XTS", "`XTS` is not a currency I know"),
                                            ("XYZ", "`XYZ` is not a currency I know"), ("DEM", "`DEM` is not a currency I know"),
                                            ("US", "`US` is not a currency code"), ("ＵＳＤ", "is not a currency code")])
def test_currencies_are_iso_codes_in_circulation(code: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        normalize_currency(code)
    assert normalize_currency(" chf ") == "CHF"


async def test_a_product_of_an_amount_and_a_rate_past_the_limit_is_refused_and_nothing_is_written(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY, base_currency="IDR")
    await books.rate("EUR", "IDR", "17500")
    with pytest.raises(ValidationError, match="more than the 1,000,000,000,000 Tamio takes"):
        await books.cash("Operating", "999999999999", "EUR")
    with pytest.raises(ValidationError, match="out of range"):
        await add_rate(session, base_currency="EUR", quote_currency="USD", rate=Decimal("1000000001"), rate_date=TODAY, account_id=None)
    await books.cash("Operating", "1000000", "EUR")
    assert await opening_balance(session, account_id=books.account.id) == Decimal("17500000000")


async def test_names_and_notes_have_limits_in_the_services(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    spec = books.every("monthly", TODAY, day=15)
    with pytest.raises(ValidationError, match="10,000 characters; use at most 200"):
        await books.client("x" * 10_000, "100", spec)
    with pytest.raises(ValidationError, match="line break"):
        await books.client("Acme\nCorp", "100", spec)
    with pytest.raises(ValidationError, match="at most 2,000"):
        await books.client("Acme", "100", spec, notes="n" * 2001)
    with pytest.raises(ValidationError, match="cash account's name"):
        await books.cash("\x00", "100")
    client = await books.client("Acme", "100", spec, notes="Line one\nLine two")
    assert client.notes == "Line one\nLine two"


async def test_sums_cannot_overflow_even_with_rows_past_the_limit(session: AsyncSession) -> None:
    """Two balances of 5e15 (written straight into the table, past every check) still sum."""
    books = await Books.open(session, today=TODAY)
    await books.cash("One", "1")
    await books.cash("Two", "1")
    await session.execute(
        update(CashAccount).where(CashAccount.user_id == books.account.id)
        .values(balance=Decimal("5000000000000000"), base_currency_amount=Decimal("5000000000000000"))
    )
    await session.commit()
    total = await opening_balance(session, account_id=books.account.id)
    assert abs(total - Decimal("10000000000000000")) < Decimal("1e4")  # exact on PostgreSQL, within a float's reach on SQLite
    forecast = await calculate_forecast(session, books.account.id, as_of=TODAY, weeks=13, settings=SCHEDULE_PATH)
    assert forecast.opening_balance == total


async def test_sums_are_exact_at_the_limit(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    for n in range(12):
        await books.cash(f"Account {n}", "999999999999.99")
    total = await opening_balance(session, account_id=books.account.id)
    assert total == Decimal("11999999999999.880")


async def test_database_errors_carry_no_row_values(session: AsyncSession) -> None:
    """Finding: database errors were logged with their SQL parameters (row values)."""
    account = await open_account(session, name="Acme Ltd", base_currency="USD", now=at(TODAY))
    await session.commit()
    private = "IBAN DE89 3704 0044 0532 0130 00"
    session.add(Account(id=account.id, name=private, base_currency="USD", timezone="UTC"))
    with pytest.raises(IntegrityError) as caught:
        await session.flush()
    await session.rollback()
    assert private not in str(caught.value) and "hidden" in str(caught.value)


def test_the_cli_refuses_an_amount_past_the_limit_in_one_line(tmp_path: Path) -> None:
    env = {"TAMIO_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PATH": "/usr/bin:/bin"}

    def tamio(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tamio.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True)

    assert tamio("db", "upgrade").returncode == 0
    assert tamio("account", "create", "--name", "Acme Ltd", "--base-currency", "USD").returncode == 0
    refused = tamio("balance", "set", "Operating", "9999999999999999", "USD")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "is more than Tamio takes: at most 1,000,000,000,000 in any currency" in refused.stderr
    fine = tamio("balance", "set", "Operating", "1000", "USD")
    assert fine.returncode == 0 and fine.stdout.strip() == "Operating: $1,000.00"
