"""``XeroAdapter``: Tamio's ``IntegrationAdapter`` over Xero's Accounting API (``/api.xro/2.0``).

It pulls contacts, invoices (ACCREC = receivable, ACCPAY = payable) and payments a page of 100 at
a time, only what changed since ``since`` (Xero's ``If-Modified-Since`` header), and creates or
updates contacts. It is polite with Xero's limits: a sliding window over the injected ``clock``
keeps each organisation under 60 calls a minute, a 429 is waited out (``Retry-After``) and
retried, and after ``max_retries`` (or on the daily limit) it raises ``RateLimited`` so the sync
can stop and resume later. Amounts are parsed as ``Decimal`` straight from the JSON text.

    adapter = XeroAdapter(session, tenant_id=None, access_token=None, client_id=..., client_secret=...,
                          now=clock)
    tokens = await adapter.connect(code, redirect_uri)        # the OAuth callback
    adapter.use_tenant(choose_tenant(await adapter.connections()).tenant_id)
    contacts, has_more = await adapter.pull_contacts(since=None, page=1)

The adapter keeps no database state: storing the token set and the sync position is the caller's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp

from tamio.integrations.base import (
    AccessTokenExpired,
    ContactDraft,
    DuplicateContact,
    ExternalContact,
    ExternalInvoice,
    ExternalPayment,
    IntegrationAdapter,
    IntegrationError,
    Page,
    RateLimited,
    ReconnectRequired,
    TokenSet,
)
from tamio.integrations.xero import oauth
from tamio.integrations.xero.ratelimit import TenantRateLimiter
from tamio.integrations.xero.records import (
    contact_from_xero,
    contact_to_xero,
    format_if_modified_since,
    invoice_from_xero,
    payment_from_xero,
)

ACCOUNTING_PATH = "/api.xro/2.0"
PAGE_SIZE = 100  # Xero's page size; a shorter page is the last one
DEFAULT_RETRY_AFTER = 60.0  # when a 429 comes without a usable Retry-After


class XeroAdapter:
    integration_type = "xero"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        tenant_id: str | None,
        access_token: str | None,
        client_id: str,
        client_secret: str,
        api_base: str = oauth.API_BASE,
        identity_base: str = oauth.IDENTITY_BASE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime],
        max_calls_per_minute: int = 60,
        max_retries: int = 5,
        max_retry_wait: float = 120.0,
        limiter: TenantRateLimiter | None = None,
    ) -> None:
        self._session = session
        self.tenant_id = tenant_id
        self.access_token = access_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._api_base = api_base.rstrip("/")
        self._identity_base = identity_base.rstrip("/")
        self._sleep = sleep
        self._now = now
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.limiter = limiter or TenantRateLimiter(
            max_calls=max_calls_per_minute, period=60.0, clock=clock, sleep=sleep
        )

    # --- connection ------------------------------------------------------------------------------

    async def connect(self, code: str, redirect_uri: str) -> TokenSet:
        tokens = await oauth.exchange_code(
            self._session,
            code=code,
            redirect_uri=redirect_uri,
            client_id=self._client_id,
            client_secret=self._client_secret,
            now=self._now(),
            identity_base=self._identity_base,
        )
        self.access_token = tokens.access_token
        return tokens

    async def refresh(self, token_set: TokenSet) -> TokenSet:
        tokens = await oauth.refresh_token_set(
            self._session,
            token_set,
            client_id=self._client_id,
            client_secret=self._client_secret,
            now=self._now(),
            identity_base=self._identity_base,
        )
        self.access_token = tokens.access_token
        return tokens

    async def connections(self) -> list[oauth.XeroTenant]:
        return await oauth.list_connections(self._session, self._require_token(), api_base=self._api_base)

    def use_tenant(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    # --- pulls -----------------------------------------------------------------------------------

    async def pull_contacts(self, since: datetime | None, page: int = 1) -> Page[ExternalContact]:
        # Archived contacts are included so that archiving in Xero reaches Tamio.
        body = await self._get("/Contacts", page=page, since=since, extra={"includeArchived": "true"})
        items = _list(body, "Contacts")
        return Page([contact_from_xero(item) for item in items], len(items) >= PAGE_SIZE)

    async def pull_invoices(self, since: datetime | None, page: int = 1) -> Page[ExternalInvoice]:
        body = await self._get("/Invoices", page=page, since=since)
        items = _list(body, "Invoices")
        return Page([invoice_from_xero(item) for item in items], len(items) >= PAGE_SIZE)

    async def pull_payments(self, since: datetime | None, page: int = 1) -> Page[ExternalPayment]:
        body = await self._get("/Payments", page=page, since=since)
        items = _list(body, "Payments")
        return Page([payment_from_xero(item) for item in items], len(items) >= PAGE_SIZE)

    # --- push ------------------------------------------------------------------------------------

    async def push_contact(self, contact: ContactDraft) -> ExternalContact:
        """PUT /Contacts creates; POST /Contacts/{ContactID} updates the fields given."""
        payload = {"Contacts": [contact_to_xero(contact)]}
        if contact.external_id:
            body = await self._request("POST", f"/Contacts/{contact.external_id}", json_body=payload)
        else:
            body = await self._request("PUT", "/Contacts", json_body=payload)
        items = _list(body, "Contacts")
        if not items:
            raise IntegrationError("Xero accepted the contact but sent none back.")
        return contact_from_xero(items[0])

    # --- HTTP ------------------------------------------------------------------------------------

    def _require_token(self) -> str:
        if not self.access_token:
            raise AccessTokenExpired("There is no Xero access token yet.", hint="Connect or refresh first.")
        return self.access_token

    async def _get(
        self, path: str, *, page: int, since: datetime | None, extra: Mapping[str, str] | None = None
    ) -> Any:
        if page < 1:
            raise ValueError("Xero pages start at 1")
        params = {"page": str(page), **(extra or {})}
        headers = {"If-Modified-Since": format_if_modified_since(since)} if since is not None else {}
        return await self._request("GET", path, params=params, headers=headers)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> Any:
        tenant_id = self.tenant_id
        if not tenant_id:
            raise IntegrationError("No Xero organisation is chosen for this connection.")
        url = f"{self._api_base}{ACCOUNTING_PATH}{path}"
        attempt = 0
        while True:
            await self.limiter.acquire(tenant_id)
            request_headers = {
                "Authorization": f"Bearer {self._require_token()}",
                "xero-tenant-id": tenant_id,
                "Accept": "application/json",
                **(headers or {}),
            }
            try:
                async with self._session.request(
                    method, url, params=params, headers=request_headers, json=json_body, timeout=oauth.TIMEOUT
                ) as response:
                    status = response.status
                    text = await response.text()
                    retry_after = _seconds(response.headers.get("Retry-After"))
                    problem = (response.headers.get("X-Rate-Limit-Problem") or "").lower()
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise IntegrationError(f"I couldn't reach Xero ({exc.__class__.__name__}).") from exc

            if status == 429:
                wait = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER
                if problem == "day" or wait > self.max_retry_wait or attempt >= self.max_retries:
                    raise RateLimited(
                        f"Xero asks Tamio to slow down ({problem or 'rate'} limit).",
                        retry_after=wait,
                        hint="The sync will carry on where it stopped.",
                    )
                attempt += 1
                await self._sleep(wait)
                continue
            return _answer(status, text, method=method, path=path, json_body=json_body)


if TYPE_CHECKING:  # mypy checks that XeroAdapter really is an IntegrationAdapter

    def _conforms(adapter: XeroAdapter) -> IntegrationAdapter:
        return adapter


def _answer(status: int, text: str, *, method: str, path: str, json_body: Any) -> Any:
    """The parsed body of a successful answer, or the error Tamio can act on."""
    body = _parse(text)
    if 200 <= status < 300:
        return body if body is not None else {}
    if status == 304:
        return {}
    if status == 401:
        raise AccessTokenExpired(
            "Xero refused the access token.", hint="Refresh the token set and try again."
        )
    if status == 403:
        raise ReconnectRequired(
            "Xero no longer lets Tamio reach this organisation.",
            hint="An admin reconnects it with `/tamio connect xero` and allows access to contacts, invoices and payments.",
        )
    if status == 400 and isinstance(body, dict) and body.get("Type") == "ValidationException":
        messages = _validation_messages(body)
        if any("contact name" in m.lower() and "already assigned" in m.lower() for m in messages):
            name = _pushed_name(json_body)
            raise DuplicateContact(
                f"Xero already has a contact called {name!r}.",
                name=name,
                hint="Use that contact, or give this one a different name.",
            )
        raise IntegrationError(
            "Xero refused the change: " + ("; ".join(messages) or "validation failed") + "."
        )
    if status == 404:
        raise IntegrationError(f"Xero has no {path.strip('/').split('/')[0].lower()} at {method} {path}.")
    detail = (body.get("Detail") or body.get("Message")) if isinstance(body, dict) else None
    raise IntegrationError(
        f"Xero answered HTTP {status} to {method} {path}" + (f": {detail}." if detail else ".")
    )


def _parse(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError:
        return None


def _list(body: Any, key: str) -> list[Mapping[str, Any]]:
    items = body.get(key, []) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise IntegrationError(f"Xero's answer has no {key} list.")
    return [item for item in items if isinstance(item, dict)]


def _validation_messages(body: Mapping[str, Any]) -> list[str]:
    messages: list[str] = []
    for element in body.get("Elements") or []:
        for error in (element or {}).get("ValidationErrors") or []:
            if isinstance(error, dict) and error.get("Message"):
                messages.append(str(error["Message"]))
    if not messages and body.get("Message"):
        messages.append(str(body["Message"]))
    return messages


def _pushed_name(json_body: Any) -> str:
    try:
        return str(json_body["Contacts"][0]["Name"])
    except (KeyError, IndexError, TypeError):
        return ""


def _seconds(value: str | None) -> float | None:
    """Retry-After in seconds (Xero sends whole seconds)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
