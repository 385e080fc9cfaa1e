"""Prometheus metrics of one gateway process, served at `GET /metrics` in the text format.

Labels are model, provider, endpoint, status class and error type only, never a user, key or app
(unbounded cardinality, and personal data). Model labels are catalog models; any other name a
client chose (a pass-through `provider/anything`) is counted as `other`, so the page stays bounded.
Reading it needs a credential (see `allowed`). Each proxy worker process (`--workers N`) counts its
own calls and serves its own /metrics: scrape every worker (the `gateway_worker` info metric
carries the pid) or sum across them; the database rollups are the gateway-wide figures.

Why a custom collector instead of prometheus_client's Counter/Histogram objects: a call touched
eight of them (label look-ups, locks), which was half of metering's cost on the event loop. Here a
call adds to plain numbers in dictionaries (on the event loop only, so no lock), and the metric
families are built when /metrics is scraped (also on the event loop).
"""

from __future__ import annotations

import bisect
import hmac
import os
from collections.abc import Callable, Collection, Iterator
from decimal import Decimal

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from gateway.call import Call, LocalRequest, Usage
from gateway.pipeline import credential_of
from plugins.metering._records import ENDPOINT_PATH, STATUS_CLASS

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
TTFB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
CONTENT_TYPE = CONTENT_TYPE_LATEST
TOKEN_KINDS = ("input", "output", "cached_input", "cache_write")


class _Series:
    """Everything counted for one (model, provider)."""

    __slots__ = ("tokens", "cost", "latency", "latency_sum", "ttfb", "ttfb_sum", "cache_hits",
                 "cache_lookups", "estimated")

    def __init__(self) -> None:
        self.tokens = [0, 0, 0, 0]
        self.cost = 0.0
        self.latency = [0] * (len(LATENCY_BUCKETS) + 1)  # per bucket, +Inf last
        self.latency_sum = 0.0
        self.ttfb = [0] * (len(TTFB_BUCKETS) + 1)
        self.ttfb_sum = 0.0
        self.cache_hits = self.cache_lookups = self.estimated = 0


def allowed(request: LocalRequest, token: str | None) -> bool:
    """A scraper presents the configured GATEWAY_METRICS_TOKEN as a bearer token; a person, the
    key of a super-admin."""
    presented = credential_of(request.headers)
    if token and presented and hmac.compare_digest(presented.encode(), token.encode()):
        return True
    return request.principal is not None and request.principal.role == "super_admin"


class Metrics:
    def __init__(self, queue_depth: Callable[[], int] | None = None,
                 catalog: Callable[[], Collection[str]] = lambda: ()) -> None:
        self.catalog = catalog
        self.requests: dict[tuple[str, str, str, str], int] = {}
        self.errors: dict[tuple[str, str, str], int] = {}
        self.series: dict[tuple[str, str], _Series] = {}
        self._queue_depth = queue_depth
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def _of(self, model: str, provider: str) -> _Series:
        key = (model, provider)
        found = self.series.get(key)
        if found is None:
            found = self.series[key] = _Series()
        return found

    def cache_lookup(self, model: str, provider: str) -> None:
        self._of(model, provider).cache_lookups += 1

    def observe(self, call: Call, usage: Usage, cost: Decimal, error_type: str | None) -> None:
        attempt = call.attempt
        model = attempt.route.model if attempt else "none"
        if attempt is not None and model not in self.catalog() \
                and not model.startswith("ollama/"):
            model = "other"
        provider = attempt.provider.name if attempt else "none"
        status = call.status or 0
        key = (model, provider, ENDPOINT_PATH[call.endpoint],
               STATUS_CLASS.get(status) or f"{status // 100}xx")
        self.requests[key] = self.requests.get(key, 0) + 1
        if error_type:
            ekey = (model, provider, error_type)
            self.errors[ekey] = self.errors.get(ekey, 0) + 1
        if attempt is None:
            return
        s = self._of(model, provider)
        tokens = s.tokens
        tokens[0] += usage.input_tokens
        tokens[1] += usage.output_tokens
        tokens[2] += usage.cached_input_tokens
        tokens[3] += usage.cache_write_tokens
        if cost:
            s.cost += float(cost)
        if call.ended is not None:
            seconds = call.ended - call.started
            s.latency[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            s.latency_sum += seconds
        if call.first_byte is not None:
            seconds = call.first_byte - call.started
            s.ttfb[bisect.bisect_left(TTFB_BUCKETS, seconds)] += 1
            s.ttfb_sum += seconds
        s.estimated += usage.estimated
        s.cache_hits += call.cache_hit

    # -- scraping -----------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        mp = ["model", "provider"]
        requests = CounterMetricFamily("gateway_requests", "Calls by outcome",
                                       labels=[*mp, "endpoint", "status"])
        for key, n in self.requests.items():
            requests.add_metric(list(key), n)
        errors = CounterMetricFamily("gateway_errors", "Failed calls", labels=[*mp, "error_type"])
        for ekey, n in self.errors.items():
            errors.add_metric(list(ekey), n)
        tokens = CounterMetricFamily("gateway_tokens", "Tokens metered", labels=[*mp, "kind"])
        cost = CounterMetricFamily("gateway_cost_usd", "Provider cost in US dollars", labels=mp)
        hits = CounterMetricFamily("gateway_cache_hits", "Answers served from the response cache",
                                   labels=mp)
        lookups = CounterMetricFamily("gateway_cache_lookups", "Response cache look-ups", labels=mp)
        estimated = CounterMetricFamily("gateway_usage_estimated", "Calls whose usage was estimated",
                                        labels=mp)
        latency = HistogramMetricFamily("gateway_request_duration_seconds", "Whole call duration",
                                        labels=mp)
        ttfb = HistogramMetricFamily("gateway_time_to_first_byte_seconds",
                                     "Time to the provider's first byte", labels=mp)
        for (model, provider), s in self.series.items():
            names = [model, provider]
            for kind, n in zip(TOKEN_KINDS, s.tokens):
                tokens.add_metric([*names, kind], n)
            cost.add_metric(names, s.cost)
            hits.add_metric(names, s.cache_hits)
            lookups.add_metric(names, s.cache_lookups)
            estimated.add_metric(names, s.estimated)
            latency.add_metric(names, _cumulative(LATENCY_BUCKETS, s.latency), s.latency_sum)
            ttfb.add_metric(names, _cumulative(TTFB_BUCKETS, s.ttfb), s.ttfb_sum)
        worker = InfoMetricFamily("gateway_worker", "This proxy process")
        worker.add_metric([], {"pid": str(os.getpid())})
        yield from (requests, errors, tokens, cost, hits, lookups, estimated, latency, ttfb, worker)
        if self._queue_depth is not None:
            yield GaugeMetricFamily("gateway_log_queue_depth", "Records waiting for the log writer",
                                    value=self._queue_depth())

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    total = 0
    for bound, n in zip((*bounds, float("inf")), counts):
        total += n
        out.append(("+Inf" if bound == float("inf") else str(bound), total))
    return out
