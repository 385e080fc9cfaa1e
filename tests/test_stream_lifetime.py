"""A finished call leaves nothing of itself in the proxy: its first-byte/chunk deadline wakeup,
still pending in mitmproxy's HTTP layer for up to a second, no longer holds the call's stream layer
(and through it the flow, the call and its bodies). Held, those objects reached the collector's
oldest generation under load, whose full collections paused the proxy 60–80 ms."""

from __future__ import annotations

import gc

from gateway.http_stream import GatewayHttpStream

MSG = [{"role": "user", "content": "alpha beta gamma"}]


def live_streams() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, GatewayHttpStream))


def test_finished_calls_are_freed_at_once(gateway):
    client = gateway.openai()
    client.chat.completions.create(model="openai/gpt-4o", messages=MSG)
    before = live_streams()
    for _ in range(10):
        client.chat.completions.create(model="openai/gpt-4o", messages=MSG)
    assert list(client.chat.completions.create(model="openai/gpt-4o", messages=MSG, stream=True))
    # The last call's layer may still be finishing when its client has the answer; without the
    # fix all twelve stay alive (their wakeups fire up to a second later).
    assert live_streams() <= before + 1
