"""plugins.fallback: which failures fail over, the retry budget, health, and strategy ordering
(pure logic; the same behaviour over real sockets is in test_fallback_e2e.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace

import pytest

from gateway.call import ApiFormat, Attempt, Call, Endpoint, Failure, Provider, Route
from gateway.config import ModelEntry
from plugins.fallback import _calls, _policy
from plugins.fallback._stats import BUDGET_MIN, COOL_DOWN, UNHEALTHY_AFTER, Stats
from plugins.fallback._strategy import rank


def _body(**error) -> bytes:
    return json.dumps({"error": error}).encode()


def status(code: int, body: bytes = b"", retry_after: float | None = None) -> Failure:
    return Failure("status", f"HTTP {code}", status=code, body=body, retry_after=retry_after)


@pytest.mark.parametrize("failure, reason", [
    (Failure("connect", "Connection refused"), _policy.UNREACHABLE),
    (Failure("protocol", "Connection reset by peer"), _policy.UNREACHABLE),
    (Failure("protocol", "TLS handshake failed"), _policy.UNREACHABLE),
    (Failure("timeout", "no answer within 0.5s"), _policy.UNREACHABLE),
    (status(429, _body(type="requests", code="rate_limit_exceeded")), _policy.RATE_LIMITED),
    (status(429, _body(message="You exceeded your current quota", type="insufficient_quota",
                       code="insufficient_quota")), _policy.BILLING),
    (status(400, json.dumps({"type": "error", "error": {
        "type": "invalid_request_error",
        "message": "Your credit balance is too low to access the Anthropic API."}}).encode()),
     _policy.BILLING),
    (status(402, b""), _policy.BILLING),
    (status(403, json.dumps({"type": "error", "error": {"type": "billing_error",
                                                        "message": "billing"}}).encode()),
     _policy.BILLING),
    *[(status(code), _policy.SERVER) for code in (500, 502, 503, 504, 529)],
    (status(401, _body(code="invalid_api_key")), _policy.CREDENTIALS),
    (status(403, b"<html>forbidden</html>"), _policy.CREDENTIALS),
    (status(400, _body(code="context_length_exceeded",
                       message="This model's maximum context length is 128000 tokens")),
     _policy.CONTEXT),
    (status(400, json.dumps({"type": "error", "error": {
        "type": "invalid_request_error",
        "message": "prompt is too long: 210000 tokens > 200000 maximum"}}).encode()),
     _policy.CONTEXT),
])
def test_provider_failures_fail_over(failure, reason):
    assert _policy.classify(failure) == reason


@pytest.mark.parametrize("failure", [
    status(400, _body(message="messages: field required")),
    status(404, _body(code="model_not_found")),
    status(422, b"{}"), status(413, b"too large"), status(501), status(408),
    Failure("status", "no status"),
])
def test_client_errors_never_fail_over(failure):
    assert _policy.classify(failure) is None


def test_retry_budget_is_a_fifth_of_active_calls_with_a_floor_of_three():
    stats = Stats()
    for i in range(10):
        stats.call_started(f"c{i}")
    assert stats.budget() == BUDGET_MIN
    assert [stats.allow_retry(f"c{i}") for i in range(4)] == [True, True, True, False]
    assert stats.allow_retry("c0")  # a call already retrying goes on to its next candidate
    stats.call_ended("c0")
    assert stats.allow_retry("c3")
    for i in range(10, 31):
        stats.call_started(f"c{i}")
    assert stats.budget() == 6  # 20% of 30


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _route(model: str, provider: str | None = None) -> Route:
    provider = provider or model.split("/")[0]
    return Route(model, provider, model.split("/", 1)[1])


CATALOG = {
    "openai/gpt-4o": ModelEntry("openai/gpt-4o", "openai", "gpt-4o", Decimal("2.5"),
                                Decimal("10"), context_window=128000),
    "openai/gpt-4.1-nano": ModelEntry("openai/gpt-4.1-nano", "openai", "gpt-4.1-nano",
                                      Decimal("0.1"), Decimal("0.4"), context_window=1047576),
    "anthropic/claude-haiku-4-5": ModelEntry("anthropic/claude-haiku-4-5", "anthropic",
                                             "claude-haiku-4-5", Decimal("1"), Decimal("5"),
                                             context_window=200000),
}
ROUTES = [_route("openai/gpt-4o"), _route("anthropic/claude-haiku-4-5"),
          _route("openai/unpriced"), _route("openai/gpt-4.1-nano")]


def _models(routes) -> list[str]:
    return [r.model for r in routes]


def test_ordered_keeps_the_chain_as_written():
    assert _models(rank(ROUTES, "ordered", Stats(), CATALOG)) == _models(ROUTES)


def test_lowest_cost_puts_the_cheapest_first_and_unpriced_last():
    assert _models(rank(ROUTES, "lowest-cost", Stats(), CATALOG)) == [
        "openai/gpt-4.1-nano", "anthropic/claude-haiku-4-5", "openai/gpt-4o", "openai/unpriced"]


def test_lowest_latency_uses_the_moving_window_and_measures_unknown_models_first():
    stats = Stats()
    for ttfb in (0.9, 0.7):
        stats.success("openai/gpt-4o", ttfb)
    stats.success("anthropic/claude-haiku-4-5", 0.3)
    stats.success("openai/gpt-4.1-nano", 0.5)
    assert _models(rank(ROUTES, "lowest-latency", stats, CATALOG)) == [
        "openai/unpriced", "anthropic/claude-haiku-4-5", "openai/gpt-4.1-nano", "openai/gpt-4o"]
    for _ in range(20):  # the window forgets old samples
        stats.success("openai/gpt-4o", 0.1)
    assert rank(ROUTES, "lowest-latency", stats, CATALOG)[1].model == "openai/gpt-4o"


def test_least_busy_prefers_the_provider_with_fewest_calls_in_flight():
    stats = Stats()
    stats.attempt_started("openai")
    assert _models(rank(ROUTES, "least-busy", stats, CATALOG))[0] == "anthropic/claude-haiku-4-5"
    stats.attempt_ended("openai")
    assert _models(rank(ROUTES, "least-busy", stats, CATALOG))[0] == "openai/gpt-4o"


def test_unhealthy_models_go_last_for_the_cool_down():
    clock = Clock()
    stats = Stats(clock)
    for _ in range(UNHEALTHY_AFTER - 1):
        stats.failure("openai/gpt-4o")
    assert rank(ROUTES, "ordered", stats, CATALOG)[0].model == "openai/gpt-4o"
    stats.failure("openai/gpt-4o")
    assert rank(ROUTES, "ordered", stats, CATALOG)[-1].model == "openai/gpt-4o"
    clock.now += COOL_DOWN + 1
    assert rank(ROUTES, "ordered", stats, CATALOG)[0].model == "openai/gpt-4o"
    stats.failure("openai/gpt-4o")
    stats.success("openai/gpt-4o", 0.2)  # one success makes it healthy again
    assert rank(ROUTES, "ordered", stats, CATALOG)[0].model == "openai/gpt-4o"


def test_rate_limited_models_are_skipped_until_retry_after():
    clock = Clock()
    stats = Stats(clock)
    stats.failure("openai/gpt-4o", retry_after=2)
    assert "openai/gpt-4o" not in _models(rank(ROUTES, "ordered", stats, CATALOG))
    clock.now += 2.1
    assert rank(ROUTES, "ordered", stats, CATALOG)[0].model == "openai/gpt-4o"
    both = [_route("openai/gpt-4o"), _route("openai/gpt-4.1-nano")]
    stats.failure("openai/gpt-4o", retry_after=2)
    stats.failure("openai/gpt-4.1-nano", retry_after=2)
    assert _models(rank(both, "ordered", stats, CATALOG)) == _models(both)  # never empty


def _call_with(candidates: list[Route]) -> tuple[SimpleNamespace, Call]:
    ctx = SimpleNamespace(config=SimpleNamespace(models=CATALOG))
    state = SimpleNamespace(stats=Stats())
    call = Call("req_1", Endpoint.CHAT, {}, {}, candidates=list(candidates), ctx=ctx)
    provider = Provider("openai", "openai", "http://x/v1")
    call.attempts.append(Attempt(1, candidates[0], provider, "/chat/completions", {},
                                 ApiFormat.OPENAI))
    state.stats.call_started(call.request_id)
    return state, call


def test_context_too_long_moves_on_only_to_a_larger_window():
    too_long = status(400, _body(code="context_length_exceeded", message="too long"))
    state, call = _call_with([_route("openai/gpt-4o"), _route("openai/unpriced"),
                              _route("anthropic/claude-haiku-4-5"), _route("openai/gpt-4.1-nano")])
    assert _calls.decide_retry(state, call, call.attempt, too_long)
    # the model without a known window is dropped from the plan; 200k and 1M windows stay
    assert _models(call.candidates) == ["openai/gpt-4o", "anthropic/claude-haiku-4-5",
                                        "openai/gpt-4.1-nano"]
    state, call = _call_with([_route("openai/gpt-4.1-nano"), _route("openai/gpt-4o")])
    assert not _calls.decide_retry(state, call, call.attempt, too_long)
    assert not _calls.decide_retry(state, call, call.attempt, status(400, _body(message="bad")))


def test_retry_is_refused_when_the_budget_is_spent():
    state, call = _call_with([_route("openai/gpt-4o"), _route("openai/gpt-4.1-nano")])
    for i in range(BUDGET_MIN):
        assert state.stats.allow_retry(f"other{i}")
    assert not _calls.decide_retry(state, call, call.attempt, status(503))
    assert call.stash[_calls.BUDGET_SPENT] is True
