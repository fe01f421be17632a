"""Small helpers that set up a business's books in service tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.currency.service import add_rate
from tamio.data.models import Client, ExpenseBucket
from tamio.data.service import set_balance
from tamio.obligations.counterparties import BillingLine, CounterpartyService
from tamio.obligations.models import ObligationType
from tamio.obligations.recurrence import BusinessDayConvention, Frequency
from tamio.obligations.schemas import RecurrenceSpec
from tamio.opening import open_account

SCHEDULE_PATH = Settings(use_obligation_for_forecast=True, database_url="sqlite+aiosqlite:///:memory:")
LEGACY_PATH = Settings(use_obligation_for_forecast=False, database_url="sqlite+aiosqlite:///:memory:")


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


class Books:
    """A business: ``books.client("Acme", 5000, monthly on 15)`` reads like the ledger it builds."""

    def __init__(self, session: AsyncSession, account: Account, today: date, settings: Settings = SCHEDULE_PATH) -> None:
        self.session = session
        self.account = account
        self.today = today
        self.settings = settings

    @classmethod
    async def open(cls, session: AsyncSession, *, today: date, base_currency: str = "USD", settings: Settings = SCHEDULE_PATH, name: str = "Acme Ltd") -> Books:
        account = await open_account(session, name=name, base_currency=base_currency)
        return cls(session, account, today, settings)

    @property
    def service(self) -> CounterpartyService:
        return CounterpartyService(self.session, account=self.account, settings=self.settings, today=self.today, now=at(self.today))

    async def cash(self, name: str, amount: str, currency: str | None = None, **kwargs: object) -> None:
        await set_balance(
            self.session, account=self.account, name=name, amount=Decimal(amount), currency=currency or self.account.base_currency,
            on_date=self.today, now=at(self.today), **kwargs,  # type: ignore[arg-type]
        )

    async def rate(self, base: str, quote: str, rate: str, on: date | None = None) -> None:
        await add_rate(self.session, base_currency=base, quote_currency=quote, rate=Decimal(rate), rate_date=on or self.today, account_id=None)

    @staticmethod
    def every(frequency: str, start: date, *, day: int | None = None, end: date | None = None, count: int | None = None,
              convention: str = "none", calendar: str | None = None, interval: int = 1) -> RecurrenceSpec:
        return RecurrenceSpec(
            frequency=Frequency(frequency), start_date=start, end_date=end, count=count, day=day, interval=interval,
            convention=BusinessDayConvention(convention), calendar=calendar,
        )

    async def client(self, name: str, amount: str, spec: RecurrenceSpec, currency: str | None = None, **fields: object) -> Client:
        line = BillingLine(Decimal(amount), currency or self.account.base_currency, spec, ObligationType.REVENUE)
        return await self.service.create_client(name=name, billing=line, **fields)

    async def expense(self, name: str, amount: str, spec: RecurrenceSpec, currency: str | None = None, category: str = "operating", **fields: object) -> ExpenseBucket:
        kind = {"payroll": ObligationType.PAYROLL, "tax": ObligationType.TAX, "statutory": ObligationType.TAX}.get(category, ObligationType.EXPENSE)
        line = BillingLine(Decimal(amount), currency or self.account.base_currency, spec, kind)
        return await self.service.create_expense(name=name, billing=line, category=category, **fields)
