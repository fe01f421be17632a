"""The same obligation entered twice: flagged at entry, added again only when the person says so.

Adding "Rent 500 monthly" to a vendor that already has an active 500 monthly agreement in the same
currency made two identical schedules (and two identical alerts). ``check_duplicate`` is the one
rule; the core's add-obligation function calls it, and each edge offers the way on: Slack a confirm
with "Add anyway", the CLI ``--allow-duplicate``, the API ``allow_duplicate: true`` (else a 409).
An invoice (``once``) is never a duplicate of another with its own number.

    await check_duplicate(db, account_id=account.id, kind="expense", name="Rent", amount=Decimal("500"),
                          currency="USD", frequency=Frequency.MONTHLY)
    # DuplicateObligation: "Rent already has $500.00 monthly: add another?"
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.errors import Conflict
from tamio.money import format_money
from tamio.obligations.counterparties import find_client, find_expense
from tamio.obligations.models import AgreementStatus, ObligationAgreement
from tamio.obligations.recurrence import Frequency

FREQUENCY_WORDS = {Frequency.ONCE: "once", Frequency.WEEKLY: "weekly", Frequency.BIWEEKLY: "every two weeks",
                   Frequency.SEMIMONTHLY: "twice a month", Frequency.MONTHLY: "monthly", Frequency.QUARTERLY: "quarterly",
                   Frequency.ANNUALLY: "yearly", Frequency.CUSTOM: "on a custom schedule"}


@dataclass(frozen=True)
class Existing:
    counterparty: str
    agreement_id: str
    amount: Decimal
    currency: str
    frequency: Frequency

    @property
    def question(self) -> str:
        return f"{self.counterparty} already has {format_money(self.amount, self.currency)} {FREQUENCY_WORDS[self.frequency]}: add another?"


class DuplicateObligation(Conflict):
    """The obligation is already there; the edges offer to add it anyway."""

    def __init__(self, existing: Existing, *, hint: str = "Add it anyway only if it is a second, separate amount.") -> None:
        super().__init__(existing.question, hint=hint)
        self.existing = existing


async def find_duplicate(
    db: AsyncSession, *, account_id: str, kind: str, name: str, amount: Decimal, currency: str, frequency: Frequency,
    invoice: str | None = None,
) -> Existing | None:
    """An active agreement of the same counterparty with the same amount, currency and frequency, if any."""
    if invoice:
        return None  # an invoice with its own number is its own thing (a known number is refused elsewhere)
    counterparty = (await find_client(db, account_id=account_id, name=name) if kind == "client"
                    else await find_expense(db, account_id=account_id, name=name))
    if counterparty is None:
        return None
    owner = ObligationAgreement.client_id if kind == "client" else ObligationAgreement.expense_bucket_id
    found = (await db.execute(select(ObligationAgreement).where(
        ObligationAgreement.user_id == account_id, owner == counterparty.id, ObligationAgreement.status == AgreementStatus.ACTIVE,
        ObligationAgreement.base_amount == amount, ObligationAgreement.currency == currency,
        ObligationAgreement.frequency == frequency,
    ).order_by(ObligationAgreement.created_at).limit(1))).scalar_one_or_none()
    if found is None:
        return None
    return Existing(counterparty=counterparty.name, agreement_id=found.id, amount=found.base_amount, currency=found.currency,
                    frequency=found.frequency)


async def check_duplicate(
    db: AsyncSession, *, account_id: str, kind: str, name: str, amount: Decimal, currency: str, frequency: Frequency,
    invoice: str | None = None, allow: bool = False,
) -> None:
    """``DuplicateObligation`` when the same obligation is already there, unless ``allow``."""
    if allow:
        return
    existing = await find_duplicate(db, account_id=account_id, kind=kind, name=name, amount=amount, currency=currency,
                                    frequency=frequency, invoice=invoice)
    if existing is not None:
        raise DuplicateObligation(existing)
