"""Failures on purpose, for the reliability tests: rate limits, server errors and dropped answers.

Slack fails in three ways an outbox must survive: ``429`` with ``Retry-After`` (nothing was done),
``5xx`` (nothing was done), and a connection that breaks after Slack did the work (the message is
posted, but the client sees a network error; retrying blindly posts it twice). A plan decides, per
call, whether and how the stand-in fails:

    plan = FailurePlan()
    plan.fail_next(2, status=429, retry_after=1, method="chat.postMessage")
    plan.failure_rate(0.2, seed=7, kinds=("500", "drop"))
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

STATUS_ERRORS = {429: "ratelimited", 500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}


@dataclass(frozen=True)
class Failure:
    kind: str  # an HTTP status ("429", "500", ...) or "drop"
    retry_after: int
    method: str | None


class FailurePlan:
    """Failures queued with ``fail_next`` come first, then random ones at ``failure_rate``."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []  # (method, kind) of each failure served
        self._pending: list[Failure] = []
        self._rate = 0.0
        self._kinds: tuple[str, ...] = ()
        self._methods: frozenset[str] | None = None
        self._random = random.Random(0)

    def fail_next(
        self, n: int = 1, status: int | Literal["drop"] = 429, retry_after: int = 1, method: str | None = None
    ) -> None:
        self._pending += [Failure(str(status), retry_after, method) for _ in range(n)]

    def failure_rate(
        self,
        p: float,
        seed: int = 0,
        kinds: tuple[str, ...] = ("429", "500", "drop"),
        methods: tuple[str, ...] | None = None,
    ) -> None:
        unknown = [kind for kind in kinds if kind != "drop" and not kind.isdigit()]
        if unknown or not 0 <= p <= 1:
            raise ValueError(
                f"failure_rate wants 0 <= p <= 1 and kinds like '429', '500', 'drop'; got {p}, {kinds}"
            )
        self._rate, self._kinds = p, kinds
        self._methods = frozenset(methods) if methods else None
        self._random = random.Random(seed)

    def take(self, method: str) -> Failure | None:
        for index, failure in enumerate(self._pending):
            if failure.method in (None, method):
                return self._pending.pop(index)
        if self._rate and (self._methods is None or method in self._methods):
            if self._random.random() < self._rate:
                return Failure(self._random.choice(self._kinds), 1, None)
        return None

    def serve(self, request: web.Request, method: str, answer: Callable[[], web.Response]) -> web.Response:
        """The answer to this call, or the failure planned for it."""
        failure = self.take(method)
        if failure is None:
            return answer()
        self.log.append((method, failure.kind))
        if failure.kind == "drop":
            response = answer()  # Slack did the work ...
            if request.transport is not None:
                request.transport.close()  # ... but the answer never arrives
            return response
        status = int(failure.kind)
        headers = {"Retry-After": str(failure.retry_after)} if status == 429 else {}
        body = {"ok": False, "error": STATUS_ERRORS.get(status, "fatal_error")}
        return web.json_response(body, status=status, headers=headers)
