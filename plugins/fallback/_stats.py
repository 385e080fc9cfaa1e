"""What this process has observed about models and providers, for the routing strategy and the
retry budget. Touched only from the proxy's event loop (hooks), so no locks; all per process.

- time to first byte per model: a moving window of the last `LATENCY_WINDOW` successful calls;
- calls in flight per provider (an attempt counts from `gateway_prepare_attempt` to its end);
- health: `UNHEALTHY_AFTER` consecutive failures of a model put it last for `COOL_DOWN` seconds;
- rate limits: a model that answered 429 with Retry-After is skipped until then;
- the retry budget: calls currently retrying ≤ max(`BUDGET_MIN`, `BUDGET_PERCENT` × active calls),
  so a provider outage cannot multiply the load on the next provider (Envoy's retry budget).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

LATENCY_WINDOW = 20
UNHEALTHY_AFTER = 3
COOL_DOWN = 30.0
MAX_RETRY_AFTER = 300.0  # a provider asking for more is not trusted beyond five minutes
BUDGET_PERCENT = 0.20
BUDGET_MIN = 3


class Stats:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._ttfb: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self._unhealthy_until: dict[str, float] = {}
        self._limited_until: dict[str, float] = {}
        self.active: set[str] = set()
        self.retrying: set[str] = set()
        self.refused_retries = 0
        self.last_refusal_log = float("-inf")

    # -- observations ---------------------------------------------------------------------------

    def success(self, model: str, ttfb: float | None) -> None:
        self._failures.pop(model, None)
        self._unhealthy_until.pop(model, None)
        if ttfb is not None and ttfb >= 0:
            self._ttfb.setdefault(model, deque(maxlen=LATENCY_WINDOW)).append(ttfb)

    def failure(self, model: str, retry_after: float | None = None) -> None:
        count = self._failures.get(model, 0) + 1
        self._failures[model] = count
        now = self.clock()
        if count >= UNHEALTHY_AFTER:
            self._unhealthy_until[model] = now + COOL_DOWN
        if retry_after is not None and retry_after > 0:
            self._limited_until[model] = now + min(retry_after, MAX_RETRY_AFTER)

    def attempt_started(self, provider: str) -> None:
        self._in_flight[provider] = self._in_flight.get(provider, 0) + 1

    def attempt_ended(self, provider: str) -> None:
        left = self._in_flight.get(provider, 0) - 1
        if left > 0:
            self._in_flight[provider] = left
        else:
            self._in_flight.pop(provider, None)

    # -- questions the strategy asks ------------------------------------------------------------

    def mean_ttfb(self, model: str) -> float | None:
        window = self._ttfb.get(model)
        return sum(window) / len(window) if window else None

    def in_flight(self, provider: str) -> int:
        return self._in_flight.get(provider, 0)

    def unhealthy(self, model: str) -> bool:
        return self._expired_check(self._unhealthy_until, model)

    def rate_limited(self, model: str) -> bool:
        return self._expired_check(self._limited_until, model)

    def _expired_check(self, table: dict[str, float], model: str) -> bool:
        until = table.get(model)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del table[model]
        return False

    # -- the retry budget -----------------------------------------------------------------------

    def call_started(self, call_id: str) -> None:
        self.active.add(call_id)

    def call_ended(self, call_id: str) -> None:
        self.active.discard(call_id)
        self.retrying.discard(call_id)

    def budget(self) -> int:
        return max(BUDGET_MIN, int(len(self.active) * BUDGET_PERCENT))

    def allow_retry(self, call_id: str) -> bool:
        """True (and the call counts as retrying until it ends) if the budget has room; a call
        already retrying keeps its place for its next candidate."""
        if call_id in self.retrying:
            return True
        if len(self.retrying) >= self.budget():
            return False
        self.retrying.add(call_id)
        return True
