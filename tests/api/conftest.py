"""A live API server on 127.0.0.1 over a real database, and businesses with tokens and books in it.

``api`` serves ``tamio.api.install`` on a bare aiohttp application (as the Slack server mounts it)
with a real AppRunner; requests go over real HTTP. ``business`` opens an account with an admin, two
approvers and a viewer (each with a token), a cash account, a client and a payroll expense with
their obligations and schedules, a payment, and two prepared actions with options and a link.

    async def test_x(api: Api, business: Business) -> None:
        response = await api.get("/data/clients", token=business.viewer)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account, Role
from tamio.accounts.service import ensure_member
from tamio.accounts.tokens import create_token
from tamio.api import install
from tamio.config import Settings
from tamio.currency.service import add_rate
from tamio.data.service import set_balance
from tamio.db import Base
from tamio.detection.models import AlertSeverity
from tamio.obligations.counterparties import BillingLine, CounterpartyService
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, ObligationType, PaymentEvent
from tamio.obligations.payments import record_payment
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec
from tamio.opening import open_account
from tamio.preparation.models import ActionOption, ActionType, LinkedAction, LinkType, PreparedAction
from tamio.refresh.models import RefreshRequest
from tamio.scenarios.models import SavedScenario
from tests.fake_clock import FakeClock

API = "/api/v1"


@dataclass
class Reply:
    status: int
    headers: Any
    content_type: str
    text: str

    def json(self) -> Any:
        import json

        return json.loads(self.text)


@dataclass
class Api:
    http: aiohttp.ClientSession
    base_url: str
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock

    async def call(self, method: str, path: str, *, token: str | None = None, json: Any = None, data: str | bytes | None = None,
                   params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, API + path, json=json, data=data, params=params, headers=sent) as response:
            return Reply(response.status, response.headers, response.content_type, await response.text())

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("POST", path, **kwargs)


@dataclass
class Business:
    account_id: str
    admin: str
    approver: str
    second_approver: str
    viewer: str
    member_ids: dict[str, str]
    token_ids: dict[str, str]
    client_id: str
    expense_id: str
    cash_account_id: str
    client_obligation_id: str
    expense_obligation_id: str
    schedule_id: str
    payment_id: str
    action_id: str
    option_ids: list[str]
    big_action_id: str
    big_option_id: str
    extra: dict[str, Any] = field(default_factory=dict)


def assert_problem(reply: Reply, status: int) -> dict[str, Any]:
    """The reply is RFC 9457 problem JSON with this status, and no stack trace."""
    assert reply.status == status, reply.text
    assert reply.content_type == "application/problem+json"
    body = reply.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:tamio:problem:")
    assert body["title"] and body["detail"]
    assert "Traceback" not in reply.text
    return dict(body)


# The API's clock in these tests: a fixed moment, so a business built "today" and the API reading
# "now" agree on every machine and every day the suite runs (a Monday morning, business hours).
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def today() -> date:
    return START.date()


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def api_settings(db_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=db_url, use_obligation_for_forecast=True, **overrides)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return api_settings(db_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def api(session_factory: async_sessionmaker[AsyncSession], settings: Settings, clock: FakeClock) -> AsyncIterator[Api]:
    app = web.Application()
    install(app, settings, session_factory, clock=clock)
    runner, base_url = await serve(app)
    try:
        async with aiohttp.ClientSession(base_url=base_url) as http:
            yield Api(http, base_url, settings, session_factory, clock)
    finally:
        await runner.cleanup()


async def make_action(db: AsyncSession, account: Account, *, title: str, amount: str, kind: ActionType) -> tuple[PreparedAction, list[ActionOption]]:
    action = PreparedAction(
        user_id=account.id, action_type=kind, severity=AlertSeverity.THIS_WEEK, title=title, summary="Acme is 16 days late.",
        amount=Decimal(amount), currency=account.base_currency, counterparty_type="client", counterparty_name="Acme Corp",
        tags=["routine"], priority=5,
    )
    db.add(action)
    await db.flush()
    options = [
        ActionOption(
            action_id=action.id, rank=rank, kind="send_email", title=f"Send a {tone} reminder", description="",
            amount=Decimal(amount), currency=account.base_currency, recipient_email="ap@acme.example",
            draft_subject=f"Invoice reminder ({tone})", draft_body=f"Hello, a {tone} reminder.", draft_tone=tone,
            relationship_risk=Decimal("0.2"), operational_risk=Decimal("0.1"), financial_cost=Decimal("0"),
            composite_risk=Decimal("0.15"), risk_level="low",
        )
        for rank, tone in ((1, "soft"), (2, "firm"))
    ]
    db.add_all(options)
    await db.flush()
    return action, options


async def open_business(sessions: async_sessionmaker[AsyncSession], settings: Settings, name: str) -> Business:
    day = today()
    now = START
    async with sessions() as db, db.begin():
        account = await open_account(db, name=name, base_currency="USD", timezone="UTC", now=now)
        members = {
            "admin": await ensure_member(db, account_id=account.id, slack_user_id=f"U{name[:3]}ADM", display_name="ada", role=Role.ADMIN, now=now),
            "approver": await ensure_member(db, account_id=account.id, slack_user_id=f"U{name[:3]}APR", display_name="maria", role=Role.APPROVER, now=now),
            "second_approver": await ensure_member(db, account_id=account.id, slack_user_id=f"U{name[:3]}AP2", display_name="li", role=Role.APPROVER, now=now),
            "viewer": await ensure_member(db, account_id=account.id, slack_user_id=f"U{name[:3]}VIE", display_name="vic", role=Role.VIEWER, now=now),
        }
        issued = {key: await create_token(db, account=account, actor=None, member_id=m.id, name=key, now=now) for key, m in members.items()}
        await add_rate(db, base_currency="EUR", quote_currency="USD", rate=Decimal("1.08"), rate_date=day, account_id=None)
        cash = await set_balance(db, account=account, name="Operating", amount=Decimal("50000"), currency="USD", on_date=day, now=now)
        service = CounterpartyService(db, account=account, settings=settings, today=day, now=now)
        monthly = RecurrenceSpec(Frequency.MONTHLY, start_date=day, day=-1)
        client = await service.create_client(name="Acme Corp", billing=BillingLine(Decimal("5000"), "USD", monthly, ObligationType.REVENUE))
        payroll = await service.create_expense(
            name="Payroll", category="payroll", billing=BillingLine(Decimal("12000"), "USD", monthly, ObligationType.PAYROLL)
        )
        client_obligation = (await db.execute(select(ObligationAgreement).where(ObligationAgreement.client_id == client.id))).scalar_one()
        expense_obligation = (await db.execute(select(ObligationAgreement).where(ObligationAgreement.expense_bucket_id == payroll.id))).scalar_one()
        schedule = (
            await db.execute(
                select(ObligationSchedule).where(ObligationSchedule.obligation_id == client_obligation.id).order_by(ObligationSchedule.due_date)
            )
        ).scalars().first()
        assert schedule is not None
        outcome = await record_payment(db, account=account, amount=Decimal("1000"), currency="USD", payment_date=day, schedule=schedule, now=now)
        action, options = await make_action(db, account, title="Acme Corp is 16 days late", amount="800", kind=ActionType.INVOICE_FOLLOW_UP)
        big, big_options = await make_action(db, account, title="Collect Acme's large invoice", amount="25000", kind=ActionType.COLLECTION_ESCALATION)
        db.add(LinkedAction(user_id=account.id, source_action_id=action.id, target_action_id=big.id, link_type=LinkType.SEQUENCE,
                            group_id="grp_1", reason="chase first, escalate later"))
        payment: PaymentEvent = outcome.payment
        scenario = SavedScenario(user_id=account.id, name="Acme late", changes=[{"kind": "late", "name": "Acme Corp", "days": 30}],
                                 created_by="seed", created_at=now, updated_at=now)
        db.add(scenario)
        # At rest: the hand-made actions stand for what preparation left, so nothing waits to be worked
        # out again (a read of the queue answers a waiting refresh first, which would prepare beside them).
        await db.execute(delete(RefreshRequest).where(RefreshRequest.user_id == account.id))
        await db.flush()
        return Business(
            account_id=account.id,
            admin=issued["admin"].secret, approver=issued["approver"].secret,
            second_approver=issued["second_approver"].secret, viewer=issued["viewer"].secret,
            member_ids={k: m.id for k, m in members.items()}, token_ids={k: t.token.id for k, t in issued.items()},
            client_id=client.id, expense_id=payroll.id, cash_account_id=cash.id,
            client_obligation_id=client_obligation.id, expense_obligation_id=expense_obligation.id,
            schedule_id=schedule.id, payment_id=payment.id, action_id=action.id, option_ids=[o.id for o in options],
            big_action_id=big.id, big_option_id=big_options[0].id, extra={"scenario_id": scenario.id},
        )


@pytest.fixture
async def business(api: Api) -> Business:
    return await open_business(api.sessions, api.settings, "Acme Ltd")


@pytest.fixture
async def other_business(api: Api, business: Business) -> Business:
    return await open_business(api.sessions, api.settings, "Beta LLC")


async def dump_database(sessions: async_sessionmaker[AsyncSession], *, ignore: frozenset[tuple[str, str]] = frozenset()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as text, in primary-key order (``ignore``: (table, column) pairs)."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    async with sessions() as db, db.begin():
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in ignore]
            rows = (await db.execute(select(*columns).order_by(*table.primary_key.columns))).all()
            dump[table.name] = [tuple(_text(v) for v in row) for row in rows]
    return dump


def _text(value: Any) -> Any:
    if isinstance(value, datetime | date | Decimal):
        return value.isoformat() if isinstance(value, datetime | date) else format(value, "f")
    return value
