"""What every listener works with: the settings, the database, the clock, and work after the ack.

Bolt's global middleware runs *before* the listeners (its ``next()`` only sets a flag), so the
session a listener uses cannot live in an ``async with`` inside the middleware. Instead the
middleware (``bot.workspace``) opens a ``Scope`` and puts it in the context; the listener boundary
(``bot.boundary``) commits it before the ack is sent and ``TamioApp.async_dispatch`` closes it
whatever happens. Slow work runs after the response as a tracked task with its own session, with
the account and member loaded again *by the ids the verified request resolved*, never by ids taken
from a payload:

    @handler
    async def forecast(scope: Scope, ...):
        scope.later(render_and_upload)   # runs after the commit and the ack, in its own scope

``Runtime.drain()`` waits for those tasks (tests, shutdown). Who a (team, user) is stays known for a
few seconds (``bot.known.KnownWorkspaces``); ``Scope.fresh``/``Scope.require`` reload both before
anything changes.

A listener that only reads says so before its first query (``scope.read_only()``): its transaction
is then a plain ``BEGIN`` on SQLite, which never queues behind a writer (every other transaction
takes the write lock up front), and ``READ ONLY`` on PostgreSQL; a write in it fails on both.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.known import KnownWorkspaces
from tamio.accounts.models import Account, Member
from tamio.accounts.permissions import Operation
from tamio.accounts.service import require_permission
from tamio.config import Settings
from tamio.currency.feed import RateFeed
from tamio.db import read_only, utcnow
from tamio.errors import Conflict, NotFound, TamioError
from tamio.scheduler.models import SlackEventReceipt
from tamio.scheduler.refresh import up_to_date

log = logging.getLogger("tamio.bot")

Clock = Callable[[], datetime]
ACK_DEADLINE_S = 2.0


@dataclass(frozen=True)
class Caller:
    """Who sent a verified request and where to answer; safe to keep after the request ends."""

    team_id: str
    enterprise_id: str | None
    account_id: str
    user_id: str | None = None
    member_id: str | None = None
    channel_id: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    app_id: str | None = None
    channel_name: str | None = None  # as Slack names it in the request ("directmessage" for a DM)


@dataclass
class Scope:
    """One unit of work: a session, the resolved account and member, and the time it started."""

    runtime: Runtime
    db: AsyncSession
    account: Account
    member: Member | None
    now: datetime
    caller: Caller
    client: AsyncWebClient
    _after_commit: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    _changed_workspace: bool = False
    _reading: bool = False
    remember_as: tuple[str, str | None, str | None] | None = None  # cache the account and member once committed
    request_key: str | None = None  # the signed request's identity (bot.gate): recorded with its first write

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.account.timezone)).date()

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    async def fresh(self) -> None:
        """Reload the account and member: before any change, roles and thresholds are never stale."""
        await self.db.refresh(self.account)
        if self.member is not None:
            await self.db.refresh(self.member)

    async def restart(self) -> None:
        """After a rollback, before running the listener again: reload the account and member, or find
        (and make) them again when the rolled-back transaction was the one that created them."""
        if all(row is None or sa_inspect(row).persistent for row in (self.account, self.member)):
            await self.fresh()
            return
        if self.runtime.resolve is None:
            raise RuntimeError("this Runtime was made without a resolve function: it cannot restart a request")
        name = sa_inspect(self.account).dict.get("name") or f"Slack workspace {self.caller.team_id}"  # no lazy load
        self.account, self.member = await self.runtime.resolve(
            self.db, self.client, self.settings, team_id=self.caller.team_id, enterprise_id=self.caller.enterprise_id,
            user_id=self.caller.user_id, name=name, now=self.now,
        )
        self.caller = replace(self.caller, account_id=self.account.id, member_id=self.member.id if self.member else None)

    def read_only(self) -> None:
        """This listener only reads: its transaction never waits for a writer and cannot write.

        Call it before the first query. A transaction the middleware already started (an event's
        receipt, a first request creating the account) stays a writing one until it commits.
        """
        read_only(self.db)
        self._reading = True

    async def current_figures(self) -> bool:
        """Before the account's alerts or cards are shown: the changes already made are in them
        (``tamio.scheduler.refresh.up_to_date``, as in the API and the CLI). The listener's transaction
        ends first, so what it reads next is what the refresh wrote. A long refresh does not hold
        Slack's ack: the app answers "Working on it…" at its deadline and this answer follows through
        the response URL (``bot.app.TamioApp``). False when the figures may be behind."""
        await self.commit()
        return await up_to_date(self.runtime.sessions, account_id=self.account.id, now=self.now, settings=self.settings,
                                wake=self.runtime.wake_delivery)

    def changed_workspace(self) -> None:
        """Roles or account settings changed: this process forgets what it knew once this commits."""
        self._changed_workspace = True

    async def require(self, operation: Operation, doing: str) -> None:
        """The member's current role allows ``operation`` (tamio.accounts.permissions), or a
        PermissionDenied saying, in the words of ``doing``, how to get it otherwise."""
        await self.fresh()
        require_permission(self.member, operation, doing)

    def later(self, work: Callable[[Scope], Awaitable[None]], *, name: str = "") -> None:
        """Run ``work`` after this scope commits, in a fresh scope for the same caller.

        ``work`` should ``await scope.commit()`` once its database part is done and before calling
        Slack: a transaction must never stay open across a network call (on SQLite every
        transaction holds the write lock).
        """

        async def run() -> None:
            await self.runtime.run_for(self.caller, self.client, work, name=name or getattr(work, "__name__", "work"))

        self._after_commit.append(run)

    def after_commit(self, coroutine_factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start a coroutine (e.g. an ephemeral reply) once this scope has committed."""
        self._after_commit.append(coroutine_factory)

    async def commit(self) -> None:
        if self.db.in_transaction():
            if self.request_key is not None and not self._reading:
                await self._record_request()
            await self.db.commit()
        if self._changed_workspace:
            self.runtime.workspaces.forget(self.account.id)
            self._changed_workspace = False
        elif self.remember_as is not None:
            self.runtime.workspaces.put(self.remember_as, self.account, self.member)
        self.remember_as = None
        if not self._reading:  # a read-only transaction queued nothing for the outbox
            self.runtime.wake_delivery()
        pending, self._after_commit = self._after_commit, []
        for factory in pending:
            self.runtime.spawn(factory(), name="after-commit")

    async def _record_request(self) -> None:
        """Record the request with what it changes: the same request again (a replay to another replica,
        or after a restart) finds the receipt and changes nothing."""
        key, self.request_key = self.request_key, None
        assert key is not None
        if not await first_receipt(self.db, event_id=key, team_id=self.caller.team_id, now=self.now):
            raise Conflict("This request was already handled, so nothing was changed.")

    async def rollback(self) -> None:
        self._after_commit = []
        if self.db.in_transaction():
            await self.db.rollback()

    async def close(self) -> None:
        await self.rollback()
        await self.db.close()


async def first_receipt(db: AsyncSession, *, event_id: str, team_id: str | None, now: datetime) -> bool:
    """Record an event id (or a request's identity); False when it was seen before (a retry or a replay)."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(SlackEventReceipt)
        .values(event_id=event_id, team_id=team_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    result = await db.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


ErrorReporter = Callable[[Caller, AsyncWebClient, BaseException, str | None], Awaitable[None]]
# bot.workspace.resolve: the account and member of a request, found or made (keyword arguments)
Resolver = Callable[..., Awaitable[tuple[Account, Member | None]]]


class Runtime:
    """The app's dependencies and its background tasks.

    The modules above this one hand it what it calls back (``bot.app`` passes them): how a request's
    account and member are found again after a rollback (``bot.workspace.resolve``) and how work done
    after the ack tells the caller of a failure (``bot.boundary.report_error``).
    """

    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock | None = None, *,
        resolve: Resolver | None = None, report_error: ErrorReporter | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock: Clock = clock or utcnow
        self._tasks: set[asyncio.Task[None]] = set()
        self.resolve = resolve
        self.report_error = report_error
        self.delivery_wakeup: asyncio.Event | None = None  # set by a running delivery worker
        self.workspaces = KnownWorkspaces()
        # Clicks whose listener only acks (a radio choice, a link button): no database work for them.
        self.ack_only_actions: set[str] = set()
        # A listener not done by then (waiting for the database's write lock, say) acks "Working on it…"
        # and answers through the response URL when it is: Slack gives an ack 3 seconds.
        self.ack_deadline_s = ACK_DEADLINE_S
        self.rate_feed = RateFeed(settings.ecb_feed_url)  # fetched when a conversion lacks a rate

    def wake_delivery(self) -> None:
        """Tell the outbox worker to look now (a commit may have added messages)."""
        if self.delivery_wakeup is not None:
            self.delivery_wakeup.set()

    def spawn(self, coroutine: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self._guard(coroutine, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception:
            correlation = uuid.uuid4().hex[:12]
            log.exception("background task %s failed (correlation id %s)", name, correlation)

    async def drain(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 (a deadline for the loop, not one call)
        """Wait until no background task is left (tasks may start others)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._tasks)} background tasks still running")
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @asynccontextmanager
    async def scope_for(self, caller: Caller, client: AsyncWebClient) -> AsyncIterator[Scope]:
        """A fresh committed-on-success scope for a caller resolved earlier by a verified request."""
        async with self.sessions() as db:
            account = await db.get(Account, caller.account_id)
            if account is None:
                raise NotFound("This workspace's Tamio account no longer exists.")
            member = None
            if caller.member_id is not None:
                member = await db.get(Member, caller.member_id)
                if member is not None and member.user_id != account.id:
                    member = None
            scope = Scope(self, db, account, member, self.clock(), caller, client)
            try:
                yield scope
                await scope.commit()
            finally:
                await scope.close()

    async def run_for(self, caller: Caller, client: AsyncWebClient, work: Callable[[Scope], Awaitable[None]], *, name: str) -> None:
        """The error boundary of work done after the ack: the caller hears about failures."""
        try:
            async with self.scope_for(caller, client) as scope:
                await work(scope)
        except Exception as error:
            correlation: str | None = None
            if not isinstance(error, TamioError):
                correlation = uuid.uuid4().hex[:12]
                log.exception("%s failed after the ack (correlation id %s)", name, correlation)
            if self.report_error is not None:
                try:
                    await self.report_error(caller, client, error, correlation)
                except Exception:
                    log.exception("could not tell the caller about a failure of %s", name)
