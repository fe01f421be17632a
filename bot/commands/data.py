"""``/tamio add``, ``balance`` and ``paid``: what the business is owed, owes and holds.

Each writes through the domain services (``CounterpartyService``, ``set_balance``,
``record_payment``) in the request's transaction; the boundary commits before the reply leaves.
Recording needs an approver or admin; anyone in the workspace may look.

    /tamio add client "Acme Corp" 5000 EUR monthly on -1
    /tamio balance set "Operating" 45000 USD
    /tamio paid "Acme Corp" 5000 on 2026-12-03 for INV-1042
    /tamio rename client "Acme" "Acme Corp"
    /tamio contact "Acme Corp" ap@acme.example "Jane Doe"
    /tamio rate CHF 1.12                 (admins: this workspace's own rate, over the ECB's)

A counterparty synced from an integration keeps the fields that integration owns
(``locked_fields``, e.g. a Xero contact's name): renaming one is refused with a message saying
where to change it; so is setting a contact email an integration owns.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.add_form import add_form
from bot.blocks.common import code_sections, day_label, escape, money, section
from bot.blocks.duplicate import duplicate_blocks, pending_value
from bot.boundary import Reply
from bot.commands import parse
from bot.runtime import Scope
from tamio.accounts.permissions import Operation
from tamio.currency.service import in_base_currency, set_account_rate
from tamio.data.models import Client, ExpenseBucket
from tamio.data.service import list_cash_accounts, set_balance
from tamio.errors import NotFound
from tamio.forecast.service import opening_balance
from tamio.obligations.add import AddedObligation
from tamio.obligations.add import add_obligation as add
from tamio.obligations.adding import AddObligation
from tamio.obligations.client_summary import client_summary, summary_lines
from tamio.obligations.counterparties import (
    CounterpartyService,
    find_client,
    find_counterparty,
    find_expense,
)
from tamio.obligations.duplicates import DuplicateObligation
from tamio.obligations.matching import find_payer, remaining_of
from tamio.obligations.models import ObligationSchedule
from tamio.obligations.payments import PaymentOutcome, record_payment
from tamio.obligations.recurrence import Frequency, describe

KIND_WORDS = {"client": "client", "expense": "expense", "payroll": "payroll", "tax": "tax payment"}


async def add_obligation(scope: Scope, obligation: AddObligation) -> str:
    """Add through the core's one function (``tamio.obligations.add``); returns the confirmation text."""
    await scope.require(Operation.MANAGE_DATA, "add what the business is owed or owes")
    added = await add(scope.db, account=scope.account, settings=scope.settings, today=scope.today, now=scope.now,
                      actor=scope.member.id if scope.member else "slack", obligation=obligation)
    return confirmation(added, base_currency=scope.account.base_currency, today=scope.today)


def confirmation(added: AddedObligation, *, base_currency: str, today: date) -> str:
    obligation = added.obligation
    once = obligation.recurrence.frequency == Frequency.ONCE
    verb = "Added" if added.created else "Added another amount to"
    what = f"invoice {escape(obligation.invoice)} for " if obligation.invoice else ""
    how = "" if once else " " + describe(obligation.recurrence.recurrence())
    when = f", {'due' if once else 'first due'} {day_label(added.first_due)}" if added.first_due else ""
    if added.overdue:
        when += f" ({added.overdue})"
    if added.arrears > 1:
        when += f"; {added.arrears} payments since then are already overdue"
    email = f" Follow-up emails go to {escape(obligation.contact_email)}." if obligation.contact_email else ""
    in_base = in_base_currency(added.converted_from, base_currency, today=today)
    return (
        f":white_check_mark: {verb} *{escape(added.counterparty.name)}* ({KIND_WORDS[obligation.kind]}): "
        f"{what}{money(obligation.amount, obligation.currency)}{in_base}{how}{when}.{email}"
    )


async def add_from_command(scope: Scope, command: AddObligation, client: AsyncWebClient) -> Reply:
    try:
        text = await add_obligation(scope, command)
    except DuplicateObligation as exc:  # the core wrote nothing: ask first
        return Reply(*duplicate_blocks(exc.message, pending_value(command)))
    return Reply(text, [section(text)])


async def open_add_form(scope: Scope, command: parse.OpenAddForm, client: AsyncWebClient) -> None:
    """Open the form at once: the trigger id lives three seconds."""
    await scope.require(Operation.MANAGE_DATA, "add what the business is owed or owes")
    view = add_form(kind=command.kind, base_currency=scope.account.base_currency, today=scope.today,
                    channel_id=scope.caller.channel_id)
    await scope.commit()  # no transaction across the call to Slack
    await client.views_open(trigger_id=scope.caller.trigger_id, view=view)


async def list_balances(scope: Scope, command: parse.ListBalances, client: AsyncWebClient) -> Reply:
    accounts = await list_cash_accounts(scope.db, account_id=scope.account.id)
    if not accounts:
        text = "No cash accounts yet. Add one with `/tamio balance set \"Operating\" 45000`."
        return Reply(text, [section(text)])
    total = await opening_balance(scope.db, account_id=scope.account.id)
    lines = []
    for cash in accounts:
        as_of = f" · as of {day_label(cash.balance_as_of.date())}" if cash.balance_as_of else ""
        kind = "" if cash.account_type.value == "bank" else f" ({cash.account_type.value.replace('_', ' ')})"
        converted = in_base_currency(cash, scope.account.base_currency, today=scope.today)
        lines.append(f"• *{escape(cash.name)}*{kind}: {money(cash.balance, cash.currency)}{converted}{as_of}")
    text = f"Cash today: *{money(total, scope.account.base_currency)}*\n" + "\n".join(lines)
    return Reply(f"Cash today: {money(total, scope.account.base_currency)}", [section(text)])


async def set_cash_balance(scope: Scope, command: parse.SetBalance, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.MANAGE_DATA, "set balances")
    cash = await set_balance(
        scope.db, account=scope.account, name=command.name, amount=command.amount, currency=command.currency,
        on_date=scope.today, now=scope.now, actor=scope.member.id if scope.member else "slack",
    )
    converted = in_base_currency(cash, scope.account.base_currency, today=scope.today)
    text = f":white_check_mark: *{escape(cash.name)}* now holds {money(cash.balance, cash.currency)}{converted}."
    return Reply(text, [section(text)])


async def rename_counterparty(scope: Scope, command: parse.RenameCounterparty, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.MANAGE_DATA, "rename clients and expenses")
    actor = scope.member.id if scope.member else "slack"
    service = CounterpartyService(scope.db, account=scope.account, settings=scope.settings, today=scope.today, actor=actor, now=scope.now)
    word = "client" if command.kind == "client" else "expense"
    if command.kind == "client":
        found: Client | ExpenseBucket | None = await find_client(scope.db, account_id=scope.account.id, name=command.name)
    else:
        found = await find_expense(scope.db, account_id=scope.account.id, name=command.name)
    if found is None:
        raise NotFound(f"There is no {word} called `{command.name}`.",
                       hint=f"Check the spelling, or add it with `/tamio add {word} \"{command.name}\" 1000`.")
    old = found.name
    if isinstance(found, Client):
        await service.update_client(found, name=command.new_name)
    else:
        await service.update_expense(found, name=command.new_name)
    text = f":white_check_mark: Renamed the {word} *{escape(old)}* to *{escape(found.name)}*."
    return Reply(text, [section(text)])


async def set_contact(scope: Scope, command: parse.SetContact, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.MANAGE_DATA, "set contact emails")
    actor = scope.member.id if scope.member else "slack"
    service = CounterpartyService(scope.db, account=scope.account, settings=scope.settings, today=scope.today, actor=actor, now=scope.now)
    found = await find_counterparty(scope.db, account_id=scope.account.id, name=command.name, kind=command.kind)
    changed = await service.set_contact(found, email=command.email, contact_name=command.contact_name)
    word = "client" if isinstance(found, Client) else "expense"
    person = f" ({escape(found.contact_name)})" if found.contact_name else ""
    if changed:
        text = f":white_check_mark: Follow-up emails to *{escape(found.name)}* ({word}) now go to {escape(found.contact_email or '')}{person}."
    else:
        text = f"Follow-up emails to *{escape(found.name)}* ({word}) already go to {escape(found.contact_email or '')}{person}; nothing changed."
    return Reply(text, [section(text)])


async def record_paid(scope: Scope, command: parse.RecordPaid, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.MANAGE_DATA, "record payments")
    counterparty = await find_payer(scope.db, account_id=scope.account.id, name=command.name)
    return await record_and_say(scope, counterparty, amount=command.amount, currency=command.currency, on=command.on,
                                invoice=command.invoice)


async def record_and_say(scope: Scope, counterparty: Client | ExpenseBucket, *, amount: Decimal, currency: str | None,
                         on: date, invoice: str | None = None) -> Reply:
    """Record a payment (``/tamio paid`` and the "Record a payment" shortcut) and say what it settled."""
    currency = currency or counterparty.currency
    outcome = await record_payment(
        scope.db, account=scope.account, amount=amount, currency=currency, payment_date=on,
        counterparty=counterparty, invoice=invoice, actor=scope.member.id if scope.member else "slack", now=scope.now,
    )
    direction = "from" if isinstance(counterparty, Client) else "to"
    text = f":white_check_mark: Recorded {money(amount, currency)} {direction} *{escape(counterparty.name)}* on {day_label(on)}"
    return Reply(text + _paid_parts(outcome, currency), [section(text + _paid_parts(outcome, currency))])


def _paid_parts(outcome: PaymentOutcome, currency: str) -> str:
    """What the payment paid, oldest first, and what was left over."""

    def what(schedule: ObligationSchedule) -> str:
        number = f"{escape(schedule.invoice_number)} " if schedule.invoice_number else "the payment "
        state = "now paid" if schedule.status.value == "paid" else f"{money(remaining_of(schedule), schedule.currency)} still open"
        return f"{number}due {day_label(schedule.due_date)} ({state})"

    paid = [(part.amount, part.schedule) for part in outcome.parts if part.schedule is not None]
    if not paid:
        return ". Nothing of theirs was open to match it, so it is kept as an unmatched payment (unexpected revenue)."
    if len(paid) == 1:
        text = f", matched to {what(paid[0][1])}."
    else:
        text = ", oldest first: " + "; ".join(f"{money(amount, currency)} to {what(schedule)}" for amount, schedule in paid) + "."
    if outcome.overpaid > 0:
        text += f" {money(outcome.overpaid, currency)} more than was owed is kept as an overpayment (unexpected revenue)."
    return text


async def set_rate(scope: Scope, command: parse.SetRate, client: AsyncWebClient) -> Reply:
    """``/tamio rate CHF 1.12``: this workspace's own rate, which wins over the ECB's for it alone."""
    await scope.require(Operation.CHANGE_SETTINGS, "set this workspace's exchange rates")
    base = scope.account.base_currency
    await set_account_rate(scope.db, account_id=scope.account.id, base_currency=command.currency, quote_currency=base,
                           rate=command.rate, rate_date=scope.today, actor=scope.member.id if scope.member else "slack", source="slack")
    text = (f":white_check_mark: From today, 1 {command.currency} = {command.rate} {base} for this workspace: "
            f"it wins over the ECB's rate here, and no other workspace sees it. New {command.currency} amounts convert "
            "at it; amounts already entered keep the rate they were entered at.")
    return Reply(text, [section(text)])


async def show_client(scope: Scope, command: parse.ShowClient, client: AsyncWebClient) -> Reply:
    """``/tamio client "Acme Corp"``: how a client pays, in words, and what it owes now."""
    summary = await client_summary(scope.db, account=scope.account, name=command.name, today=scope.today)
    lines = summary_lines(summary)
    head, rest = lines[0], lines[1:]
    text = f"*{escape(summary.name)}* {escape(head[len(summary.name) + 2:])}"
    return Reply(head, [section(text), *code_sections([escape(line) for line in rest])] if rest else [section(text)])
