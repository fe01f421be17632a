"""The Xero adapter against a local Xero stand-in: connecting, refreshing, paging, incremental pulls,
rate limits, dates and amounts, and pushing contacts. Time is a fake clock shared by both sides, so
a minute of rate limiting takes no real time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tamio.integrations.base import (
    AccessTokenExpired,
    ContactDraft,
    DuplicateContact,
    IntegrationError,
    RateLimited,
    ReconnectRequired,
    TokenSet,
    iterate_pages,
)
from tamio.integrations.xero import XeroAdapter, authorize_url, choose_tenant
from tamio.integrations.xero.records import (
    format_if_modified_since,
    format_xero_date,
    format_xero_datetime,
    parse_xero_date,
    parse_xero_datetime,
)
from tests.xero_standin import XeroStandIn

REDIRECT = "https://tamio.test/integrations/xero/callback"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()


class FakeClock:
    """Epoch seconds for both the stand-in and the adapter; sleeping moves time on at once."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def xero(clock: FakeClock) -> AsyncIterator[XeroStandIn]:
    async with XeroStandIn(clock=clock) as standin:
        yield standin


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def make_adapter(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock, **options: Any
) -> XeroAdapter:
    settings: dict[str, Any] = {
        "tenant_id": None,
        "access_token": None,
        "client_id": xero.client_id,
        "client_secret": xero.client_secret,
        "api_base": xero.base_url,
        "identity_base": xero.base_url,
        "clock": clock,
        "sleep": clock.sleep,
        "now": clock.utc,
    }
    return XeroAdapter(http, **(settings | options))


async def connected(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock, **options: Any
) -> tuple[XeroAdapter, TokenSet]:
    adapter = make_adapter(http, xero, clock, **options)
    tokens = await adapter.connect(xero.issue_code(redirect_uri=REDIRECT), REDIRECT)
    adapter.use_tenant(choose_tenant(await adapter.connections()).tenant_id)
    return adapter, tokens


def accounting_calls(xero: XeroStandIn) -> list[Any]:
    return [c for c in xero.calls if c.path.startswith("/api.xro/2.0")]


# --- connecting ----------------------------------------------------------------------------------


async def test_consent_url_brings_the_user_back_with_a_code_that_buys_tokens(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    url = authorize_url(
        xero.client_id,
        REDIRECT,
        "state-123",
        scopes=("openid", "accounting.contacts"),
        login_base=xero.base_url,
    )
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"]
    assert "offline_access" in query["scope"][0].split()  # added: without it there is no refresh token

    async with http.get(url, allow_redirects=False) as consent:
        assert consent.status == 302
        back = urlsplit(consent.headers["Location"])
    assert back.geturl().startswith(REDIRECT)
    callback = parse_qs(back.query)
    assert callback["state"] == ["state-123"]

    adapter = make_adapter(http, xero, clock)
    tokens = await adapter.connect(callback["code"][0], REDIRECT)
    assert tokens.refresh_token and tokens.access_token == adapter.access_token
    assert tokens.expires_at == clock.utc() + timedelta(seconds=1800)
    assert tokens.id_token is not None
    token_call = next(c for c in xero.calls if c.path == "/connect/token")
    assert token_call.headers["authorization"].startswith("Basic ")

    with pytest.raises(ReconnectRequired):  # a code works once
        await adapter.connect(callback["code"][0], REDIRECT)


async def test_wrong_client_secret_is_a_configuration_error_not_a_reconnect(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    adapter = make_adapter(http, xero, clock, client_secret="not-the-secret")
    with pytest.raises(IntegrationError, match="credentials") as raised:
        await adapter.connect(xero.issue_code(redirect_uri=REDIRECT), REDIRECT)
    assert not isinstance(raised.value, ReconnectRequired)


async def test_choosing_one_of_two_connected_organisations(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    first = xero.tenant_id
    second = xero.add_tenant("Bloggs Bakery Ltd")
    xero.add_contact(name="Only in the first org")
    xero.add_contact(name="Flour Mill", tenant_id=second)
    adapter = make_adapter(http, xero, clock)
    await adapter.connect(xero.issue_code(redirect_uri=REDIRECT, tenant_ids=[first, second]), REDIRECT)

    tenants = await adapter.connections()
    assert {t.tenant_name for t in tenants} == {"Demo Company (US)", "Bloggs Bakery Ltd"}
    with pytest.raises(IntegrationError, match="Several Xero organisations"):
        choose_tenant(tenants)
    with pytest.raises(ReconnectRequired):
        choose_tenant(tenants, "00000000-0000-0000-0000-000000000000")

    adapter.use_tenant(choose_tenant(tenants, second).tenant_id)
    contacts, has_more = await adapter.pull_contacts(None)
    assert [c.name for c in contacts] == ["Flour Mill"] and has_more is False
    assert accounting_calls(xero)[-1].headers["xero-tenant-id"] == second


async def test_an_organisation_that_was_not_connected_needs_a_reconnect(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    adapter, _ = await connected(http, xero, clock)
    adapter.use_tenant(xero.add_tenant("Not consented Ltd"))
    with pytest.raises(ReconnectRequired):
        await adapter.pull_contacts(None)
    assert accounting_calls(xero)[-1].status == 403


# --- tokens --------------------------------------------------------------------------------------


async def test_refresh_tokens_rotate_and_the_old_one_works_for_thirty_minutes(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    adapter, first = await connected(http, xero, clock)
    second = await adapter.refresh(first)
    assert second.refresh_token != first.refresh_token
    assert second.access_token == adapter.access_token

    clock.advance(29 * 60)  # a sync that crashed before saving `second` can still use `first`
    third = await adapter.refresh(first)
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)

    clock.advance(2 * 60)
    with pytest.raises(ReconnectRequired):
        await adapter.refresh(first)
    with pytest.raises(ReconnectRequired):
        await adapter.refresh(TokenSet("x", "rt-never-issued", clock.utc(), ""))
    fourth = await adapter.refresh(third)
    assert fourth.expires_at == clock.utc() + timedelta(seconds=1800)


async def test_an_expired_access_token_is_refreshed_and_the_pull_goes_on(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    xero.add_contact(name="Acme Ltd")
    adapter, tokens = await connected(http, xero, clock)
    clock.advance(1801)
    assert tokens.expires_within(0, now=clock.utc())
    with pytest.raises(AccessTokenExpired):
        await adapter.pull_contacts(None)
    await adapter.refresh(tokens)
    contacts, _ = await adapter.pull_contacts(None)
    assert [c.name for c in contacts] == ["Acme Ltd"]


# --- pulling -------------------------------------------------------------------------------------


async def test_250_contacts_come_in_three_pages(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    seeded = {xero.add_contact(name=f"Customer {n:03d}", is_customer=True) for n in range(250)}
    adapter, _ = await connected(http, xero, clock)

    pages = [page async for page in iterate_pages(adapter.pull_contacts, since=None)]

    assert [len(p) for p in pages] == [100, 100, 50]
    assert {c.external_id for p in pages for c in p} == seeded
    assert [c.query["page"] for c in accounting_calls(xero)] == ["1", "2", "3"]
    assert all(c.is_customer and not c.is_supplier for p in pages for c in p)


async def test_incremental_pull_returns_only_what_changed_since(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    ids = [
        xero.add_contact(name=name)
        for name in ("Acme Ltd", "Bloggs Bakery", "Cobalt Co", "Delta LLC", "Echo Inc")
    ]
    adapter, _ = await connected(http, xero, clock)
    everything, _ = await adapter.pull_contacts(None)
    assert len(everything) == 5

    clock.advance(120.25)
    last_sync = clock.utc()
    clock.advance(5)
    xero.update_contact(ids[1], EmailAddress="accounts@bloggs.test")
    xero.update_contact(ids[3], ContactStatus="ARCHIVED")
    xero.add_contact(name="Foxtrot Partners")

    changed, has_more = await adapter.pull_contacts(last_sync)

    by_name = {c.name: c for c in changed}
    assert set(by_name) == {"Bloggs Bakery", "Delta LLC", "Foxtrot Partners"} and not has_more
    assert by_name["Bloggs Bakery"].email == "accounts@bloggs.test"
    assert by_name["Delta LLC"].status == "archived"
    assert all(c.updated_at >= last_sync for c in changed)
    assert accounting_calls(xero)[-1].headers["if-modified-since"] == format_if_modified_since(last_sync)
    assert "If-Modified-Since" not in accounting_calls(xero)[-2].headers


async def test_invoices_and_payments_keep_exact_amounts_and_dates(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    acme = xero.add_contact(name="Acme Ltd")
    mill = xero.add_contact(name="Flour Mill")
    sale = xero.add_invoice(
        contact_id=acme,
        total="1234567890123456.78",
        issue_date=date(2026, 2, 27),
        due_date=date(2026, 3, 31),
        number="INV-0042",
        currency="EUR",
        currency_rate="1.084500",
    )
    bill = xero.add_invoice(
        contact_id=mill, kind="ACCPAY", total="410.10", issue_date=date(2026, 3, 1), due_date=None
    )
    payment = xero.add_payment(invoice_id=bill, amount="410.10", paid_on=date(2026, 3, 2))
    adapter, _ = await connected(http, xero, clock)

    invoices, _ = await adapter.pull_invoices(None)
    by_id = {i.external_id: i for i in invoices}
    receivable, payable = by_id[sale], by_id[bill]
    assert receivable.kind == "receivable" and receivable.number == "INV-0042"
    assert receivable.total == Decimal("1234567890123456.78") and isinstance(receivable.total, Decimal)
    assert receivable.amount_due == receivable.total and receivable.amount_paid == Decimal("0")
    assert (receivable.issue_date, receivable.due_date) == (date(2026, 2, 27), date(2026, 3, 31))
    assert receivable.currency == "EUR" and receivable.currency_rate == Decimal("1.084500")
    assert receivable.status == "authorised" and receivable.contact_name == "Acme Ltd"
    assert payable.kind == "payable" and payable.status == "paid" and payable.due_date is None
    assert payable.amount_due == Decimal("0") and payable.amount_paid == Decimal("410.10")

    payments, _ = await adapter.pull_payments(None)
    assert [(p.external_id, p.invoice_external_id, p.amount, p.date, p.status) for p in payments] == [
        (payment, bill, Decimal("410.10"), date(2026, 3, 2), "authorised")
    ]
    contacts, _ = await adapter.pull_contacts(None)
    assert {c.name: (c.is_customer, c.is_supplier) for c in contacts} == {
        "Acme Ltd": (True, False),
        "Flour Mill": (False, True),
    }


def test_xero_dates_round_trip() -> None:
    moment = datetime(2026, 3, 2, 9, 15, 30, 123000, tzinfo=UTC)
    assert format_xero_datetime(moment) == "/Date(1772442930123+0000)/"
    assert parse_xero_datetime(format_xero_datetime(moment)) == moment
    assert parse_xero_datetime("/Date(1772442930123)/") == moment
    assert parse_xero_datetime("/Date(1772442930123+1300)/") == moment  # the offset is informational
    assert parse_xero_datetime("/Date(-86400000+0000)/") == datetime(1969, 12, 31, tzinfo=UTC)
    assert parse_xero_datetime("2026-03-02T09:15:30.123") == moment
    assert parse_xero_date(format_xero_date(date(2024, 2, 29))) == date(2024, 2, 29)
    assert format_if_modified_since(moment) == "2026-03-02T09:15:30"
    with pytest.raises(ValueError):
        format_xero_datetime(datetime(2026, 3, 2))
    with pytest.raises(IntegrationError):
        parse_xero_datetime("last Tuesday")


# --- rate limits ---------------------------------------------------------------------------------


async def test_a_429_is_waited_out_for_retry_after_and_retried(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    xero.add_contact(name="Acme Ltd")
    adapter, _ = await connected(http, xero, clock)
    xero.rate_limit_next(2, retry_after=3)

    contacts, _ = await adapter.pull_contacts(None)

    assert [c.name for c in contacts] == ["Acme Ltd"]
    assert clock.sleeps == [3, 3]
    assert [c.status for c in accounting_calls(xero)] == [429, 429, 200]


async def test_after_max_retries_the_sync_is_told_when_to_come_back(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    adapter, _ = await connected(http, xero, clock, max_retries=5)
    xero.rate_limit_next(10, retry_after=2)
    with pytest.raises(RateLimited) as raised:
        await adapter.pull_invoices(None)
    assert raised.value.retry_after == 2
    assert clock.sleeps == [2] * 5
    assert len(accounting_calls(xero)) == 6


async def test_the_daily_limit_stops_the_sync_without_sleeping(
    http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    async with XeroStandIn(clock=clock, day_limit=3) as xero:
        adapter, _ = await connected(http, xero, clock)
        for _ in range(3):
            await adapter.pull_contacts(None)
        with pytest.raises(RateLimited) as raised:
            await adapter.pull_contacts(None)
    assert raised.value.retry_after > 80_000
    assert clock.sleeps == []


async def test_the_limiter_spreads_70_calls_over_more_than_a_minute(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    adapter, _ = await connected(http, xero, clock)
    started = clock.now
    for _ in range(70):
        await adapter.pull_contacts(None)

    calls = accounting_calls(xero)
    assert len(calls) == 70 and all(c.status == 200 for c in calls)
    assert clock.now - started >= 60
    times = [c.at for c in calls]
    assert max(sum(1 for t in times if start <= t < start + 60) for start in times) == 60
    assert sum(clock.sleeps) >= 60


async def test_without_the_limiter_xero_answers_429_on_the_61st_call(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    adapter, _ = await connected(http, xero, clock, max_calls_per_minute=1000, max_retries=0)
    for _ in range(60):
        await adapter.pull_contacts(None)
    with pytest.raises(RateLimited) as raised:
        await adapter.pull_contacts(None)
    assert raised.value.retry_after == 60


# --- pushing contacts ----------------------------------------------------------------------------


async def test_push_creates_then_updates_a_contact(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    adapter, _ = await connected(http, xero, clock)
    created = await adapter.push_contact(
        ContactDraft(name="Acme Ltd", email="ap@acme.test", contact_name="Jo Bloggs")
    )
    assert created.external_id in xero.tenants[xero.tenant_id].contacts
    assert (created.name, created.email, created.contact_name) == ("Acme Ltd", "ap@acme.test", "Jo Bloggs")
    assert accounting_calls(xero)[-1].method == "PUT"

    clock.advance(60)
    updated = await adapter.push_contact(
        ContactDraft(name="Acme Limited", email="pay@acme.test", external_id=created.external_id)
    )
    last = accounting_calls(xero)[-1]
    assert (last.method, last.path) == ("POST", f"/api.xro/2.0/Contacts/{created.external_id}")
    assert updated.external_id == created.external_id
    assert (updated.name, updated.email) == ("Acme Limited", "pay@acme.test")
    assert updated.updated_at > created.updated_at

    contacts, _ = await adapter.pull_contacts(None)
    assert [(c.name, c.contact_name) for c in contacts] == [("Acme Limited", "Jo Bloggs")]


async def test_a_duplicate_contact_name_is_refused(
    http: aiohttp.ClientSession, xero: XeroStandIn, clock: FakeClock
) -> None:
    xero.add_contact(name="Acme Ltd")
    other = xero.add_contact(name="Bloggs Bakery")
    adapter, _ = await connected(http, xero, clock)

    with pytest.raises(DuplicateContact) as raised:
        await adapter.push_contact(ContactDraft(name="acme ltd"))
    assert raised.value.name == "acme ltd"
    with pytest.raises(DuplicateContact):
        await adapter.push_contact(ContactDraft(name="Acme Ltd", external_id=other))
    assert len(xero.tenants[xero.tenant_id].contacts) == 2
    with pytest.raises(IntegrationError, match="must be specified"):
        await adapter.push_contact(ContactDraft(name=" "))
