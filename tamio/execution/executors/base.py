"""What every executor shares: its context, its two phases, and the helpers that read its params.

An executor has two phases, so that an effect outside the database happens at most once per
idempotency key and an effect inside it happens exactly once:

- ``emails(ctx, params, path)`` lists the messages to send (each with a stable key). The service
  sends them between transactions, each recorded in a ledger row *before* it is sent.
- ``apply(ctx, params)`` makes the database changes (schedules moved or queued, balances, new
  obligations). It runs in the same transaction as the ``executing -> executed`` compare-and-set,
  so it commits together with the record that it happened, or not at all.

``ExecutionProblem`` is an error retrying cannot fix (a schedule already paid, no email address):
the action fails at once with the message. Anything else is retried with backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.service import AuditService
from tamio.config import Settings
from tamio.currency.service import RateBook
from tamio.data.models import CashAccount, CashAccountType, Client, ExpenseBucket
from tamio.errors import TamioError
from tamio.money import format_money, normalize_currency, quantize
from tamio.obligations.models import ObligationSchedule
from tamio.obligations.service import ObligationService
from tamio.preparation.models import ActionOption, PreparedAction

T = TypeVar("T")


class ExecutionProblem(TamioError):
    """Carrying out the option is impossible as it stands; retrying will not help."""

    status = 422
    title = "Cannot carry out"


@dataclass(frozen=True)
class OutgoingEmail:
    """One message to send; ``key`` is its idempotency key (stable across retries)."""

    key: str
    to: str
    subject: str
    body: str
    counterparty: str = ""


@dataclass(frozen=True)
class ExecutionContext:
    db: AsyncSession
    account: Account
    action: PreparedAction
    option: ActionOption
    settings: Settings
    now: datetime
    today: date
    actor: str = "system"
    # The approver's edit of the chosen option's message (``None`` when the edit was another option's).
    edited_subject: str | None = None
    edited_body: str | None = None

    @property
    def audit(self) -> AuditService:
        return AuditService(self.db, self.account.id, actor=self.actor, clock=lambda: self.now)

    def obligations(self) -> ObligationService:
        return ObligationService(self.db, account=self.account, settings=self.settings, today=self.today, actor=self.actor, now=self.now)

    def email_key(self, path: str) -> str:
        return f"email:{self.action.id}:{self.option.id}:{path}"


class Executor(Protocol):
    kind: str

    async def emails(self, ctx: ExecutionContext, params: dict[str, Any], *, path: str) -> list[OutgoingEmail]: ...

    async def apply(self, ctx: ExecutionContext, params: dict[str, Any]) -> dict[str, Any]: ...


class NoEmails:
    """Mixin for executors whose only effects are in the database."""

    async def emails(self, ctx: ExecutionContext, params: dict[str, Any], *, path: str) -> list[OutgoingEmail]:
        return []


# -- reading params -------------------------------------------------------------------------------


def param_ids(params: dict[str, Any], name: str, *, required: bool = True) -> list[str]:
    value = params.get(name)
    if value is None or value == []:
        if required:
            raise ExecutionProblem(f"The option names no `{name}`, so there is nothing to do.")
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ExecutionProblem(f"`{name}` must be a list of ids.")
    return list(dict.fromkeys(value))


def param_date(params: dict[str, Any], name: str) -> date:
    value = params.get(name)
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError as exc:
        raise ExecutionProblem(f"`{name}` must be a date like 2026-12-07, not `{value}`.") from exc


def param_amount(params: dict[str, Any], name: str, currency: str) -> Decimal:
    value = params.get(name)
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ExecutionProblem(f"`{name}` must be an amount, not `{value}`.") from exc
    if not amount.is_finite() or amount <= 0:
        raise ExecutionProblem(f"`{name}` must be more than zero, not `{value}`.")
    return quantize(amount, currency)


def option_currency(ctx: ExecutionContext, params: dict[str, Any]) -> str:
    return normalize_currency(str(params.get("currency") or ctx.option.currency or ctx.account.base_currency))


# -- loading what the params name, always within the account ------------------------------------


# Rows an executor changes are read with FOR UPDATE (in id order, so two executors never wait on
# each other in a cycle): on PostgreSQL a plain read-modify-write loses concurrent updates. SQLite
# needs no row locks; its ``BEGIN IMMEDIATE`` serialises writers.


async def load_schedules(ctx: ExecutionContext, ids: list[str]) -> list[ObligationSchedule]:
    rows = (
        await ctx.db.execute(
            select(ObligationSchedule)
            .where(ObligationSchedule.id.in_(ids), ObligationSchedule.user_id == ctx.account.id)
            .order_by(ObligationSchedule.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalars().all()
    found = {s.id: s for s in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ExecutionProblem(f"The payment `{missing[0]}` is not in this account any more, so nothing was changed.")
    return [found[i] for i in ids]


async def lock_cash_accounts(ctx: ExecutionContext, ids: list[str]) -> dict[str, CashAccount]:
    """The account's cash accounts with these ids, locked for update in id order."""
    rows = (
        await ctx.db.execute(
            select(CashAccount)
            .where(CashAccount.id.in_(ids), CashAccount.user_id == ctx.account.id)
            .order_by(CashAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalars().all()
    return {c.id: c for c in rows}


async def load_cash_account(ctx: ExecutionContext, cash_account_id: str | None, *, what: str) -> CashAccount:
    found = await lock_cash_accounts(ctx, [cash_account_id]) if cash_account_id else {}
    cash = found.get(cash_account_id or "")
    if cash is None:
        raise ExecutionProblem(f"The {what} `{cash_account_id}` is not in this account, so no money was moved.")
    return cash


async def lock_row(ctx: ExecutionContext, model: type[T], row_id: str | None) -> T | None:
    """One row of this account, locked for update (``None`` if missing or another account's)."""
    if not row_id:
        return None
    column: Any = model.id  # type: ignore[attr-defined]
    owner: Any = model.user_id  # type: ignore[attr-defined]
    stmt = select(model).where(column == row_id, owner == ctx.account.id).with_for_update().execution_options(populate_existing=True)
    return (await ctx.db.execute(stmt)).scalars().first()


async def primary_operating_account_id(ctx: ExecutionContext) -> str:
    rows = (
        await ctx.db.execute(
            select(CashAccount.id)
            .where(CashAccount.user_id == ctx.account.id, CashAccount.account_type == CashAccountType.BANK)
            .order_by(CashAccount.is_primary.desc(), CashAccount.created_at, CashAccount.id)
        )
    ).scalars().all()
    if not rows:
        raise ExecutionProblem("There is no bank account to receive the money.", hint="Add one with `tamio balance set Operating AMOUNT CURRENCY`.")
    return rows[0]


async def contact_email(ctx: ExecutionContext, *, client_id: str | None = None, vendor_id: str | None = None) -> tuple[str | None, str]:
    """The contact address and name of a client or vendor of this account."""
    if client_id:
        client = await ctx.db.get(Client, client_id)
        if client is not None and client.user_id == ctx.account.id:
            return client.contact_email, client.name
    if vendor_id:
        vendor = await ctx.db.get(ExpenseBucket, vendor_id)
        if vendor is not None and vendor.user_id == ctx.account.id:
            return vendor.contact_email, vendor.name
    return None, ""


# -- moving money ---------------------------------------------------------------------------------


async def rate_book(ctx: ExecutionContext, *currencies: str) -> RateBook:
    return await RateBook.load(ctx.db, {*currencies, ctx.account.base_currency}, ctx.today, account_id=ctx.account.id)


async def change_balance(ctx: ExecutionContext, cash: CashAccount, delta: Decimal, book: RateBook, *, why: str) -> None:
    """Add ``delta`` (in the account's own currency) to a cash account, re-converted at write time.

    A credit line's balance is what is drawn, as a negative: drawing lowers it, repaying raises it.
    """
    old = cash.balance
    cash.balance = quantize(old + delta, cash.currency)
    if cash.account_type == CashAccountType.CREDIT_LINE:
        cash.drawn_amount = max(Decimal(0), -cash.balance)
    converted = book.convert(cash.balance, cash.currency, ctx.account.base_currency, ctx.today)
    cash.base_currency_amount = converted.amount
    cash.exchange_rate_used = converted.rate
    cash.exchange_rate_date = converted.rate_date
    cash.balance_as_of = ctx.now
    cash.updated_at = ctx.now
    await ctx.db.flush()
    await ctx.audit.log_update("cash_account", cash.id, {"balance": (old, cash.balance), "why": (None, why)})


def money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency)
