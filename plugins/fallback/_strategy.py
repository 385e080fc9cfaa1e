"""The candidates of a call: its primary route plus its fallback chain, ordered by the routing
strategy, with unhealthy models moved last and rate-limited models skipped.

Strategies: `ordered` (the chain as written), `lowest-cost` (catalog input + output price per
million tokens; unpriced models last), `lowest-latency` (mean observed time to first byte over a
moving window; a model not yet measured goes first so that it gets measured), `least-busy`
(fewest calls in flight at the model's provider). Sorting is stable: ties keep the chain order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from gateway.call import Call, Endpoint, Route
from gateway.config import ModelEntry
from gateway.core_hooks import resolve_name
from gateway.errors import GatewayError
from gateway.host import PluginHost
from plugins.fallback._stats import Stats

log = logging.getLogger("plugins.fallback")

ORDERED, LOWEST_COST, LOWEST_LATENCY, LEAST_BUSY = (
    "ordered", "lowest-cost", "lowest-latency", "least-busy")
STRATEGIES = (ORDERED, LOWEST_COST, LOWEST_LATENCY, LEAST_BUSY)
DEFAULT_STRATEGY = ORDERED
_INF = float("inf")
# Only these two endpoints can be translated between the OpenAI and Anthropic formats.
_TRANSLATABLE = (Endpoint.CHAT, Endpoint.MESSAGES)


def rank(routes: list[Route], strategy: str, stats: Stats,
         catalog: Mapping[str, ModelEntry]) -> list[Route]:
    if len(routes) < 2:
        return list(routes)  # nothing to order, nothing to fall back to: the common case
    key = _sort_key(strategy, stats, catalog)
    ranked = sorted(routes, key=key) if key is not None else list(routes)
    usable = [r for r in ranked if not stats.rate_limited(r.model)]
    healthy = [r for r in usable if not stats.unhealthy(r.model)]
    cooling = [r for r in usable if stats.unhealthy(r.model)]
    # Every candidate rate limited: try them anyway rather than refuse the call ourselves.
    return healthy + cooling or ranked


def _sort_key(strategy: str, stats: Stats,
              catalog: Mapping[str, ModelEntry]) -> Callable[[Route], float] | None:
    if strategy == LOWEST_COST:
        return lambda route: _price(catalog.get(route.model))
    if strategy == LOWEST_LATENCY:
        return lambda route: stats.mean_ttfb(route.model) or 0.0
    if strategy == LEAST_BUSY:
        return lambda route: stats.in_flight(route.provider)
    return None


def _price(entry: ModelEntry | None) -> float:
    if entry is None or entry.input is None or entry.output is None:  # `not entry.priced`, spelt out
        return _INF
    return float(entry.input + entry.output)


def resolve_chain(ctx: PluginHost, call: Call, primary: Route, names: Iterable[str],
                  credential_providers: Iterable[str]) -> list[Route]:
    """[primary, *usable fallbacks]: fallback names resolved like model names, without
    duplicates; entries that cannot be served by this call are left out (and logged)."""
    routes, seen = [primary], {primary.model}
    extra = set(credential_providers)
    for name in names:
        route = _resolve(ctx, call, name, extra)
        if route is None or route.model in seen:
            continue
        seen.add(route.model)
        routes.append(route)
    return routes


def _resolve(ctx: PluginHost, call: Call, name: str, credential_providers: set[str]) -> Route | None:
    provider, sep, rest = name.partition("/")
    try:
        if sep and rest and provider in credential_providers \
                and provider not in ctx.config.provider_names():
            route = Route(model=name, provider=provider, upstream_model=rest, reason="fallback")
        else:
            # until gateway/core_hooks.resolve_name takes a PluginHost (it reads only `config`)
            found = resolve_name(ctx, name, call.endpoint)
            route = Route(found.model, found.provider, found.upstream_model, reason="fallback")
    except GatewayError as exc:
        log.warning("fallback model %r skipped: %s", name, exc.message)
        return None
    endpoint = ctx.provider(route.provider)
    if endpoint is None:
        log.warning("fallback model %r skipped: provider %r is not configured", name, route.provider)
        return None
    if endpoint.wire_format is not call.api_format and call.endpoint not in _TRANSLATABLE:
        return None  # e.g. embeddings have no Anthropic counterpart
    return route


def context_window(catalog: Mapping[str, ModelEntry], model: str) -> int | None:
    entry = catalog.get(model)
    return entry.context_window if entry is not None else None


def larger_windows(catalog: Mapping[str, ModelEntry], current: str,
                   remaining: list[Route]) -> list[Route]:
    """The remaining candidates whose context window is larger than the current model's."""
    window = context_window(catalog, current)
    if window is None:
        return []
    return [r for r in remaining if (context_window(catalog, r.model) or 0) > window]

