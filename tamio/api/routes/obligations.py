"""``/api/v1/data/obligations``, ``/schedules`` and ``/payments``: the obligation layer, read and paid.

Agreements are added here as Slack's ``/tamio add`` and the CLI add them (``POST /data/obligations``,
through the core's one function), or with a client or expense bucket (their routes); here they are
listed, read and cancelled (with their future unpaid schedules). Payments are recorded with
``record_payment``: against a schedule or the invoice named, else a client's or vendor's open
schedules oldest first (``tamio.obligations.matching``); what matches nothing is kept, unmatched.
Every id in a path or body is looked up within the token's account, so another account's id is
404, never a write.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select

from tamio.accounts.permissions import Operation
from tamio.api.registry import Call, Router
from tamio.api.schemas.adding import ObligationAddedOut, ObligationCreate
from tamio.api.schemas.ledger import (
    CancelOut,
    ObligationList,
    ObligationOut,
    ObligationQuery,
    ObligationScheduleQuery,
    PaymentCreate,
    PaymentList,
    PaymentOut,
    PaymentQuery,
    PaymentRecordedOut,
    ScheduleList,
    ScheduleOut,
    ScheduleQuery,
    obligation_out,
    payment_out,
    schedule_out,
)
from tamio.api.types import check_precision, money_out
from tamio.data.models import Client, ExpenseBucket
from tamio.data.service import get_cash_account
from tamio.errors import NotFound, ValidationError
from tamio.money import normalize_currency
from tamio.obligations.add import add_obligation
from tamio.obligations.adding import AddObligation
from tamio.obligations.counterparties import get_client, get_expense
from tamio.obligations.duplicates import DuplicateObligation
from tamio.obligations.matching import in_status
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, PaymentEvent, ScheduleStatus
from tamio.obligations.payments import record_payment
from tamio.obligations.service import ObligationService

router = Router("Obligations and payments")


def _obligations(call: Call) -> ObligationService:
    return ObligationService(call.db, account=call.account, settings=call.settings, today=call.today, actor=call.actor, now=call.now)


async def _schedule(call: Call, schedule_id: str) -> ObligationSchedule:
    schedule = await call.db.get(ObligationSchedule, schedule_id)
    if schedule is None or schedule.user_id != call.account.id:
        raise NotFound(f"There is no schedule `{schedule_id}` in this account.")
    return schedule


async def _check_filters(call: Call, *, client_id: str | None = None, expense_bucket_id: str | None = None,
                         obligation_id: str | None = None) -> None:
    """A filter naming another account's client, expense or obligation is 404, like a path would be."""
    if client_id is not None:
        await get_client(call.db, account_id=call.account.id, client_id=client_id)
    if expense_bucket_id is not None:
        await get_expense(call.db, account_id=call.account.id, expense_id=expense_bucket_id)
    if obligation_id is not None:
        await _obligations(call).get_agreement(obligation_id)


def _check_range(first: date | None, last: date | None, names: tuple[str, str]) -> None:
    if first and last and last < first:
        message = f"{names[1]} is before {names[0]}"
        raise ValidationError(f"The range is empty: {message}.", field_errors={f"query.{names[1]}": message})


def _schedule_filters(
    stmt: Select[ObligationSchedule], status: ScheduleStatus | None, due_from: date | None, due_to: date | None
) -> Select[ObligationSchedule]:
    _check_range(due_from, due_to, ("due_from", "due_to"))
    if status is not None:
        stmt = stmt.where(in_status(status))  # partially_paid: part paid, late or not
    if due_from is not None:
        stmt = stmt.where(ObligationSchedule.due_date >= due_from)
    if due_to is not None:
        stmt = stmt.where(ObligationSchedule.due_date <= due_to)
    return stmt.order_by(ObligationSchedule.due_date, ObligationSchedule.id)


# -- obligations ----------------------------------------------------------------------------------


@router.route(
    "GET", "/data/obligations", query=ObligationQuery, response=ObligationList, errors=(404,), summary="List obligations"
)
async def list_obligations(call: Call) -> ObligationList:
    query = call.query(ObligationQuery)
    await _check_filters(call, client_id=query.client_id, expense_bucket_id=query.expense_bucket_id)
    stmt = select(ObligationAgreement).where(ObligationAgreement.user_id == call.account.id)
    if query.status is not None:
        stmt = stmt.where(ObligationAgreement.status == query.status)
    if query.type is not None:
        stmt = stmt.where(ObligationAgreement.obligation_type == query.type)
    if query.client_id is not None:
        stmt = stmt.where(ObligationAgreement.client_id == query.client_id)
    if query.expense_bucket_id is not None:
        stmt = stmt.where(ObligationAgreement.expense_bucket_id == query.expense_bucket_id)
    stmt = stmt.order_by(ObligationAgreement.created_at, ObligationAgreement.id).limit(query.limit)
    rows = (await call.db.execute(stmt)).scalars().all()
    return ObligationList(obligations=[obligation_out(a, base_currency=call.account.base_currency) for a in rows])


@router.route("GET", "/data/obligations/{obligation_id}", response=ObligationOut, summary="Get an obligation")
async def get_obligation(call: Call) -> ObligationOut:
    agreement = await _obligations(call).get_agreement(call.path["obligation_id"])
    return obligation_out(agreement, base_currency=call.account.base_currency)


@router.route(
    "GET", "/data/obligations/{obligation_id}/schedules", query=ObligationScheduleQuery, response=ScheduleList,
    summary="List an obligation's schedules",
)
async def list_obligation_schedules(call: Call) -> ScheduleList:
    query = call.query(ObligationScheduleQuery)
    agreement = await _obligations(call).get_agreement(call.path["obligation_id"])
    stmt = select(ObligationSchedule).where(
        ObligationSchedule.user_id == call.account.id, ObligationSchedule.obligation_id == agreement.id
    )
    stmt = _schedule_filters(stmt, query.status, query.due_from, query.due_to).limit(query.limit)
    rows = (await call.db.execute(stmt)).scalars().all()
    return ScheduleList(schedules=[schedule_out(s, base_currency=call.account.base_currency) for s in rows])


IN_RECURRENCE = frozenset({"start_date", "end_date", "day", "frequency", "calendar", "convention", "interval", "count", "rrule"})


@router.route(
    "POST", "/data/obligations", body=ObligationCreate, response=ObligationAddedOut, status=201,
    permission=Operation.MANAGE_DATA, errors=(409,), summary="Add an obligation",
)
async def add_an_obligation(call: Call) -> ObligationAddedOut:
    """What ``/tamio add`` does: find or create the client or vendor by name and add the amount, with its
    schedules (a past start is owed from then, overdue). 409 when the invoice number is already theirs, or
    when the same amount and frequency is already there ("Rent already has $500.00 monthly: add another?")
    unless ``allow_duplicate`` is true."""
    body = call.body(ObligationCreate)
    try:
        obligation = AddObligation.read({
            "kind": body.kind, "name": body.name, "amount": body.amount, "currency": body.currency or call.account.base_currency,
            "recurrence": body.recurrence.spec("recurrence"), "invoice": body.invoice, "contact_email": body.contact_email,
            "allow_duplicate": body.allow_duplicate,
        }, today=call.today)
    except ValidationError as exc:
        fields = {f"recurrence.{k}" if k in IN_RECURRENCE else k: v for k, v in exc.field_errors.items()}
        raise ValidationError(exc.message, field_errors=fields) from exc
    try:
        added = await add_obligation(call.db, account=call.account, settings=call.settings, today=call.today, now=call.now,
                                     actor=call.actor, obligation=obligation)
    except DuplicateObligation as exc:  # the core wrote nothing
        raise DuplicateObligation(exc.existing, hint='Send it again with "allow_duplicate": true if it is a second, separate amount.') from None
    base = call.account.base_currency
    schedules = [] if added.agreement is None else await _obligations(call).schedules_of(added.agreement)
    return ObligationAddedOut(
        counterparty_id=added.counterparty.id, counterparty_created=added.created,
        obligation=obligation_out(added.agreement, base_currency=base) if added.agreement else None,
        schedules=[schedule_out(s, base_currency=base) for s in schedules], first_due=added.first_due, overdue=added.overdue,
    )


@router.route(
    "POST", "/data/obligations/{obligation_id}/cancel", response=CancelOut, permission=Operation.MANAGE_DATA, summary="Cancel an obligation"
)
async def cancel_obligation(call: Call) -> CancelOut:
    """Cancel the agreement and its future unpaid schedules; paid and past ones stay as they were."""
    service = _obligations(call)
    agreement = await service.get_agreement(call.path["obligation_id"])
    cancelled = await service.cancel_agreement(agreement)
    return CancelOut(obligation=obligation_out(agreement, base_currency=call.account.base_currency), schedules_cancelled=cancelled)


# -- schedules ------------------------------------------------------------------------------------


@router.route("GET", "/data/schedules", query=ScheduleQuery, response=ScheduleList, errors=(404,), summary="List schedules")
async def list_schedules(call: Call) -> ScheduleList:
    """Expected payments of every obligation, by due date; filter by status, dates and obligation."""
    query = call.query(ScheduleQuery)
    await _check_filters(call, obligation_id=query.obligation_id)
    stmt = select(ObligationSchedule).where(ObligationSchedule.user_id == call.account.id)
    if query.obligation_id is not None:
        stmt = stmt.where(ObligationSchedule.obligation_id == query.obligation_id)
    stmt = _schedule_filters(stmt, query.status, query.due_from, query.due_to).limit(query.limit)
    rows = (await call.db.execute(stmt)).scalars().all()
    return ScheduleList(schedules=[schedule_out(s, base_currency=call.account.base_currency) for s in rows])


@router.route("GET", "/data/schedules/{schedule_id}", response=ScheduleOut, summary="Get a schedule")
async def get_schedule(call: Call) -> ScheduleOut:
    return schedule_out(await _schedule(call, call.path["schedule_id"]), base_currency=call.account.base_currency)


# -- payments -------------------------------------------------------------------------------------


@router.route("GET", "/data/payments", query=PaymentQuery, response=PaymentList, errors=(404,), summary="List payments")
async def list_payments(call: Call) -> PaymentList:
    query = call.query(PaymentQuery)
    _check_range(query.paid_from, query.paid_to, ("paid_from", "paid_to"))
    await _check_filters(call, client_id=query.client_id, expense_bucket_id=query.expense_bucket_id)
    stmt = select(PaymentEvent).where(PaymentEvent.user_id == call.account.id)
    if query.paid_from is not None:
        stmt = stmt.where(PaymentEvent.payment_date >= query.paid_from)
    if query.paid_to is not None:
        stmt = stmt.where(PaymentEvent.payment_date <= query.paid_to)
    if query.unmatched:
        stmt = stmt.where(PaymentEvent.schedule_id.is_(None))
    if query.client_id is not None:
        stmt = stmt.where(PaymentEvent.client_id == query.client_id)
    if query.expense_bucket_id is not None:
        stmt = stmt.where(PaymentEvent.expense_bucket_id == query.expense_bucket_id)
    stmt = stmt.order_by(PaymentEvent.payment_date.desc(), PaymentEvent.created_at.desc(), PaymentEvent.id).limit(query.limit)
    rows = (await call.db.execute(stmt)).scalars().all()
    return PaymentList(payments=[payment_out(p, base_currency=call.account.base_currency) for p in rows])


@router.route("GET", "/data/payments/{payment_id}", response=PaymentOut, summary="Get a payment")
async def get_payment(call: Call) -> PaymentOut:
    payment = await call.db.get(PaymentEvent, call.path["payment_id"])
    if payment is None or payment.user_id != call.account.id:
        raise NotFound(f"There is no payment `{call.path['payment_id']}` in this account.")
    return payment_out(payment, base_currency=call.account.base_currency)


@router.route(
    "POST", "/data/payments", body=PaymentCreate, response=PaymentRecordedOut, status=201, permission=Operation.MANAGE_DATA,
    errors=(404,), summary="Record a payment",
)
async def create_payment(call: Call) -> PaymentRecordedOut:
    """Record money received or paid: against ``schedule_id`` or ``invoice``, else the client's or vendor's
    oldest open schedules first. It moves each schedule paid to partially paid or paid, and the cash
    balance; more than was owed is an overpayment on the last one, and nothing open an unmatched payment."""
    body = call.body(PaymentCreate)
    payment_date = body.payment_date or call.today
    if payment_date > call.today:
        message = f"{payment_date.isoformat()} is after today ({call.today.isoformat()}); a future payment is a schedule"
        raise ValidationError(f"A payment cannot be recorded before it happens: {message}.", field_errors={"payment_date": message})
    schedule = await _schedule(call, body.schedule_id) if body.schedule_id else None
    counterparty: Client | ExpenseBucket | None = None
    if body.client_id:
        counterparty = await get_client(call.db, account_id=call.account.id, client_id=body.client_id)
    elif body.expense_bucket_id:
        counterparty = await get_expense(call.db, account_id=call.account.id, expense_id=body.expense_bucket_id)
    cash = await get_cash_account(call.db, account_id=call.account.id, cash_account_id=body.cash_account_id) if body.cash_account_id else None
    currency = normalize_currency(body.currency or (schedule.currency if schedule else call.account.base_currency))
    check_precision(body.amount, currency)
    outcome = await record_payment(
        call.db, account=call.account, amount=body.amount, currency=currency, payment_date=payment_date, schedule=schedule,
        counterparty=counterparty, invoice=body.invoice, direction=body.direction, reference=body.reference, cash_account=cash,
        adjust_balance=body.adjust_balance, actor=call.actor, now=call.now, source="api",
    )
    base = call.account.base_currency
    paid = [part.schedule for part in outcome.parts if part.schedule is not None]
    return PaymentRecordedOut(
        payment=payment_out(outcome.payment, base_currency=base), matched=outcome.matched,
        schedule=schedule_out(outcome.schedule, base_currency=base) if outcome.schedule else None,
        payments=[payment_out(p, base_currency=base) for p in outcome.payments],
        schedules=[schedule_out(s, base_currency=base) for s in paid],
        overpaid=money_out(outcome.overpaid, currency),
    )
