"""Streams flow chunk by chunk (no buffering) and keep flowing for 1 000 concurrent streams."""

from __future__ import annotations

import asyncio
import json
import resource
import time

import aiohttp
import pytest

MSG = [{"role": "user", "content": "alpha beta gamma delta epsilon"}]


def test_chunks_arrive_as_the_provider_sends_them(gateway):
    stream = gateway.openai().chat.completions.create(
        model="openai/gpt-4o-mock-chunk-delay-150", messages=MSG, stream=True)
    arrivals = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    assert len(arrivals) >= 5
    # Buffering would deliver everything at once; streaming spreads it over the provider's pace.
    assert arrivals[-1] - arrivals[0] > 0.5
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert sum(1 for g in gaps if g > 0.08) >= 4


def test_anthropic_stream_events_arrive_one_by_one(gateway):
    client = gateway.anthropic()
    arrivals = []
    with client.messages.stream(model="claude-sonnet-4-5-mock-chunk-delay-150", max_tokens=200,
                                messages=MSG) as stream:
        for _ in stream.text_stream:
            arrivals.append(time.monotonic())
    assert len(arrivals) >= 5 and arrivals[-1] - arrivals[0] > 0.5


@pytest.mark.slow
def test_a_thousand_concurrent_streams(gateway):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    n = 1000

    async def one(session, i):
        body = {"model": "openai/gpt-4o-mock-chunk-delay-300", "stream": True,
                "messages": [{"role": "user", "content": f"stream {i} ok"}]}
        text = []
        async with session.post(gateway.url + "/v1/chat/completions", json=body,
                                headers={"authorization": f"Bearer {gateway.user_key}"}) as resp:
            assert resp.status == 200
            async for line in resp.content:
                if line.startswith(b"data: {"):
                    data = json.loads(line[6:])
                    if data["choices"] and data["choices"][0]["delta"].get("content"):
                        text.append(data["choices"][0]["delta"]["content"])
        return "".join(text)

    async def main():
        conn = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
            return await asyncio.gather(*(one(session, i) for i in range(n)))

    start = time.monotonic()
    results = asyncio.run(main())
    assert results == [f"echo: stream {i} ok" for i in range(n)]
    assert time.monotonic() - start < 90


def test_filters_holding_events_back_keep_the_connection_reusable(gateway_factory):
    """A filter that releases nothing for some chunks must not end the HTTP/1 body early."""
    import httpx
    import pluggy

    from gateway.call import ResponseFilter

    hookimpl = pluggy.HookimplMarker("llm_gateway")

    class HoldEveryOther(ResponseFilter):
        def __init__(self):
            self.held = []

        def on_event(self, event):
            self.held.append(event)
            if len(self.held) % 2:
                return ()
            out, self.held = self.held, []
            return out

        def on_end(self, complete):
            out, self.held = self.held, []
            return out

    class P:
        @hookimpl
        def gateway_response_filter(self, call, attempt):
            return HoldEveryOther()

    gw = gateway_factory(plugins=[P()])
    body = {"model": "openai/gpt-4o-mock-chunk-delay-20", "stream": True, "messages": MSG}
    with httpx.Client(timeout=20, headers={"authorization": f"Bearer {gw.user_key}"}) as client:
        for _ in range(3):  # the same keep-alive connection each time
            resp = client.post(gw.url + "/v1/chat/completions", json=body)
            assert resp.status_code == 200
            text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                           for line in resp.text.splitlines()
                           if line.startswith("data: {") and json.loads(line[6:])["choices"])
            assert text == "echo: alpha beta gamma delta epsilon"
            assert resp.text.rstrip().endswith("data: [DONE]")
