"""What the fallback plugin does along a call: plan its candidates, decide each retry, and learn
from each attempt (health, rate limits, time to first byte, in-flight counts, retry budget).

The retry itself (same client stream, next candidate, before any byte reached the client) is
done by the core's stream layer (gateway/http_stream.py) whenever `decide_retry` says yes.
"""

from __future__ import annotations

import logging

from gateway.call import Attempt, Call, Failure, Route
from gateway.errors import GatewayError
from gateway.host import PluginHost
from gateway.stash import StashKey
from plugins.fallback import _policy as policy
from plugins.fallback._state import FallbackState
from plugins.fallback._strategy import larger_windows, rank, resolve_chain

log = logging.getLogger("plugins.fallback")

STRATEGY = StashKey[str]()  # the routing strategy that ranked this call's candidates
REASONS = StashKey[list[str]]()  # why each failed attempt was (not) retried
BUDGET_SPENT = StashKey[bool]()  # the retry budget refused a retry
BUDGET_LOG_INTERVAL = 10.0
_ACTIVE, _BUSY = StashKey[bool](), StashKey[str]()  # counted as in flight; provider now busy
_RECORDED = StashKey[set[int]]()  # attempts whose outcome the health stats already learnt


def host(call: Call) -> PluginHost:
    """The process serving `call`: the hooks only get here with this plugin's state, which lives
    in that process's `ctx.extensions`."""
    assert call.ctx is not None, f"call {call.request_id} has no plugin host"
    return call.ctx


def plan(state: FallbackState, call: Call, primary: Route) -> list[Route]:
    snap, ctx = state.snapshot, host(call)
    org_id = call.principal.org_id if call.principal else None
    chain = snap.chain_for(org_id, primary.model, call.requested_model)
    routes = resolve_chain(ctx, call, primary, chain, snap.credentials) if chain else [primary]
    call.stash[STRATEGY] = snap.strategy
    return rank(routes, snap.strategy, state.stats, ctx.config.models)


def admitted(state: FallbackState, call: Call) -> None:
    state.stats.call_started(call.request_id)
    call.stash[_ACTIVE] = True


def attempt_started(state: FallbackState, call: Call, attempt: Attempt) -> None:
    previous = call.stash.get(_BUSY)
    if previous is not None:
        state.stats.attempt_ended(previous)
    call.stash[_BUSY] = attempt.provider.name
    state.stats.attempt_started(attempt.provider.name)


def decide_retry(state: FallbackState, call: Call, attempt: Attempt, failure: Failure) -> bool:
    reason = policy.classify(failure)
    call.stash.setdefault(REASONS, []).append(reason or "not retried")
    _learn_failure(state, call, attempt, reason, failure.retry_after)
    if reason is None:
        return False
    if reason == policy.CONTEXT and not _keep_larger_windows(call, attempt):
        return False
    if not state.stats.allow_retry(call.request_id):
        call.stash[BUDGET_SPENT] = True
        _log_budget_spent(state, call, reason)
        return False
    return True


def _log_budget_spent(state: FallbackState, call: Call, reason: str) -> None:
    # During an outage this happens on every call: one line per interval, with the count.
    stats = state.stats
    stats.refused_retries += 1
    now = stats.clock()
    if now - stats.last_refusal_log < BUDGET_LOG_INTERVAL:
        return
    log.warning("retry budget spent (%d calls retrying of %d active): %d retries refused since "
                "the last report, latest request_id=%s after %s", len(stats.retrying),
                len(stats.active), stats.refused_retries, call.request_id, reason,
                extra={"request_id": call.request_id})
    stats.refused_retries, stats.last_refusal_log = 0, now


def _keep_larger_windows(call: Call, attempt: Attempt) -> bool:
    """A context-too-long answer may only move on to models with a larger window: drop the
    others from the rest of the plan (the stream layer takes the next candidate in order)."""
    done = len(call.attempts)
    better = larger_windows(host(call).config.models, attempt.route.model, call.candidates[done:])
    if not better:
        return False
    call.candidates[done:] = better
    return True


def ended(state: FallbackState, call: Call, error: GatewayError | None) -> None:
    stats = state.stats
    if call.stash.pop(_ACTIVE, False):
        stats.call_ended(call.request_id)
    busy = call.stash.pop(_BUSY, None)
    if busy is not None:
        stats.attempt_ended(busy)
    last = call.attempt
    if last is None or last.number in call.stash.get(_RECORDED, ()):
        return
    if last.status is not None and 200 <= last.status < 300:
        ttfb = call.first_byte - last.started if call.first_byte else None
        stats.success(last.route.model, ttfb)
        return
    if error is None:
        return  # the client went away before the provider answered: nothing learnt
    failure = last.failure or Failure("status", error.message, status=last.status,
                                      retry_after=_seconds(error.headers.get("retry-after")))
    _learn_failure(state, call, last, policy.classify(failure), failure.retry_after)


def _learn_failure(state: FallbackState, call: Call, attempt: Attempt, reason: str | None,
                   retry_after: float | None) -> None:
    call.stash.setdefault(_RECORDED, set()).add(attempt.number)
    if policy.counts_against_health(reason):
        state.stats.failure(attempt.route.model, retry_after)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
