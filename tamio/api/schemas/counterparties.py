"""Bodies of the client and expense-bucket routes, and the recurrence they are billed on.

A counterparty may carry one billing line when created (an amount, a currency and a recurrence);
``CounterpartyService`` turns it into an ObligationAgreement and its schedules (design: "Creating
a Client/Expense"). Updates change only the fields given.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tamio.api.types import (
    BODY_CONFIG,
    OUT_CONFIG,
    QUERY_CONFIG,
    Currency,
    Day,
    DecimalOut,
    Email,
    Line,
    MoneyOut,
    Name,
    Notes,
    Percent,
    PositiveAmount,
    ShortText,
    Subject,
    Tags,
    decimal_out,
    optional_money_out,
)
from tamio.data.models import (
    Client,
    CounterpartyStatus,
    Criticality,
    ExpenseBucket,
    ExpenseCategory,
    FlexibilityLevel,
    RelationshipType,
    RiskLevel,
)
from tamio.errors import ValidationError
from tamio.obligations.models import AmountType
from tamio.obligations.recurrence import BusinessDayConvention, Frequency, RecurrenceError, custom_rrule
from tamio.obligations.schemas import RecurrenceSpec


class RecurrenceIn(BaseModel):
    """When it falls due: a frequency from a start date, or (frequency "custom") an RFC 5545 RRULE."""

    model_config = BODY_CONFIG
    frequency: Frequency
    start_date: Day
    end_date: Day | None = None
    count: int | None = Field(None, ge=1, le=1000, description="number of payments (instead of an end date)")
    day: int | None = Field(None, ge=-1, le=31, description="day of the month, -1 for the last day")
    interval: int = Field(1, ge=1, le=24)
    rrule: Subject | None = Field(None, description="for frequency custom: e.g. FREQ=MONTHLY;BYMONTHDAY=1")
    convention: BusinessDayConvention = BusinessDayConvention.NONE
    calendar: ShortText | None = Field(None, description="holiday calendar, a country code such as US or GB")
    last_business_day: bool = False

    def spec(self, where: str) -> RecurrenceSpec:
        """The RecurrenceSpec, checked now so a wrong schedule is a 422 naming ``where.field``."""
        try:
            custom = None
            if self.frequency == Frequency.CUSTOM:
                if not self.rrule:
                    raise RecurrenceError("a custom schedule needs an rrule, e.g. FREQ=MONTHLY;BYMONTHDAY=1", field="rrule")
                custom = custom_rrule(self.rrule, start=self.start_date, end=self.end_date)
            elif self.rrule:
                raise RecurrenceError("an rrule is only for frequency custom", field="rrule")
            spec = RecurrenceSpec(
                frequency=self.frequency, start_date=self.start_date, end_date=self.end_date, count=self.count,
                day=self.day, interval=self.interval, custom_rrule=custom, convention=self.convention,
                calendar=self.calendar, last_business_day=self.last_business_day,
            )
            spec.recurrence()
        except RecurrenceError as exc:
            field = f"{where}.{exc.field}" if exc.field else where
            raise ValidationError(str(exc), field_errors={field: exc.message}) from exc
        return spec


class BillingIn(BaseModel):
    model_config = BODY_CONFIG
    amount: PositiveAmount
    currency: Currency | None = Field(None, description="default: the account's base currency")
    recurrence: RecurrenceIn
    amount_type: AmountType = AmountType.FIXED


class CounterpartyQuery(BaseModel):
    model_config = QUERY_CONFIG
    status: CounterpartyStatus | None = Field(None, description="only clients or expenses in this status")
    limit: int = Field(200, ge=1, le=1000)


def _not_nullable(schema: dict[str, Any]) -> None:
    """For changes, the document says what ``field_changes`` enforces: a NOT_NULL field may be left out, not sent as null."""
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf")
        if name not in NOT_NULL or not isinstance(options, list):
            continue
        kept = [option for option in options if option != {"type": "null"}]
        del prop["anyOf"]
        prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
        if prop.get("default", "") is None:
            del prop["default"]


BODY_NOT_NULL_CONFIG = ConfigDict(**BODY_CONFIG, json_schema_extra=_not_nullable)


class ClientFields(BaseModel):
    model_config = BODY_CONFIG
    contact_name: Line | None = None
    contact_email: Email | None = None
    relationship_type: RelationshipType | None = None
    risk_level: RiskLevel | None = None
    revenue_percent: Percent | None = None
    avg_payment_delay_days: int | None = Field(None, ge=0, le=365)
    tags: Tags | None = None
    notes: Notes | None = None


class ClientCreate(ClientFields):
    name: Name
    billing: BillingIn | None = None


class ClientUpdate(ClientFields):
    """Fields to change; fields left out are kept. ``billing`` replaces the first billing line."""

    model_config = BODY_NOT_NULL_CONFIG

    name: Name | None = None
    status: CounterpartyStatus | None = None
    billing: BillingIn | None = None


class ExpenseFields(BaseModel):
    model_config = BODY_CONFIG
    contact_name: Line | None = None
    contact_email: Email | None = None
    payment_terms: ShortText | None = None
    payment_terms_days: int | None = Field(None, ge=0, le=365)
    flexibility_level: FlexibilityLevel | None = None
    criticality: Criticality | None = None
    tags: Tags | None = None
    notes: Notes | None = None


class ExpenseCreate(ExpenseFields):
    name: Name
    category: ExpenseCategory = ExpenseCategory.OPERATING
    billing: BillingIn | None = None


class ExpenseUpdate(ExpenseFields):
    """Fields to change; fields left out are kept. ``billing`` replaces the first billing line."""

    model_config = BODY_NOT_NULL_CONFIG

    name: Name | None = None
    category: ExpenseCategory | None = None
    status: CounterpartyStatus | None = None
    billing: BillingIn | None = None


# Fields that may not be cleared: an explicit null for them is refused rather than stored.
NOT_NULL = frozenset({"name", "status", "category", "tags", "avg_payment_delay_days"})


def field_changes(body: BaseModel, exclude: frozenset[str] = frozenset({"billing"})) -> dict[str, Any]:
    """The fields the request named (explicit nulls clear optional fields)."""
    changes: dict[str, Any] = {}
    for name in body.model_fields_set - exclude:
        value = getattr(body, name)
        if value is None and name in NOT_NULL:
            raise ValidationError(f"{name} cannot be empty; leave it out to keep it.", field_errors={name: "must not be null"})
        changes[name] = value
    return changes


class BillingLineOut(BaseModel):
    model_config = OUT_CONFIG
    agreement_id: str | None
    obligation_type: str | None
    amount: MoneyOut | None
    currency: str | None
    amount_type: str | None
    base_amount: MoneyOut | None
    rate: DecimalOut | None
    frequency: str | None
    start_date: date | None
    end_date: date | None
    rrule: str | None


class CounterpartyOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    name: str
    status: CounterpartyStatus
    amount: MoneyOut | None
    currency: str
    base_currency_amount: MoneyOut | None
    exchange_rate_used: DecimalOut | None
    contact_name: str | None
    contact_email: str | None
    tags: list[str]
    notes: str | None
    source: str
    locked_fields: list[str]
    billing_lines: list[BillingLineOut]
    created_at: datetime
    updated_at: datetime


class ClientOut(CounterpartyOut):
    relationship_type: RelationshipType | None
    risk_level: RiskLevel | None
    revenue_percent: DecimalOut | None
    avg_payment_delay_days: int


class ExpenseOut(CounterpartyOut):
    category: ExpenseCategory
    payment_terms: str | None
    payment_terms_days: int | None
    flexibility_level: FlexibilityLevel | None
    criticality: Criticality | None


class ClientList(BaseModel):
    model_config = OUT_CONFIG
    clients: list[ClientOut]


class ExpenseList(BaseModel):
    model_config = OUT_CONFIG
    expense_buckets: list[ExpenseOut]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _decimal_text(value: Any) -> str | None:
    try:
        return decimal_out(Decimal(str(value))) if value is not None else None
    except InvalidOperation:
        return None


def billing_lines_out(entity: Client | ExpenseBucket) -> list[BillingLineOut]:
    """The billing lines as stored; tolerant of lines an integration wrote with fewer keys."""
    lines = []
    for line in (entity.billing_config or {}).get("lines", []):
        if not isinstance(line, dict):
            continue
        found = line.get("recurrence")
        recurrence: dict[str, Any] = found if isinstance(found, dict) else {}
        lines.append(
            BillingLineOut(
                agreement_id=_text(line.get("agreement_id")), obligation_type=_text(line.get("obligation_type")),
                amount=_decimal_text(line.get("amount")), currency=_text(line.get("currency")),
                amount_type=_text(line.get("amount_type")), base_amount=_decimal_text(line.get("base_amount")),
                rate=_decimal_text(line.get("rate")), frequency=_text(recurrence.get("frequency")),
                start_date=_day(recurrence.get("start_date")), end_date=_day(recurrence.get("end_date")),
                rrule=_text(recurrence.get("rrule")),
            )
        )
    return lines


def _common(entity: Client | ExpenseBucket, base_currency: str) -> dict[str, Any]:
    return {
        "id": entity.id, "name": entity.name, "status": entity.status,
        "amount": optional_money_out(entity.amount, entity.currency), "currency": entity.currency,
        "base_currency_amount": optional_money_out(entity.base_currency_amount, base_currency),
        "exchange_rate_used": decimal_out(entity.exchange_rate_used), "contact_name": entity.contact_name,
        "contact_email": entity.contact_email, "tags": list(entity.tags or []), "notes": entity.notes,
        "source": entity.source, "locked_fields": list(entity.locked_fields or []),
        "billing_lines": billing_lines_out(entity), "created_at": entity.created_at, "updated_at": entity.updated_at,
    }


def client_out(client: Client, *, base_currency: str) -> ClientOut:
    return ClientOut(
        **_common(client, base_currency), relationship_type=client.relationship_type, risk_level=client.risk_level,
        revenue_percent=decimal_out(client.revenue_percent), avg_payment_delay_days=client.avg_payment_delay_days,
    )


def expense_out(bucket: ExpenseBucket, *, base_currency: str) -> ExpenseOut:
    return ExpenseOut(
        **_common(bucket, base_currency), category=bucket.category, payment_terms=bucket.payment_terms,
        payment_terms_days=bucket.payment_terms_days, flexibility_level=bucket.flexibility_level,
        criticality=bucket.criticality,
    )
