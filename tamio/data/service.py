"""Cash accounts: balances in their own currency, converted to the base currency at write time."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.service import AuditService
from tamio.currency.service import apply_conversion, stale_rate_note
from tamio.data.models import CashAccount, CashAccountType
from tamio.errors import NotFound
from tamio.limits import check_amount, check_name
from tamio.money import normalize_currency, quantize


async def list_cash_accounts(db: AsyncSession, *, account_id: str) -> list[CashAccount]:
    stmt = select(CashAccount).where(CashAccount.user_id == account_id).order_by(CashAccount.name)
    return list((await db.execute(stmt)).scalars().all())


def name_key(name: str) -> str:
    """What two names that match have in common: spaces collapsed, case folded in every script."""
    return " ".join(name.split()).casefold()


def same_name(a: str, b: str) -> bool:
    """Names match ignoring case in every script (SQLite's lower() only folds ASCII)."""
    return name_key(a) == name_key(b)


async def find_cash_account(db: AsyncSession, *, account_id: str, name: str) -> CashAccount | None:
    accounts = (await db.execute(select(CashAccount).where(CashAccount.user_id == account_id))).scalars().all()
    return next((c for c in accounts if same_name(c.name, name)), None)


async def get_cash_account(db: AsyncSession, *, account_id: str, cash_account_id: str) -> CashAccount:
    cash = await db.get(CashAccount, cash_account_id)
    if cash is None or cash.user_id != account_id:
        raise NotFound(f"There is no cash account `{cash_account_id}` in this account.")
    return cash


async def set_balance(
    db: AsyncSession,
    *,
    account: Account,
    name: str,
    amount: Decimal,
    currency: str,
    on_date: date,
    now: datetime,
    account_type: str | CashAccountType | None = None,
    credit_limit: Decimal | None = None,
    actor: str = "system",
) -> CashAccount:
    """Set (or create) a cash account's balance; a credit line's balance is what is drawn, as a negative."""
    name = check_name(name, what="The cash account's name")
    currency = normalize_currency(currency)
    if credit_limit is not None:
        check_amount(credit_limit, field="credit_limit", what="The credit limit", currency=currency)
    amount = quantize(amount, currency)
    audit = AuditService(db, account.id, actor=actor, clock=lambda: now)
    cash = await find_cash_account(db, account_id=account.id, name=name)
    kind = CashAccountType(account_type) if account_type else None
    if cash is None:
        cash = CashAccount(
            user_id=account.id,
            name=name,
            account_type=kind or CashAccountType.BANK,
            currency=currency,
            balance=amount,
            credit_limit=credit_limit,
        )
        await apply_conversion(db, cash, amount=amount, currency=currency, base_currency=account.base_currency, on_date=on_date,
                           account_id=account.id)
        cash.balance_as_of = now
        if cash.account_type == CashAccountType.CREDIT_LINE:
            cash.drawn_amount = -amount if amount < 0 else Decimal(0)
        db.add(cash)
        await db.flush()
        await audit.log_create("cash_account", cash.id, {"name": cash.name, "balance": amount, "currency": currency})
        return cash
    old_balance, old_currency = cash.balance, cash.currency
    cash.balance = amount
    if kind is not None:
        cash.account_type = kind
    if credit_limit is not None:
        cash.credit_limit = credit_limit
    if cash.account_type == CashAccountType.CREDIT_LINE:
        cash.drawn_amount = -amount if amount < 0 else Decimal(0)
    await apply_conversion(db, cash, amount=amount, currency=currency, base_currency=account.base_currency, on_date=on_date,
                           account_id=account.id)
    cash.balance_as_of = now
    await db.flush()
    await audit.log_update("cash_account", cash.id, {"balance": (old_balance, amount), "currency": (old_currency, currency)})
    return cash


async def stale_cash_rates(db: AsyncSession, *, account_id: str, base_currency: str, today: date) -> str:
    """What the cash figure owes to rates more than a week old, to name beside it: ``"Savings (EUR) at the 12 Nov rate"``;
    ``""`` when every balance is in the base currency or converted at a recent rate."""
    found = await db.execute(
        select(CashAccount.name, CashAccount.currency, CashAccount.exchange_rate_date)
        .where(CashAccount.user_id == account_id, CashAccount.currency != base_currency,
               CashAccount.account_type != CashAccountType.CREDIT_LINE)
        .order_by(CashAccount.name))
    return "; ".join(f"{name} ({currency}) {stale_rate_note(rate_date, today=today)}" for name, currency, rate_date in found
                     if stale_rate_note(rate_date, today=today))
