"""One fail-closed call lifecycle: whichever hook raises — in the addon or in the stream layer,
on the first attempt or during a fallback retry, whole or streamed — the client gets a JSON error
in the API's shape at once, the provider never sees an unfiltered request, and the end-of-call
hooks run exactly once."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pluggy
import pytest

from gateway.call import ResponseFilter, Route

hookimpl = pluggy.HookimplMarker("llm_gateway")
BODY = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "secret prompt"}]}
FAILING = "openai/gpt-4o-mock-fail-500"  # the mock answers 500 for this model


class Boom(RuntimeError):
    pass


def boom(*args, **kwargs):
    raise Boom("plugin bug")


class Ends:
    """Counts the end-of-call hooks per request id."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    @hookimpl
    def gateway_call_complete(self, call):
        self.seen[call.request_id] += 1

    @hookimpl
    def gateway_call_failed(self, call, error):
        self.seen[call.request_id] += 1


class Fallback:
    """A chain: the failing model first, then a working one (so retry hooks run)."""

    @hookimpl(tryfirst=True)
    def gateway_plan_candidates(self, call, primary):
        if primary.model == FAILING:
            return [primary, Route("openai/gpt-4o", "openai", "gpt-4o", "fallback")]
        return None

    @hookimpl(tryfirst=True)
    def gateway_retry(self, call, attempt, failure):
        return True


class RaisingFilter(ResponseFilter):
    on_json = on_event = staticmethod(boom)


class LateBoom:
    """Raises in prepare_attempt only for the second attempt (the fallback)."""

    @hookimpl
    def gateway_prepare_attempt(self, call, attempt):
        if attempt.number > 1:
            raise Boom("plugin bug on retry")


def plugin_raising(hook: str):
    if hook == "gateway_prepare_attempt(retry)":
        return LateBoom()
    if hook == "response filter":
        return type("P", (), {"gateway_response_filter": hookimpl(lambda self, call, attempt:
                                                                   RaisingFilter())})()
    return type("P", (), {hook: hookimpl(tryfirst=True)(boom)})()


CASES = [
    # hook, model, stream
    ("gateway_authenticate", "openai/gpt-4o", False),
    ("gateway_resolve_model", "openai/gpt-4o", False),
    ("gateway_plan_candidates", "openai/gpt-4o", False),
    ("gateway_admit", "openai/gpt-4o", False),
    ("gateway_transform_request", "openai/gpt-4o", False),
    ("gateway_prepare_attempt", "openai/gpt-4o", False),
    ("gateway_cache_lookup", "openai/gpt-4o", False),
    ("gateway_retry", FAILING, False),
    ("gateway_retry", FAILING, True),
    ("gateway_prepare_attempt(retry)", FAILING, False),
    ("gateway_prepare_attempt(retry)", FAILING, True),
    ("gateway_response_filter", "openai/gpt-4o", False),
    ("gateway_response_filter", "openai/gpt-4o", True),
    ("response filter", "openai/gpt-4o", False),
    ("response filter", "openai/gpt-4o", True),
    ("gateway_response_headers", "openai/gpt-4o", False),
    ("gateway_response_headers", "openai/gpt-4o", True),
    ("gateway_response_headers", FAILING, False),
]


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


@pytest.mark.parametrize("hook, model, stream", CASES)
def test_a_raising_hook_ends_the_call_closed_at_once(gateway_factory, hook, model, stream):
    ends = Ends()
    plugins = [ends, plugin_raising(hook)]
    if hook != "gateway_retry":
        plugins.append(Fallback())
    else:
        plugins.append(type("Chain", (), {"gateway_plan_candidates":
                                          Fallback.gateway_plan_candidates})())
    gw = gateway_factory(plugins=plugins)
    started = time.monotonic()
    answer = httpx.post(gw.url + "/v1/chat/completions", timeout=10,
                        json={**BODY, "model": model, "stream": stream},
                        headers={"Authorization": f"Bearer {gw.user_key}"})
    elapsed = time.monotonic() - started
    assert elapsed < 3, f"{hook}: answered after {elapsed:.1f}s"
    text = answer.text
    assert "secret prompt" not in text and "plugin bug" not in text
    if answer.status_code == 200:  # the failure came after the stream began: a final error event
        assert stream and '"error"' in text.rsplit("data:", 1)[-1], text[-500:]
    else:
        assert answer.status_code == 500, text
        assert answer.json()["error"]["message"].startswith("internal gateway error")
    rid = answer.headers["x-gateway-request-id"]
    deadline = time.monotonic() + 3
    while not ends.seen[rid] and time.monotonic() < deadline and hook != "gateway_authenticate":
        time.sleep(0.02)
    if hook != "gateway_authenticate":  # before authentication there is no call yet to end
        assert ends.seen[rid] == 1, (hook, dict(ends.seen))
    # The gateway is still serving.
    ok = httpx.post(gw.url + "/v1/chat/completions", json={**BODY, "model": "openai/gpt-4o"},
                    headers={"Authorization": f"Bearer {gw.user_key}"}, timeout=10)
    assert ok.status_code in (200, 500)


def test_an_end_of_call_hook_raising_leaves_the_others_and_the_client_alone(gateway_factory):
    ends = Ends()
    broken = type("P", (), {"gateway_call_complete": hookimpl(tryfirst=True)(boom)})()
    gw = gateway_factory(plugins=[broken, ends])
    answer = httpx.post(gw.url + "/v1/chat/completions", json=BODY, timeout=10,
                        headers={"Authorization": f"Bearer {gw.user_key}"})
    assert answer.status_code == 200
    assert ends.seen[answer.headers["x-gateway-request-id"]] == 1
