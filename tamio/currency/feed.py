"""Store ECB reference rates (parsed by ``tamio.currency.ecb``) as EUR-based exchange rates.

``import_ecb`` writes the server's feed (``account_id=None``, what the scheduler and an operator's
``tamio rates import`` do) or one account's own rates.

``RateFeed`` fetches the feed named by TAMIO_ECB_FEED_URL on the first need of a pair the rates
lack, instead of waiting for the daily job: an edge that meets a ``MissingExchangeRate`` (after
rolling its transaction back: no transaction stays open across the download) asks it, and when the
feed now holds both currencies it runs the request once more. A pair the feed does not have is not
asked for again for an hour.

    feed = RateFeed(settings.ecb_feed_url)
    if await feed.fetch_for(sessions, error):     # error: the MissingExchangeRate
        ...                                       # try the request again
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.currency.ecb import EcbFetchError, EcbFormatError, EcbRate, load_ecb_rates
from tamio.currency.service import PIVOT, upsert_rates
from tamio.errors import MissingExchangeRate

log = logging.getLogger("tamio.currency")

FIRST_NEED_TIMEOUT_SECONDS = 2.0  # a Slack command must be answered within 3 s
QUIET_SECONDS = 3600.0


async def import_ecb(db: AsyncSession, source: str, *, account_id: str | None = None) -> tuple[int, date | None]:
    rates = await load_ecb_rates(source)
    rows = [("EUR", r.currency, r.rate, r.rate_date) for r in rates]
    count = await upsert_rates(db, rows, source="ecb", account_id=account_id)
    return count, max((r.rate_date for r in rates), default=None)


class RateFeed:
    """The configured ECB feed, fetched when a conversion needs a pair the rates do not have."""

    def __init__(
        self, url: str | None, *, timeout_seconds: float = FIRST_NEED_TIMEOUT_SECONDS, clock: Callable[[], float] = time.monotonic,
        load: Callable[..., Awaitable[list[EcbRate]]] = load_ecb_rates,
    ) -> None:
        self.url, self.timeout_seconds, self.clock, self.load = url, timeout_seconds, clock, load
        self._asked: dict[tuple[str, str], float] = {}
        self._lock = asyncio.Lock()

    async def fetch_for(self, sessions: async_sessionmaker[AsyncSession], missing: MissingExchangeRate) -> bool:
        """Download the feed into the server's rates; True when it holds both currencies of the missing pair."""
        if not self.url or missing.currencies is None:
            return False
        pair = missing.currencies
        async with self._lock:  # one download for a burst of requests that all miss the same rates
            asked = self._asked.get(pair)
            if asked is not None and self.clock() - asked < QUIET_SECONDS:
                return False
            self._asked[pair] = self.clock()
            try:
                rates = await self.load(self.url, timeout_seconds=self.timeout_seconds)
            except (EcbFetchError, EcbFormatError) as exc:
                log.warning("no exchange rate for %s/%s, and the ECB feed could not be read: %s", *pair, exc)
                return False
            async with sessions() as db, db.begin():
                await upsert_rates(db, [(PIVOT, r.currency, r.rate, r.rate_date) for r in rates], source="ecb")
        known = {r.currency for r in rates} | {PIVOT}
        found = set(pair) <= known
        log.info("fetched the ECB feed on first need of %s/%s: %d rates%s", *pair, len(rates), "" if found else ", not that pair")
        return found
