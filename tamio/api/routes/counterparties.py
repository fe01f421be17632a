"""``/api/v1/data/clients`` and ``/api/v1/data/expense-buckets``: who pays the business and whom it pays.

Routes call ``CounterpartyService`` only (never ObligationService directly), so a client or expense
created or changed here gets its ObligationAgreement and schedules in the same transaction
(design: "Creating a Client/Expense"; pitfall 1). Reading needs any role; writing an approver.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tamio.accounts.permissions import Operation
from tamio.api.registry import Call, Router
from tamio.api.schemas.counterparties import (
    BillingIn,
    ClientCreate,
    ClientFields,
    ClientList,
    ClientOut,
    ClientUpdate,
    CounterpartyQuery,
    ExpenseCreate,
    ExpenseFields,
    ExpenseList,
    ExpenseOut,
    ExpenseUpdate,
    client_out,
    expense_out,
    field_changes,
)
from tamio.api.types import check_precision
from tamio.data.models import Client, ExpenseBucket, ExpenseCategory
from tamio.money import normalize_currency
from tamio.obligations import counterparties
from tamio.obligations.counterparties import BillingLine, CounterpartyService
from tamio.obligations.models import ObligationType

router = Router("Clients and expenses")

_EXPENSE_TYPES = {
    ExpenseCategory.PAYROLL: ObligationType.PAYROLL,
    ExpenseCategory.TAX: ObligationType.TAX,
    ExpenseCategory.STATUTORY: ObligationType.TAX,
}


def _service(call: Call) -> CounterpartyService:
    return CounterpartyService(call.db, account=call.account, settings=call.settings, today=call.today, actor=call.actor, now=call.now)


def _billing(call: Call, billing: BillingIn, obligation_type: ObligationType) -> BillingLine:
    currency = normalize_currency(billing.currency or call.account.base_currency)
    check_precision(billing.amount, currency, "billing.amount")
    return BillingLine(
        amount=billing.amount, currency=currency, recurrence=billing.recurrence.spec("billing.recurrence"),
        obligation_type=obligation_type, amount_type=billing.amount_type,
    )


def _given(body: ClientFields | ExpenseFields, names: Any) -> dict[str, Any]:
    return {name: getattr(body, name) for name in names if getattr(body, name) is not None}


# -- clients --------------------------------------------------------------------------------------


@router.route("GET", "/data/clients", query=CounterpartyQuery, response=ClientList, summary="List clients")
async def list_clients(call: Call) -> ClientList:
    query = call.query(CounterpartyQuery)
    stmt = select(Client).where(Client.user_id == call.account.id)
    if query.status is not None:
        stmt = stmt.where(Client.status == query.status)
    clients = (await call.db.execute(stmt.order_by(Client.name, Client.id).limit(query.limit))).scalars().all()
    return ClientList(clients=[client_out(c, base_currency=call.account.base_currency) for c in clients])


@router.route(
    "POST", "/data/clients", body=ClientCreate, response=ClientOut, status=201, permission=Operation.MANAGE_DATA, errors=(409,),
    summary="Create a client",
)
async def create_client(call: Call) -> ClientOut:
    """A client, and with ``billing`` its revenue obligation and the schedules of the next months."""
    body = call.body(ClientCreate)
    billing = _billing(call, body.billing, ObligationType.REVENUE) if body.billing else None
    client = await _service(call).create_client(name=body.name, billing=billing, **_given(body, ClientFields.model_fields))
    return client_out(client, base_currency=call.account.base_currency)


@router.route("GET", "/data/clients/{client_id}", response=ClientOut, summary="Get a client")
async def get_client(call: Call) -> ClientOut:
    client = await counterparties.get_client(call.db, account_id=call.account.id, client_id=call.path["client_id"])
    return client_out(client, base_currency=call.account.base_currency)


@router.route(
    "PATCH", "/data/clients/{client_id}", body=ClientUpdate, response=ClientOut, permission=Operation.MANAGE_DATA, errors=(409,),
    summary="Change a client",
)
async def update_client(call: Call) -> ClientOut:
    """Change the fields given; new billing updates the obligation; status "ended" cancels its future schedules.
    409 when a field is owned by an integration (change it there)."""
    body = call.body(ClientUpdate)
    client = await counterparties.get_client(call.db, account_id=call.account.id, client_id=call.path["client_id"])
    billing = _billing(call, body.billing, ObligationType.REVENUE) if body.billing else None
    await _service(call).update_client(client, billing=billing, **field_changes(body))
    return client_out(client, base_currency=call.account.base_currency)


# -- expense buckets ------------------------------------------------------------------------------


@router.route("GET", "/data/expense-buckets", query=CounterpartyQuery, response=ExpenseList, summary="List expense buckets")
async def list_expenses(call: Call) -> ExpenseList:
    query = call.query(CounterpartyQuery)
    stmt = select(ExpenseBucket).where(ExpenseBucket.user_id == call.account.id)
    if query.status is not None:
        stmt = stmt.where(ExpenseBucket.status == query.status)
    buckets = (await call.db.execute(stmt.order_by(ExpenseBucket.name, ExpenseBucket.id).limit(query.limit))).scalars().all()
    return ExpenseList(expense_buckets=[expense_out(b, base_currency=call.account.base_currency) for b in buckets])


@router.route(
    "POST", "/data/expense-buckets", body=ExpenseCreate, response=ExpenseOut, status=201, permission=Operation.MANAGE_DATA, errors=(409,),
    summary="Create an expense bucket",
)
async def create_expense(call: Call) -> ExpenseOut:
    """A vendor, payroll or tax bucket, and with ``billing`` its obligation (payroll and tax by category)."""
    body = call.body(ExpenseCreate)
    kind = _EXPENSE_TYPES.get(body.category, ObligationType.EXPENSE)
    billing = _billing(call, body.billing, kind) if body.billing else None
    bucket = await _service(call).create_expense(
        name=body.name, billing=billing, category=body.category, **_given(body, ExpenseFields.model_fields)
    )
    return expense_out(bucket, base_currency=call.account.base_currency)


@router.route("GET", "/data/expense-buckets/{expense_id}", response=ExpenseOut, summary="Get an expense bucket")
async def get_expense(call: Call) -> ExpenseOut:
    bucket = await counterparties.get_expense(call.db, account_id=call.account.id, expense_id=call.path["expense_id"])
    return expense_out(bucket, base_currency=call.account.base_currency)


@router.route(
    "PATCH", "/data/expense-buckets/{expense_id}", body=ExpenseUpdate, response=ExpenseOut, permission=Operation.MANAGE_DATA,
    errors=(409,), summary="Change an expense bucket",
)
async def update_expense(call: Call) -> ExpenseOut:
    """Change the fields given; new billing updates the obligation; status "ended" cancels its future schedules.
    409 when a field is owned by an integration (change it there)."""
    body = call.body(ExpenseUpdate)
    bucket = await counterparties.get_expense(call.db, account_id=call.account.id, expense_id=call.path["expense_id"])
    kind = _EXPENSE_TYPES.get(body.category or bucket.category, ObligationType.EXPENSE)
    billing = _billing(call, body.billing, kind) if body.billing else None
    await _service(call).update_expense(bucket, billing=billing, **field_changes(body))
    return expense_out(bucket, base_currency=call.account.base_currency)
