"""What a CLI command gets: the settings, the database and the clock, each read once."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.accounts.service import resolve_account
from tamio.config import Settings
from tamio.dates import read_date
from tamio.db import create_engine, make_session_factory, read_only, utcnow
from tamio.errors import ValidationError
from tamio.server_secret import ServerSecret, local_secret


@dataclass
class CliContext:
    settings: Settings
    account_id: str | None = None
    _engine: AsyncEngine | None = field(default=None, repr=False)
    _sessions: async_sessionmaker[AsyncSession] | None = field(default=None, repr=False)
    now: datetime = field(default_factory=utcnow)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            self._engine = create_engine(self.settings.database_url)
            self._sessions = make_session_factory(self._engine, self.secret())
        return self._sessions

    def secret(self) -> ServerSecret | None:
        """TAMIO_SECRET_KEY, or for a SQLite file without it the local key beside the file (made on first use)."""
        if self.settings.secret_key is not None:
            return ServerSecret.parse(self.settings.secret_key)
        local = local_secret(self.settings.database_url)
        return ServerSecret.parse(local, name=f"the key file beside {self.settings.database_url}") if local else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def account(self, session: AsyncSession) -> Account:
        return await resolve_account(session, account_id=self.account_id)

    def today(self, account: Account) -> date:
        return self.now.astimezone(ZoneInfo(account.timezone)).date()

    async def drain_refreshes(self) -> None:
        """Work out again the figures of the account this command worked on (there is maybe no server
        running to do it): the alerts and cards the next command shows match what was just done. Only
        that account's (``--account``; else the only one there is): a command never runs another
        tenant's pipeline."""
        if self._sessions is None:
            return  # the command never opened the database
        from tamio.refresh.service import waiting  # start-up cost

        account_ids = [self.account_id] if self.account_id else None
        async with self.sessions() as db:
            read_only(db)
            if not await waiting(db, limit=1, account_ids=account_ids):
                return  # nothing to work out: the pipeline is not even imported
        from tamio.cli.status import working  # start-up cost: only when there is a refresh to drain
        from tamio.scheduler.refresh import drain_refreshes  # start-up cost: the pipeline, only when asked

        # After a large import this is most of the command's time: a terminal says what it is doing.
        with working("Updating the forecast, alerts and cards"):
            await drain_refreshes(self.sessions, now=self.now, settings=self.settings, account_ids=account_ids)

    async def current_figures(self) -> None:
        """Before showing the account's alerts or cards: its waiting refresh answered (a change made in
        Slack or the API a moment ago, before the server's loop came round), through the same core
        function as Slack and the API (``tamio.scheduler.refresh.up_to_date``)."""
        from tamio.refresh.service import waiting  # start-up cost

        async with self.sessions() as db:
            read_only(db)
            account = await self.account(db)
            if not await waiting(db, limit=1, account_ids=[account.id]):
                return  # nothing to work out: the pipeline is not even imported
        from tamio.cli.status import working  # start-up cost: only when there is a refresh to answer
        from tamio.scheduler.refresh import up_to_date  # start-up cost: the pipeline, only when asked

        with working("Updating the forecast, alerts and cards"):
            await up_to_date(self.sessions, account_id=account.id, now=self.now, settings=self.settings)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()


def date_argument(text: str) -> date:
    """A date on the command line, read (and refused) as everywhere else: ``tamio.dates.read_date``."""
    try:
        return read_date(text)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
