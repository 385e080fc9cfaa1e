"""The deadline half of the gateway's stream layer (`gateway.http_stream`): after each request is
sent, a wakeup bounds the wait for the provider's response headers (first-byte deadline) and,
while streaming, the silence between chunks. A mixin over mitmproxy's `HttpStream`; relies on the
same mitmproxy internals as its subclass, hence the exact version pin.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from mitmproxy import flow as mflow
from mitmproxy.connection import Server
from mitmproxy.proxy import events
from mitmproxy.proxy.layer import CommandGenerator
from mitmproxy.proxy.layers import http as http_layers
from mitmproxy.proxy.layers.http import (
    HttpErrorHook,
    HttpLayer,
    HttpStream,
    RequestProtocolError,
    ResponseData,
    ResponseEndOfMessage,
    ResponseProtocolError,
    SendHttp,
)

from gateway import outcome
from gateway.apierrors import sse_error
from gateway.call import Call, Failure
from gateway.connection_handler import TimedWakeup
from gateway.errors import GatewayError, UpstreamError

if TYPE_CHECKING:
    from gateway.addon import GatewayAddon

# The flow metadata keys the gateway addon fills (`gateway.addon`).
CALL, RELAY, ADDON = "gw.call", "gw.relay", "gw.addon"
_TICK = 1.0  # longest a deadline wakeup sleeps under mitmproxy's own handler before re-arming


class _Spent:
    """Stands in for a finished stream in the HTTP layer's table of pending wakeups. mitmproxy
    keeps each `RequestWakeup` → the stream that asked for it until the wakeup fires (up to
    _TICK later), and with it the whole finished call: under load that kept every call of the
    last second alive into the collector's oldest generation (~100 000 objects), whose full
    collections then paused the loop 60–80 ms (p99 at one connection ~100 ms)."""

    @staticmethod
    def handle_event(event: events.Event) -> CommandGenerator[None]:
        yield from ()


_SPENT = _Spent()


class DeadlinesMixin(HttpStream):
    _gw_waiting: object | None = None  # the wakeup command guarding the current attempt
    _gw_last_data = 0.0
    _gw_deadline = 0.0  # first-byte deadline of the current attempt (monotonic)
    _gw_stale = 0
    _gw_armed: tuple[TimedWakeup, ...] = ()  # deadline wakeups not yet fired

    if TYPE_CHECKING:  # provided by the subclass, `gateway.http_stream.GatewayHttpStream`
        _gw_headers_sent: bool
        _gw_retry: object | None

        def _gw(self) -> tuple[Call | None, GatewayAddon | None]: ...
        def _gw_try_next(self, call: Call, failure: Failure) -> CommandGenerator[bool]: ...
        def _gw_send_retry(self) -> CommandGenerator[None]: ...

    def make_server_connection(self) -> CommandGenerator[bool]:
        address = (self.flow.request.host, self.flow.request.port)
        ok = yield from super().make_server_connection()
        if not ok:
            self._gw_forget_failed_connection(address)
        if ok and self.flow.metadata.get(CALL) is not None:
            settings = self.flow.metadata[ADDON].pipeline.ctx.settings
            self._gw_deadline = time.monotonic() + settings.first_byte_timeout
            yield from self._gw_arm(settings.first_byte_timeout)
        return ok

    def _gw_arm(self, remaining: float) -> CommandGenerator[None]:
        """Wake up in `remaining` seconds. The gateway's connection handler arms a loop timer for
        all of it, which the stream cancels when it ends (`_gw_release_wakeups`): a call that ends
        in time is never woken. Under mitmproxy's own handler a wakeup is an asyncio task that
        cannot be cancelled, and one 120-second task per request would pile up tens of thousands
        under load: there it sleeps at most _TICK and re-arms while still waiting. (Ticks under
        the gateway's handler too woke every stream once a second: 3 % of a stream's CPU.)"""
        remaining = max(0.0, remaining)
        wakeup = TimedWakeup(min(remaining, _TICK), full=remaining)
        self._gw_waiting = wakeup
        self._gw_armed += (wakeup,)
        yield wakeup

    def _gw_release_wakeups(self) -> None:
        """The stream is done: its pending deadline wakeups no longer point at it (see _Spent)."""
        armed, self._gw_armed, self._gw_waiting = self._gw_armed, (), None
        layers = self.context.layers
        position = layers.index(self) if self in layers else 0
        sources = getattr(layers[position - 1], "command_sources", None) if position else None
        if sources is None:
            return  # not under an HTTP layer: nothing holds the wakeups but their own tasks
        for wakeup in armed:
            if sources.get(wakeup) is not self:
                continue
            if wakeup.cancel():  # a loop timer of the gateway's connection handler: gone for good
                del sources[wakeup]
            else:  # (a wakeup task of mitmproxy's own handler still fires: let it find nothing)
                sources[wakeup] = _SPENT

    def _gw_forget_failed_connection(self, address: tuple[str, int]) -> None:
        """mitmproxy keeps a failed upstream connection in the client connection's table and
        answers every later request to that address with the same error; a keep-alive client
        would never reach a provider that came back. Drop it so the next request dials again."""
        layers = self.context.layers
        parent = layers[layers.index(self) - 1]
        assert isinstance(parent, HttpLayer), "an HTTP stream runs under the HTTP layer"
        for conn in [c for c in parent.connections if isinstance(c, Server)]:
            if conn.error and conn.address == address:
                parent.connections.pop(conn, None)

    def _gw_on_wakeup(self, event: events.Wakeup) -> CommandGenerator[None]:
        if event.command in self._gw_armed:
            self._gw_armed = tuple(w for w in self._gw_armed if w is not event.command)
        call, addon = self._gw()
        if call is None or call.ended is not None or addon is None:
            return
        if event.command is self._gw_retry:
            yield from self._gw_send_retry()
            return
        settings = addon.pipeline.ctx.settings
        provider = call.attempt.provider.name if call.attempt else "?"
        if event.command is self._gw_waiting and not self._gw_headers_sent \
                and self.server_state == self.state_wait_for_response_headers:
            remaining = self._gw_deadline - time.monotonic()
            if remaining > 0:
                yield from self._gw_arm(remaining)
                return
            self._gw_waiting = None
            yield from self._gw_abort_upstream()
            failure = Failure("timeout", f"no answer within {settings.first_byte_timeout:g}s")
            if (yield from self._gw_try_next(call, failure)):
                return
            if call.error is None:
                call.error = UpstreamError(
                    f"provider {provider} sent no answer within "
                    f"{settings.first_byte_timeout:g}s; tried: {outcome.tried_summary(call)}",
                    status=504)
            yield from self._gw_give_up("first-byte timeout")
        elif event.command is self._gw_waiting and self.server_state == self.state_stream_response_body:
            idle = time.monotonic() - self._gw_last_data
            if idle < settings.chunk_timeout:
                yield from self._gw_arm(settings.chunk_timeout - idle + 0.01)
                return
            yield from self._gw_abort_upstream()
            yield from self._gw_end_stream_with_error(call, UpstreamError(
                f"provider {provider} went silent for "
                f"{settings.chunk_timeout:g}s mid-stream", status=504))

    def _gw_abort_upstream(self) -> CommandGenerator[None]:
        self._gw_stale += 1
        yield SendHttp(RequestProtocolError(self.stream_id, "gateway deadline"), self.context.server)

    def _gw_give_up(self, reason: str) -> CommandGenerator[None]:
        self.flow.error = mflow.Error(reason)
        yield HttpErrorHook(self.flow)
        yield SendHttp(ResponseProtocolError(self.stream_id, reason, 504), self.context.client)
        self.client_state = self.server_state = self.state_errored
        self.flow.live = False
        yield http_layers.DropStream(self.stream_id)

    def _gw_end_stream_with_error(self, call: Call, error: GatewayError) -> CommandGenerator[None]:
        relay = self.flow.metadata.get(RELAY)
        tail = relay.abort() if relay is not None else b""
        tail += sse_error(call.api_format, error)
        yield SendHttp(ResponseData(self.stream_id, tail), self.context.client)
        yield SendHttp(ResponseEndOfMessage(self.stream_id), self.context.client)
        outcome.finish(call, self.flow.metadata[ADDON].hooks, error)
        self.flow.error = mflow.Error(error.message)
        yield HttpErrorHook(self.flow)
        self.client_state = self.server_state = self.state_errored
        self.flow.live = False
        yield http_layers.DropStream(self.stream_id)

    def state_stream_response_body(self, event: events.Event) -> CommandGenerator[None]:
        self._gw_last_data = time.monotonic()
        if self._gw_waiting is None and self.flow.metadata.get(CALL) is not None:
            settings = self.flow.metadata[ADDON].pipeline.ctx.settings
            yield from self._gw_arm(settings.chunk_timeout)
        yield from super().state_stream_response_body(event)

