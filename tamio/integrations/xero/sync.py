"""SyncService: two-way Xero sync for one account, resumable and idempotent.

Pulls walk Xero's pages (100 records each) stream by stream: clients, suppliers, invoices,
payments. Each page is applied (``tamio.integrations.xero.pull``) and the stream's position saved
in ``IntegrationConnection.sync_cursor`` in one committed transaction, so a sync stopped by Xero's
rate limit (``RateLimited``, after the adapter has waited out what ``Retry-After`` it could) or a
crash resumes at the next page, and re-applying a page changes nothing. A finished pass remembers
when it started; the next pull asks only for what changed since (``If-Modified-Since``). ``full``
starts every stream from the beginning.

Tokens come from ``TokenKeeper``: refreshed before expiry, refreshed and retried once when Xero
refuses one mid-sync, and a refused refresh marks the connection and tells the channel once.
A run that changed something, stopped early or failed is logged in ``xero_sync_logs``; a run that
found nothing new leaves no trace but the connection's ``last_sync_at``.

    service = SyncService(sessions, account_id=account.id, settings=settings, adapter=adapter, cipher=cipher, clock=utcnow)
    report = await service.sync()                       # or pull_clients_from_xero(), ...
    await service.push_client_to_xero(client.id)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.audit.service import AuditService
from tamio.config import Settings
from tamio.data.models import Client, ExpenseBucket
from tamio.errors import Conflict, TamioError, ValidationError
from tamio.integrations.base import (
    AccessTokenExpired,
    ContactDraft,
    ExternalContact,
    IntegrationError,
    Page,
    RateLimited,
    ReconnectRequired,
)
from tamio.integrations.connections import (
    ACTIVE,
    TokenKeeper,
    mark_needs_reconnect,
    require_connection,
)
from tamio.integrations.crypto import TokenCipher
from tamio.integrations.models import IntegrationConnection, XeroSyncLog
from tamio.integrations.service import IntegrationMappingService
from tamio.integrations.xero.client import XeroAdapter
from tamio.integrations.xero.invoices import apply_invoices, apply_payments
from tamio.integrations.xero.pull import PageContext, Tally, apply_contacts
from tamio.obligations.counterparties import get_client, get_expense

log = logging.getLogger(__name__)

INTEGRATION = "xero"
STREAMS = ("clients", "suppliers", "invoices", "payments")
LEASE = timedelta(minutes=30)  # a sync that dies leaves its lease to expire; the next one resumes
CLOCK_SKEW = timedelta(minutes=5)  # asked again since a little before the last pass: Xero's clock is not ours
T = TypeVar("T")


@dataclass(frozen=True)
class SyncReport:
    counts: dict[str, int]
    pages: int
    complete: bool
    resumed: bool
    errors: tuple[str, ...] = ()
    retry_after: float | None = None

    @property
    def changed(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        done = ", ".join(f"{what}: {n}" for what, n in sorted(self.counts.items()) if n) or "nothing new"
        text = f"Xero sync: {done} ({self.pages} pages{', resumed' if self.resumed else ''})."
        if not self.complete:
            text += f" Xero asked Tamio to slow down; the next sync carries on where this one stopped (in {self.retry_after or 60:.0f} s or later)."
        if self.errors:
            text += f" {len(self.errors)} records could not be applied: " + "; ".join(self.errors[:5])
        return text


@dataclass(frozen=True)
class StreamCursor:
    """Where one stream's pull stands, as kept in ``sync_cursor[stream]``."""

    since: datetime | None = None  # If-Modified-Since of the pass in progress (None: everything)
    page: int = 1  # the next page to fetch
    started_at: datetime | None = None  # when the pass in progress began
    in_progress: bool = False
    synced_until: datetime | None = None  # the start of the last finished pass: the next since

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> StreamCursor:
        data = data or {}

        def moment(key: str) -> datetime | None:
            return datetime.fromisoformat(data[key]) if data.get(key) else None

        return cls(moment("since"), int(data.get("page") or 1), moment("started_at"), bool(data.get("in_progress")), moment("synced_until"))

    def to_json(self) -> dict[str, Any]:
        def text(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "since": text(self.since), "page": self.page, "started_at": text(self.started_at),
            "in_progress": self.in_progress, "synced_until": text(self.synced_until),
        }

    def begin(self, *, full: bool, now: datetime) -> StreamCursor:
        """The pass to run: resume the one in progress (a full one even when not asked), or start one."""
        if self.in_progress and (not full or self.since is None):
            return self
        since = None if full or self.synced_until is None else self.synced_until - CLOCK_SKEW
        return StreamCursor(since, 1, now, True, self.synced_until)

    def after_page(self, *, has_more: bool) -> StreamCursor:
        if has_more:
            return StreamCursor(self.since, self.page + 1, self.started_at, True, self.synced_until)
        return StreamCursor(None, 1, None, False, self.started_at)


class SyncService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        account_id: str,
        settings: Settings,
        adapter: XeroAdapter,
        cipher: TokenCipher,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.account_id = account_id
        self.settings = settings
        self.adapter = adapter
        self.cipher = cipher
        self.clock = clock
        self._keeper: TokenKeeper | None = None
        self._connection_id: str | None = None
        self._holder = uuid.uuid4().hex

    # -- pulls ------------------------------------------------------------------------------------

    async def sync(self, *, full: bool = False) -> SyncReport:
        """Contacts, then invoices, then payments (payments need their invoices)."""
        return await self._run(STREAMS, full=full, label="all")

    async def pull_clients_from_xero(self, *, full: bool = False) -> SyncReport:
        return await self._run(("clients",), full=full, label="client")

    async def pull_suppliers_from_xero(self, *, full: bool = False) -> SyncReport:
        return await self._run(("suppliers",), full=full, label="expense_bucket")

    async def pull_invoices_from_xero(self, *, full: bool = False) -> SyncReport:
        return await self._run(("invoices", "payments"), full=full, label="invoice")

    async def _run(self, streams: Sequence[str], *, full: bool, label: str) -> SyncReport:
        started = self.clock()
        await self._prepare()
        await self._take_lease()
        tally, resumed, retry_after, failure = Tally(), False, None, None
        try:
            for stream in streams:
                resumed = await self._walk(stream, full=full, tally=tally) or resumed
        except RateLimited as exc:
            retry_after = exc.retry_after
        except TamioError as exc:
            failure = exc
        except BaseException:
            await self._release_lease()
            raise
        report = SyncReport(dict(tally.counts), tally.pages, retry_after is None and failure is None, resumed, tuple(tally.errors), retry_after)
        async with self.sessions() as db, db.begin():
            connection = await db.get(IntegrationConnection, self._connection_id)
            if connection is not None:
                if ((connection.sync_cursor or {}).get("lease") or {}).get("holder") == self._holder:
                    connection.sync_cursor = {k: v for k, v in connection.sync_cursor.items() if k != "lease"}
                if report.complete:
                    connection.last_sync_at = self.clock()
            if report.changed or report.errors or not report.complete:
                status = "failed" if failure else "success" if report.complete and not report.errors else "partial"
                db.add(XeroSyncLog(
                    user_id=self.account_id, direction="pull", entity_type=label, status=status,
                    records_processed=report.changed, error=str(failure) if failure else None,
                    details={"counts": report.counts, "pages": report.pages, "errors": list(report.errors[:50]), "resumed": resumed},
                    started_at=started, finished_at=self.clock(),
                ))
        if failure is not None:
            raise failure
        return report

    async def _walk(self, stream: str, *, full: bool, tally: Tally) -> bool:
        async with self.sessions() as db:
            connection = await db.get(IntegrationConnection, self._connection_id)
            stored = StreamCursor.from_json((connection.sync_cursor or {}).get(stream) if connection else None)
        cursor = stored.begin(full=full, now=self.clock())
        resumed = cursor is stored and cursor.in_progress
        pull = self._puller(stream)
        while True:
            since, number = cursor.since, cursor.page
            page: Page[Any] = await self._call(lambda: pull(since, number))  # noqa: B023 (awaited at once)
            async with self.sessions() as db, db.begin():
                connection = await self._leased(db)  # first: a sync that lost its lease applies nothing
                ctx = await PageContext.open(db, account_id=self.account_id, settings=self.settings, now=self.clock(), tally=tally)
                if page.items:
                    await self._apply(ctx, stream, page.items)
                cursor = cursor.after_page(has_more=page.has_more)
                connection.sync_cursor = {**(connection.sync_cursor or {}), stream: cursor.to_json(), "lease": self._lease()}
            tally.pages += 1
            if not page.has_more:
                return resumed

    # -- one sync at a time per account: a lease kept in the cursor, renewed with every page ----------

    def _lease(self) -> dict[str, str]:
        return {"holder": self._holder, "until": (self.clock() + LEASE).isoformat()}

    async def _leased(self, db: AsyncSession) -> IntegrationConnection:
        """The connection, locked; refuses when another sync holds an unexpired lease."""
        stmt = select(IntegrationConnection).where(IntegrationConnection.id == self._connection_id)
        if db.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        connection = (await db.execute(stmt)).scalars().one()
        lease = (connection.sync_cursor or {}).get("lease") or {}
        if lease.get("holder") not in (None, self._holder) and datetime.fromisoformat(lease["until"]) > self.clock():
            raise Conflict(
                "A Xero sync of this account is already running.", hint="Wait for it to finish; its results will show up."
            )
        return connection

    async def _take_lease(self) -> None:
        async with self.sessions() as db, db.begin():
            connection = await self._leased(db)
            connection.sync_cursor = {**(connection.sync_cursor or {}), "lease": self._lease()}

    async def _release_lease(self) -> None:
        async with self.sessions() as db, db.begin():
            connection = await db.get(IntegrationConnection, self._connection_id)
            if connection is not None and ((connection.sync_cursor or {}).get("lease") or {}).get("holder") == self._holder:
                connection.sync_cursor = {k: v for k, v in connection.sync_cursor.items() if k != "lease"}

    def _puller(self, stream: str) -> Callable[[datetime | None, int], Awaitable[Page[Any]]]:
        if stream in ("clients", "suppliers"):
            return self.adapter.pull_contacts
        return self.adapter.pull_invoices if stream == "invoices" else self.adapter.pull_payments

    @staticmethod
    async def _apply(ctx: PageContext, stream: str, items: list[Any]) -> None:
        if stream == "clients":
            await apply_contacts(ctx, items, "clients")
        elif stream == "suppliers":
            await apply_contacts(ctx, items, "suppliers")
        elif stream == "invoices":
            await apply_invoices(ctx, items)
        else:
            await apply_payments(ctx, items)

    # -- push -------------------------------------------------------------------------------------

    async def push_client_to_xero(self, client_id: str) -> ExternalContact:
        return await self._push("client", client_id)

    async def push_supplier_to_xero(self, expense_bucket_id: str) -> ExternalContact:
        return await self._push("expense_bucket", expense_bucket_id)

    async def _push(self, entity_type: str, entity_id: str) -> ExternalContact:
        """Create (PUT) or update (POST) the Xero contact, then the mapping, the legacy column and the logs."""
        await self._prepare()
        started = self.clock()
        async with self.sessions() as db:
            entity = await self._entity(db, entity_type, entity_id)
            mappings = IntegrationMappingService(db, account_id=self.account_id, integration_type=INTEGRATION, now=started)
            external_id = await mappings.external_id_of(entity_type, entity_id, "contact")
            draft = ContactDraft(name=entity.name, email=entity.contact_email, contact_name=entity.contact_name, external_id=external_id)
        try:
            contact = await self._call(lambda: self.adapter.push_contact(draft))
        except TamioError as exc:
            async with self.sessions() as db, db.begin():
                db.add(XeroSyncLog(
                    user_id=self.account_id, direction="push", entity_type=entity_type, status="failed", error=str(exc),
                    details={"entity_id": entity_id, "contact_id": external_id}, started_at=started, finished_at=self.clock(),
                ))
            raise
        async with self.sessions() as db, db.begin():
            now = self.clock()
            mappings = IntegrationMappingService(db, account_id=self.account_id, integration_type=INTEGRATION, now=now)
            # The pushed contact's stamp: the next pull skips it instead of echoing it back.
            await mappings.link(
                entity_type, entity_id, external_id=contact.external_id, external_type="contact",
                details={"updated_at": contact.updated_at.isoformat()},
            )
            action = "update" if external_id else "create"
            audit = AuditService(db, self.account_id, actor=INTEGRATION, clock=self.clock)
            await audit.log_sync(entity_type, entity_id, INTEGRATION, "push", {"contact_id": contact.external_id, "action": action})
            db.add(XeroSyncLog(
                user_id=self.account_id, direction="push", entity_type=entity_type, status="success", records_processed=1,
                details={"entity_id": entity_id, "contact_id": contact.external_id, "action": action},
                started_at=started, finished_at=now,
            ))
        return contact

    async def _entity(self, db: AsyncSession, entity_type: str, entity_id: str) -> Client | ExpenseBucket:
        if entity_type == "client":
            return await get_client(db, account_id=self.account_id, client_id=entity_id)
        if entity_type == "expense_bucket":
            return await get_expense(db, account_id=self.account_id, expense_id=entity_id)
        raise ValidationError(f"Tamio pushes clients and expense buckets to Xero, not {entity_type}.")

    # -- the connection and every call to Xero ----------------------------------------------------

    async def _prepare(self) -> None:
        if self._keeper is not None:
            return
        async with self.sessions() as db:
            connection = await require_connection(db, account_id=self.account_id, integration_type=INTEGRATION)
            if connection.status != ACTIVE:
                raise ReconnectRequired(
                    "Xero needs reconnecting before Tamio can sync again.", hint="Reconnect with `/tamio connect xero`."
                )
            if not connection.tenant_id:
                raise IntegrationError("No Xero organisation is chosen for this account.", hint="Reconnect with `/tamio connect xero`.")
            self._connection_id = connection.id
            self.adapter.use_tenant(connection.tenant_id)
        self._keeper = TokenKeeper(
            self.sessions, connection_id=connection.id, cipher=self.cipher, refresher=self.adapter.refresh, clock=self.clock
        )

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        """One Xero request with a fresh token; a refused token is refreshed and the request retried once."""
        assert self._keeper is not None
        self.adapter.access_token = await self._keeper.access_token()
        try:
            return await request()
        except AccessTokenExpired:
            self.adapter.access_token = await self._keeper.refresh_after_refusal(self.adapter.access_token)
            return await request()
        except ReconnectRequired as exc:  # Xero answered 403: the organisation let Tamio go
            async with self.sessions() as db, db.begin():
                connection = await db.get(IntegrationConnection, self._connection_id)
                if connection is not None:
                    await mark_needs_reconnect(db, connection=connection, cipher=self.cipher, now=self.clock(), reason=str(exc))
            raise


def build_adapter(http: aiohttp.ClientSession, settings: Settings, **options: Any) -> XeroAdapter:
    """A XeroAdapter configured from the settings (the CLI, the job and the callback route use it)."""
    if not settings.xero_client_id or not settings.xero_client_secret:
        raise ValidationError("Xero is not configured.", hint="Set XERO_CLIENT_ID and XERO_CLIENT_SECRET.")
    return XeroAdapter(
        http, tenant_id=None, access_token=None, client_id=settings.xero_client_id,
        client_secret=settings.xero_client_secret, api_base=settings.xero_api_base,
        identity_base=settings.xero_identity_base, **options,
    )


async def sync_connected_accounts(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    http: aiohttp.ClientSession,
    clock: Callable[[], datetime],
    **adapter_options: Any,
) -> dict[str, SyncReport | str]:
    """The daily job: sync every account with an active Xero connection; one failing account never
    stops the rest. Returns each account's report, or what stopped it."""
    async with sessions() as db:
        stmt = select(IntegrationConnection.user_id).where(
            IntegrationConnection.integration_type == INTEGRATION, IntegrationConnection.status == ACTIVE
        )
        accounts = list((await db.execute(stmt)).scalars().all())
    cipher = TokenCipher.from_settings(settings)
    results: dict[str, SyncReport | str] = {}
    for account_id in accounts:
        service = SyncService(sessions, account_id=account_id, settings=settings, adapter=build_adapter(http, settings, **adapter_options), cipher=cipher, clock=clock)
        try:
            results[account_id] = await service.sync()
        except TamioError as exc:
            results[account_id] = str(exc)
            log.warning("Xero sync of account %s stopped: %s", account_id, exc)
        except Exception:
            results[account_id] = "unexpected error"
            log.exception("Xero sync of account %s failed", account_id)
    return results
