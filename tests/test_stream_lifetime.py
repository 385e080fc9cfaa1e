"""A finished call leaves nothing of itself in the proxy: its first-byte/chunk deadline wakeup,
still pending in mitmproxy's HTTP layer for up to a second, no longer holds the call's stream layer
(and through it the flow, the call and its bodies). Held, those objects reached the collector's
oldest generation under load, whose full collections paused the proxy 60–80 ms."""

from __future__ import annotations

import asyncio
import gc
import time

from gateway.connection_handler import TimedWakeup
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


def armed_deadlines(gateway) -> int:
    """Deadline timers still armed on the proxy's loop (counted on the loop itself)."""
    async def count() -> int:
        scheduled = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
        return sum(1 for timer in scheduled if not timer.cancelled()
                   and any(isinstance(arg, TimedWakeup) for arg in timer._args))
    return asyncio.run_coroutine_threadsafe(count(), gateway._loop).result(10)


def test_finished_calls_leave_no_deadline_timer(gateway):
    """Each call arms a first-byte deadline as a loop timer; the call's end cancels it, so under
    load the loop does not carry (and later fire) a timer for every call of the last second."""
    client = gateway.openai()
    for _ in range(12):
        client.chat.completions.create(model="openai/gpt-4o", messages=MSG)
    # The last call may still be finishing for a moment. Without the cancel each call's timer
    # stays armed for up to a second (mitmproxy's wakeup tick) or until the client's connection
    # closes (hence the open client): all twelve.
    deadline = time.monotonic() + 0.2
    while armed_deadlines(gateway) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert armed_deadlines(gateway) == 0
    client.close()


def deadline_timers(gateway) -> list[float]:
    """Seconds until each armed deadline timer on the proxy's loop fires."""
    async def remaining() -> list[float]:
        loop = asyncio.get_running_loop()
        return [timer.when() - loop.time() for timer in loop._scheduled  # type: ignore[attr-defined]
                if not timer.cancelled() and any(isinstance(a, TimedWakeup) for a in timer._args)]
    return asyncio.run_coroutine_threadsafe(remaining(), gateway._loop).result(10)


def test_a_stream_in_flight_is_not_woken_before_its_deadline(gateway):
    """A slow stream's deadline timers sleep until the deadlines themselves (120 s by default),
    not in one-second ticks that wake every stream once a second; the stream's end cancels them."""
    client = gateway.openai()
    stream = client.chat.completions.create(model="openai/gpt-4o-mock-chunk-delay-150",
                                            messages=MSG, stream=True)
    seen = []
    for _ in stream:  # about 1.2 s of chunks: longer than a tick
        seen.append(deadline_timers(gateway))
    in_flight = [left for timers in seen[2:-2] for left in timers]
    assert in_flight and min(in_flight) > 100, seen
    deadline = time.monotonic() + 0.5
    while deadline_timers(gateway) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert deadline_timers(gateway) == []
