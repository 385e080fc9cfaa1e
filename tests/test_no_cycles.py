"""A finished call is freed the moment it ends, not by the cycle collector.

Before, every call left a reference cycle behind (mitmproxy's stream layer refers to itself, and
metering's usage reader and the call referred to each other through the stash): tens of objects
per call, with the flow and both bodies hanging off them, were only freed by the collector's
middle and full collections. Under load those took 5–70 ms each, on the event loop: the p99 of
a single connection. Here the collector is switched off while calls run on one keep-alive
connection, then asked what it would have had to free.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import httpx
import pytest
from mitmproxy.http import HTTPFlow

from gateway.call import Call
from gateway.http_stream import GatewayHttpStream
from gateway.stash import StashKey
from gateway.testing import tcall
from tests.plugins.dlp_support import EMAIL, protect_org

PER_CALL = (HTTPFlow, GatewayHttpStream, Call)


def _left_for_the_collector(calls: Callable[[], None]) -> dict[str, int]:
    """Objects of PER_CALL types that only the cycle collector would have freed after `calls`."""
    gc.collect()
    gc.disable()
    try:
        calls()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found: dict[str, int] = {}
        for obj in gc.garbage:
            if isinstance(obj, PER_CALL):
                name = type(obj).__name__
                found[name] = found.get(name, 0) + 1
        return found
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.fixture
def client(gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=20,
                      headers={"Authorization": f"Bearer {gateway.user_key}"}) as c:
        c.post("/v1/chat/completions", json={"model": "openai/gpt-4o-mini",
                                             "messages": [{"role": "user", "content": "warm"}]})
        yield c  # one keep-alive connection: only the calls come and go


def test_whole_and_streamed_calls_leave_no_cycles(client):
    def calls() -> None:
        for i in range(5):
            r = client.post("/v1/chat/completions", json={
                "model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": f"hi {i}"}]})
            assert r.status_code == 200
            with client.stream("POST", "/v1/chat/completions", json={
                    "model": "openai/gpt-4o-mini", "stream": True,
                    "messages": [{"role": "user", "content": f"stream {i}"}]}) as s:
                assert s.status_code == 200
                assert "[DONE]" in "".join(s.iter_text())

    assert _left_for_the_collector(calls) == {}


def test_redacted_and_refused_calls_leave_no_cycles(gateway, client):
    protect_org(gateway)

    def calls() -> None:
        for i in range(5):
            r = client.post("/v1/chat/completions", json={
                "model": "openai/gpt-4o-mini",
                "messages": [{"role": "user", "content": f"mail {EMAIL} ({i})"}]})
            assert r.status_code == 200 and EMAIL in r.text  # redacted, then restored
            with client.stream("POST", "/v1/chat/completions", json={
                    "model": "openai/gpt-4o-mini", "stream": True,
                    "messages": [{"role": "user", "content": f"mail {EMAIL} ({i})"}]}) as s:
                assert s.status_code == 200 and "[DONE]" in "".join(s.iter_text())
            r = client.post("/v1/chat/completions", json={"model": "no-such/model",
                                                          "messages": [{"role": "user", "content": "x"}]})
            assert r.status_code in (400, 404)

    assert _left_for_the_collector(calls) == {}


def test_the_check_sees_a_cycle_when_there_is_one():
    """The measurement itself: a call object kept in a cycle is reported."""
    def calls() -> None:
        call = tcall()
        call.stash[StashKey[Call]()] = call  # call → stash → call
        del call

    assert _left_for_the_collector(calls) == {"Call": 1}
