"""What an accounting integration exchanges with Tamio, and the adapter every integration implements.

Tamio's sync code talks to Xero today and QuickBooks tomorrow through one small ``Protocol``
(``IntegrationAdapter``) and a few frozen records, so adding an integration means writing one
adapter module, never touching the core. Records carry the integration's own ids
(``external_id``); mapping them to Tamio entities is the job of ``IntegrationMapping``.

Pulls are paged and incremental: ``pull_contacts(since, page)`` returns a ``Page`` (a named tuple,
so ``items, has_more = await adapter.pull_contacts(since, 1)`` works) of what changed since
``since``. ``iterate_pages`` walks all pages:

    async for contacts in iterate_pages(adapter.pull_contacts, since=last_sync):
        ...

Errors are ``IntegrationError`` (a ``TamioError``, so every entry point can show it):

    IntegrationError           the integration answered something we cannot use (HTTP 502)
    ├── ReconnectRequired      the refresh token was refused or the organisation disconnected
    ├── AccessTokenExpired     the access token expired: refresh, then try again
    ├── RateLimited            the integration asks us to wait ``retry_after`` seconds
    └── DuplicateContact       another contact already has that name
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar

from tamio.errors import TamioError

InvoiceKind = Literal["receivable", "payable"]
InvoiceStatus = Literal["draft", "submitted", "authorised", "paid", "voided", "deleted"]
ContactStatus = Literal["active", "archived", "gdpr_request"]
PaymentStatus = Literal["authorised", "deleted"]

T = TypeVar("T")


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExternalContact:
    """A customer or supplier as the integration knows it."""

    external_id: str
    name: str
    email: str | None
    is_customer: bool
    is_supplier: bool
    updated_at: datetime
    contact_name: str | None = None  # the person to talk to, e.g. "Jo Bloggs" at "Acme Ltd"
    status: ContactStatus = "active"


@dataclass(frozen=True, slots=True)
class ContactDraft:
    """A contact Tamio wants the integration to hold: created when ``external_id`` is None,
    updated otherwise. Whether it is a customer or a supplier follows from its invoices."""

    name: str
    email: str | None = None
    contact_name: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExternalInvoice:
    """A sales invoice (``receivable``) or a bill (``payable``)."""

    external_id: str
    number: str | None
    kind: InvoiceKind
    contact_external_id: str
    contact_name: str
    issue_date: date | None
    due_date: date | None
    total: Decimal
    amount_due: Decimal
    amount_paid: Decimal
    currency: str
    currency_rate: Decimal | None
    status: InvoiceStatus
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ExternalPayment:
    """Money received against an invoice or paid against a bill."""

    external_id: str
    invoice_external_id: str | None  # None when it pays a credit note or an overpayment
    amount: Decimal
    currency: str | None
    currency_rate: Decimal | None
    date: date
    status: PaymentStatus
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TokenSet:
    """OAuth tokens for one connection. ``expires_at`` is aware UTC and refers to the access token."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    scope: str
    id_token: str | None = None

    def expires_within(self, seconds: float, *, now: datetime) -> bool:
        return (self.expires_at - now).total_seconds() <= seconds


class Page(NamedTuple, Generic[T]):
    """One page of a pull. ``has_more`` is False on the last page."""

    items: list[T]
    has_more: bool


# --- errors --------------------------------------------------------------------------------------


class IntegrationError(TamioError):
    status = 502
    title = "Integration error"


class ReconnectRequired(IntegrationError):
    """The integration no longer accepts our refresh token (or the organisation disconnected)."""

    status = 409
    title = "Reconnect required"


class AccessTokenExpired(IntegrationError):
    """The access token was refused; refreshing the token set and retrying is expected to work."""

    status = 401
    title = "Access token expired"


class RateLimited(IntegrationError):
    """The integration asks us to wait; a sync stops here and resumes after ``retry_after`` seconds."""

    status = 503
    title = "Rate limited"

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class DuplicateContact(IntegrationError):
    status = 409
    title = "Duplicate contact"

    def __init__(self, message: str, *, name: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.name = name


# --- the adapter ---------------------------------------------------------------------------------


class IntegrationAdapter(Protocol):
    """What the sync needs from an accounting integration. One adapter talks to one organisation."""

    integration_type: str  # "xero", "quickbooks": the value stored in IntegrationMapping

    async def connect(self, code: str, redirect_uri: str) -> TokenSet:
        """Exchange an authorisation code from the OAuth callback for tokens."""
        ...

    async def refresh(self, token_set: TokenSet) -> TokenSet:
        """Get a fresh token set; raises ``ReconnectRequired`` when the refresh token is refused."""
        ...

    async def pull_contacts(self, since: datetime | None, page: int = 1) -> Page[ExternalContact]: ...

    async def pull_invoices(self, since: datetime | None, page: int = 1) -> Page[ExternalInvoice]: ...

    async def pull_payments(self, since: datetime | None, page: int = 1) -> Page[ExternalPayment]: ...

    async def push_contact(self, contact: ContactDraft) -> ExternalContact:
        """Create (no ``external_id``) or update a contact; raises ``DuplicateContact``."""
        ...


PullPage = Callable[[datetime | None, int], Awaitable[Page[T]]]


async def iterate_pages(
    pull: PullPage[T], *, since: datetime | None, first_page: int = 1
) -> AsyncIterator[list[T]]:
    """Yield each page's items until the adapter says there are no more.

    A sync that stops on ``RateLimited`` can remember the page it was on and pass it as
    ``first_page`` when it resumes.
    """
    page = first_page
    while True:
        items, has_more = await pull(since, page)
        if items:
            yield items
        if not has_more:
            return
        page += 1
