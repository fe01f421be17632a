"""A local Xero for tests: the identity server, the connections list and the Accounting API on 127.0.0.1.

It follows Xero's documented shapes and rules closely enough that Tamio's real adapter can be
tested against it: the token endpoint (authorization_code and refresh_token grants, HTTP Basic
client auth, refresh tokens that rotate with a grace period for the previous one, 400
``{"error": "invalid_grant"}``), ``/connections``, and ``/api.xro/2.0`` Contacts, Invoices and
Payments (Bearer token and ``xero-tenant-id`` required, ``/Date(ms+0000)/`` dates, 100 per page,
``If-Modified-Since``, a 400 ValidationException for a duplicate contact name, 429 with
``Retry-After`` past 60 calls a minute per organisation, or when scripted with ``rate_limit_next``).

Seed helpers stamp ``UpdatedDateUTC`` from the injected ``clock`` (epoch seconds), so a test can
move time and check incremental pulls. Every request is logged in ``calls``.

    async with XeroStandIn(clock=clock) as xero:
        xero.add_contact(name="Acme Ltd", email="ap@acme.test")
        code = xero.issue_code(redirect_uri="https://tamio.test/cb")
        ... XeroAdapter(session, api_base=xero.base_url, identity_base=xero.base_url, ...)
"""

from __future__ import annotations

import base64
import calendar
import itertools
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

PAGE_SIZE = 100
ACCOUNTING = "/api.xro/2.0"


def xero_date(ms: int) -> str:
    return f"/Date({ms}+0000)/"


def day_ms(day: date) -> int:
    return calendar.timegm(day.timetuple()) * 1000


def dumps(value: Any) -> str:
    """JSON with Decimals written as exact numbers, as Xero writes amounts."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass
class Tenant:
    tenant_id: str
    name: str
    connection_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    minute: deque[float] = field(default_factory=deque)
    day: deque[float] = field(default_factory=deque)


@dataclass
class RefreshToken:
    tenants: tuple[str, ...]
    scope: str
    retired_at: float | None = None


class XeroStandIn:
    def __init__(
        self,
        *,
        client_id: str = "tamio-client-id",
        client_secret: str = "tamio-client-secret",
        clock: Callable[[], float] = time.time,
        access_token_lifetime: int = 1800,
        refresh_grace: float = 1800.0,
        minute_limit: int = 60,
        day_limit: int = 5000,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.access_token_lifetime = access_token_lifetime
        self.refresh_grace = refresh_grace
        self.minute_limit = minute_limit
        self.day_limit = day_limit
        self.tenants: dict[str, Tenant] = {}
        self.calls: list[Call] = []
        self._codes: dict[str, tuple[str, tuple[str, ...], str]] = {}
        self._access: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._scripted_429: list[float] = []
        self._numbers = itertools.count(1)
        self.add_tenant("Demo Company (US)")
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> XeroStandIn:
        app = web.Application(middlewares=[self._log])
        app.router.add_get("/identity/connect/authorize", self._authorize)
        app.router.add_post("/connect/token", self._token)
        app.router.add_get("/connections", self._connections)
        app.router.add_route("*", ACCOUNTING + "/{resource}", self._accounting)
        app.router.add_route("*", ACCOUNTING + "/{resource}/{item_id}", self._accounting)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- seeding and scripting -------------------------------------------------------------------

    @property
    def tenant_id(self) -> str:
        return next(iter(self.tenants))

    def add_tenant(self, name: str) -> str:
        tenant = Tenant(tenant_id=str(uuid.uuid4()), name=name)
        self.tenants[tenant.tenant_id] = tenant
        return tenant.tenant_id

    def issue_code(
        self, *, redirect_uri: str, tenant_ids: list[str] | None = None, scope: str | None = None
    ) -> str:
        """What Xero's consent page hands the callback: a single-use code for these organisations."""
        code = uuid.uuid4().hex
        scope = scope or "openid profile email offline_access accounting.contacts accounting.invoices.read"
        self._codes[code] = (redirect_uri, tuple(tenant_ids or [self.tenant_id]), scope)
        return code

    def rate_limit_next(self, n: int, retry_after: float = 1) -> None:
        """The next ``n`` Accounting API calls answer 429 with this Retry-After."""
        self._scripted_429.extend([retry_after] * n)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _tenant(self, tenant_id: str | None) -> Tenant:
        return self.tenants[tenant_id or self.tenant_id]

    def add_contact(
        self,
        *,
        name: str,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        is_customer: bool = False,
        is_supplier: bool = False,
        status: str = "ACTIVE",
        tenant_id: str | None = None,
    ) -> str:
        contact_id = str(uuid.uuid4())
        self._tenant(tenant_id).contacts[contact_id] = {
            "ContactID": contact_id,
            "ContactStatus": status,
            "Name": name,
            "FirstName": first_name,
            "LastName": last_name,
            "EmailAddress": email,
            "IsSupplier": is_supplier,
            "IsCustomer": is_customer,
            "UpdatedDateUTC": xero_date(self._now_ms()),
            "_updated": self._now_ms(),
        }
        return contact_id

    def update_contact(self, contact_id: str, *, tenant_id: str | None = None, **fields: Any) -> None:
        contact = self._tenant(tenant_id).contacts[contact_id]
        contact.update(fields)
        self._touch(contact)

    def _touch(self, record: dict[str, Any]) -> None:
        record["_updated"] = self._now_ms()
        record["UpdatedDateUTC"] = xero_date(record["_updated"])

    def add_invoice(
        self,
        *,
        contact_id: str,
        total: Decimal | str,
        issue_date: date,
        due_date: date | None,
        kind: str = "ACCREC",
        number: str | None = None,
        currency: str = "USD",
        currency_rate: Decimal | str | None = None,
        status: str = "AUTHORISED",
        tenant_id: str | None = None,
    ) -> str:
        tenant = self._tenant(tenant_id)
        contact = tenant.contacts[contact_id]
        contact["IsCustomer" if kind == "ACCREC" else "IsSupplier"] = True
        invoice_id = str(uuid.uuid4())
        amount = Decimal(total)
        invoice: dict[str, Any] = {
            "Type": kind,
            "InvoiceID": invoice_id,
            "InvoiceNumber": number or (f"INV-{next(self._numbers):04d}" if kind == "ACCREC" else ""),
            "Reference": "",
            "Contact": {"ContactID": contact_id, "Name": contact["Name"]},
            "Date": xero_date(day_ms(issue_date)),
            "DateString": issue_date.isoformat() + "T00:00:00",
            "Status": status,
            "LineAmountTypes": "Exclusive",
            "SubTotal": amount,
            "TotalTax": Decimal("0.00"),
            "Total": amount,
            "AmountDue": amount,
            "AmountPaid": Decimal("0.00"),
            "AmountCredited": Decimal("0.00"),
            "CurrencyCode": currency,
            "CurrencyRate": Decimal(currency_rate) if currency_rate is not None else Decimal("1.000000"),
            "HasAttachments": False,
        }
        if due_date is not None:
            invoice["DueDate"] = xero_date(day_ms(due_date))
            invoice["DueDateString"] = due_date.isoformat() + "T00:00:00"
        self._touch(invoice)
        tenant.invoices[invoice_id] = invoice
        return invoice_id

    def add_payment(
        self,
        *,
        invoice_id: str,
        amount: Decimal | str,
        paid_on: date,
        currency_rate: Decimal | str | None = None,
        tenant_id: str | None = None,
    ) -> str:
        """A payment against an invoice; the invoice's AmountPaid/AmountDue/Status follow, as in Xero."""
        tenant = self._tenant(tenant_id)
        invoice = tenant.invoices[invoice_id]
        paid = Decimal(amount)
        if paid > invoice["AmountDue"]:
            raise ValueError("Xero refuses a payment larger than the amount due")
        payment_id = str(uuid.uuid4())
        payment: dict[str, Any] = {
            "PaymentID": payment_id,
            "Date": xero_date(day_ms(paid_on)),
            "Amount": paid,
            "CurrencyRate": Decimal(currency_rate) if currency_rate is not None else invoice["CurrencyRate"],
            "PaymentType": "ACCRECPAYMENT" if invoice["Type"] == "ACCREC" else "ACCPAYPAYMENT",
            "Status": "AUTHORISED",
            "IsReconciled": False,
            "Reference": "",
            "Invoice": {
                "InvoiceID": invoice_id,
                "InvoiceNumber": invoice["InvoiceNumber"],
                "Type": invoice["Type"],
                "Contact": dict(invoice["Contact"]),
                "CurrencyCode": invoice["CurrencyCode"],
            },
        }
        self._touch(payment)
        tenant.payments[payment_id] = payment
        invoice["AmountPaid"] += paid
        invoice["AmountDue"] -= paid
        if invoice["AmountDue"] == 0:
            invoice["Status"] = "PAID"
        self._touch(invoice)
        return payment_id

    # --- HTTP: logging, OAuth, connections -------------------------------------------------------

    @web.middleware
    async def _log(self, request: web.Request, handler: Any) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        call = Call(request.method, request.path, dict(request.query), headers, at=self.clock())
        self.calls.append(call)
        response: web.StreamResponse = await handler(request)
        call.status = response.status
        return response

    async def _authorize(self, request: web.Request) -> web.Response:
        """Xero's consent page, consenting at once for the first organisation."""
        q = request.query
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return web.json_response({"error": "unauthorized_client"}, status=400)
        code = self.issue_code(redirect_uri=q["redirect_uri"], scope=q.get("scope", ""))
        location = (
            q["redirect_uri"]
            + "?"
            + urlencode({"code": code, "scope": q.get("scope", ""), "state": q.get("state", "")})
        )
        raise web.HTTPFound(location)

    def _issue_tokens(self, tenants: tuple[str, ...], scope: str) -> dict[str, Any]:
        access, refresh = "at-" + uuid.uuid4().hex, "rt-" + uuid.uuid4().hex
        self._access[access] = (self.clock() + self.access_token_lifetime, tenants)
        body: dict[str, Any] = {
            "id_token": base64.urlsafe_b64encode(json.dumps({"sub": "user"}).encode()).decode(),
            "access_token": access,
            "expires_in": self.access_token_lifetime,
            "token_type": "Bearer",
            "scope": scope,
        }
        if "offline_access" in scope.split():
            self._refresh[refresh] = RefreshToken(tenants=tenants, scope=scope)
            body["refresh_token"] = refresh
        return body

    async def _token(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": "invalid_client"}, status=400)
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "authorization_code":
            entry = self._codes.pop(str(form.get("code", "")), None)  # single use
            if entry is None or entry[0] != form.get("redirect_uri"):
                return web.json_response({"error": "invalid_grant"}, status=400)
            return web.json_response(self._issue_tokens(entry[1], entry[2]))
        if grant == "refresh_token":
            token = self._refresh.get(str(form.get("refresh_token", "")))
            now = self.clock()
            if token is None or (
                token.retired_at is not None and now - token.retired_at > self.refresh_grace
            ):
                return web.json_response({"error": "invalid_grant"}, status=400)
            if token.retired_at is None:
                token.retired_at = now  # rotated: the old one keeps working for the grace period
            return web.json_response(self._issue_tokens(token.tenants, token.scope))
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    def _problem(self, status: int, title: str, detail: str) -> web.Response:
        body = {
            "Type": None,
            "Title": title,
            "Status": status,
            "Detail": detail,
            "Instance": str(uuid.uuid4()),
            "Extensions": {},
        }
        return web.json_response(body, status=status)

    def _bearer(self, request: web.Request) -> tuple[str, ...] | web.Response:
        header = request.headers.get("Authorization", "")
        entry = self._access.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if entry is None:
            return self._problem(401, "Unauthorized", "AuthenticationUnsuccessful")
        if self.clock() >= entry[0]:
            return self._problem(401, "Unauthorized", "TokenExpired: token expired")
        return entry[1]

    async def _connections(self, request: web.Request) -> web.Response:
        tenants = self._bearer(request)
        if isinstance(tenants, web.Response):
            return tenants
        return web.json_response(
            [
                {
                    "id": self.tenants[t].connection_id,
                    "authEventId": str(uuid.uuid5(uuid.NAMESPACE_URL, ",".join(tenants))),
                    "tenantId": t,
                    "tenantType": "ORGANISATION",
                    "tenantName": self.tenants[t].name,
                    "createdDateUtc": "2019-12-07T18:46:19.5165400",
                    "updatedDateUtc": "2019-12-07T18:46:19.5187840",
                }
                for t in tenants
            ]
        )

    # --- HTTP: the Accounting API ----------------------------------------------------------------

    def _limited(self, tenant: Tenant) -> web.Response | None:
        now = self.clock()
        for window, limit, period, problem in (
            (tenant.minute, self.minute_limit, 60.0, "minute"),
            (tenant.day, self.day_limit, 86400.0, "day"),
        ):
            while window and now - window[0] >= period:
                window.popleft()
            if len(window) >= limit:
                wait = max(1, math.ceil(period - (now - window[0])))
                return web.Response(
                    status=429, headers={"Retry-After": str(wait), "X-Rate-Limit-Problem": problem}
                )
        tenant.minute.append(now)
        tenant.day.append(now)
        return None

    async def _accounting(self, request: web.Request) -> web.Response:
        allowed = self._bearer(request)
        if isinstance(allowed, web.Response):
            return allowed
        tenant_id = request.headers.get("xero-tenant-id", "")
        if tenant_id not in allowed or tenant_id not in self.tenants:
            return self._problem(403, "Forbidden", "AuthenticationUnsuccessful")
        if self._scripted_429:
            retry_after = self._scripted_429.pop(0)
            return web.Response(
                status=429, headers={"Retry-After": f"{retry_after:g}", "X-Rate-Limit-Problem": "minute"}
            )
        tenant = self.tenants[tenant_id]
        limited = self._limited(tenant)
        if limited is not None:
            return limited
        resource, item_id = request.match_info["resource"], request.match_info.get("item_id")
        if request.method == "GET" and item_id is None and resource in ("Contacts", "Invoices", "Payments"):
            return self._list(request, resource, getattr(tenant, resource.lower()))
        if resource == "Contacts" and request.method in ("PUT", "POST"):
            body = json.loads(await request.text(), parse_float=Decimal)
            return self._save_contacts(tenant, body.get("Contacts") or [], item_id)
        return web.Response(status=404, text="The resource you're looking for cannot be found")

    def _envelope(self, key: str, items: list[dict[str, Any]]) -> web.Response:
        body = {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": "Tamio",
            "DateTimeUTC": xero_date(self._now_ms()),
            key: [
                {k: v for k, v in item.items() if not k.startswith("_") and v is not None} for item in items
            ],
        }
        return web.Response(text=dumps(body), content_type="application/json")

    def _list(self, request: web.Request, key: str, records: dict[str, dict[str, Any]]) -> web.Response:
        items = list(records.values())
        if key == "Contacts" and request.query.get("includeArchived", "").lower() != "true":
            items = [c for c in items if c["ContactStatus"] != "ARCHIVED"]
        since = parse_if_modified_since(request.headers.get("If-Modified-Since"))
        if since is not None:
            items = [i for i in items if i["_updated"] >= since.timestamp() * 1000]
        if "page" in request.query:
            page = max(1, int(request.query["page"]))
            items = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return self._envelope(key, items)

    def _validation(self, element: dict[str, Any], messages: list[str]) -> web.Response:
        body = {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": [{**element, "ValidationErrors": [{"Message": m} for m in messages]}],
        }
        return web.Response(status=400, text=dumps(body), content_type="application/json")

    def _save_contacts(
        self, tenant: Tenant, elements: list[dict[str, Any]], item_id: str | None
    ) -> web.Response:
        saved = []
        for element in elements:
            contact_id = item_id or element.get("ContactID")
            if contact_id is not None and contact_id not in tenant.contacts:
                return web.Response(status=404, text="The resource you're looking for cannot be found")
            name = element.get("Name", tenant.contacts[contact_id]["Name"] if contact_id else None)
            if not name or not str(name).strip():
                return self._validation(element, ["The contact name must be specified."])
            clash = any(
                c["Name"].strip().lower() == str(name).strip().lower()
                and c["ContactStatus"] == "ACTIVE"
                and cid != contact_id
                for cid, c in tenant.contacts.items()
            )
            if clash:
                return self._validation(
                    element,
                    [
                        f"The contact name {name} is already assigned to another contact. "
                        "The contact name must be unique across all active contacts."
                    ],
                )
            if contact_id is None:
                contact_id = self.add_contact(name=str(name), tenant_id=tenant.tenant_id)
            fields = {
                k: element[k]
                for k in ("Name", "EmailAddress", "FirstName", "LastName", "ContactStatus")
                if k in element
            }
            self.update_contact(contact_id, tenant_id=tenant.tenant_id, **fields)
            saved.append(tenant.contacts[contact_id])
        return self._envelope("Contacts", saved)


def parse_if_modified_since(value: str | None) -> datetime | None:
    """Xero takes a UTC timestamp ``yyyy-mm-ddThh:mm:ss`` (offsets honoured) or an HTTP date."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
