"""A subclass of mitmproxy's internal `HttpStream`, installed in place of the original.

Why this exists: mitmproxy's public addon API cannot (a) answer an upstream failure with anything
but its own HTML error page, (b) bound the wait for the first byte or between chunks, or (c) try
another provider after a failure while keeping the client's answer a stream (an addon response is
always sent whole). All three live in the HTTP stream layer, so we extend that layer:

- every error mitmproxy would send to the client before any response byte becomes a JSON error in
  the called API's shape;
- after each request is sent, a wakeup bounds the wait for response headers (first-byte deadline)
  and, while streaming, the silence between chunks (`gateway.stream_deadlines`);
- a failure before the first byte (connect error, deadline, a status the `gateway_retry` hook
  accepts) re-targets the same flow at the next candidate and sends it again.

It relies on mitmproxy internals, hence the exact pin `mitmproxy==11.0.2` and the real-socket
tests in tests/test_http_stream.py. Verify both before changing the pin.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layer import CommandGenerator
from mitmproxy.proxy.layers import http as http_layers
from mitmproxy.proxy.layers.http import (
    RequestData,
    RequestEndOfMessage,
    RequestHeaders,
    RequestProtocolError,
    ResponseData,
    ResponseEndOfMessage,
    ResponseHeaders,
    ResponseProtocolError,
    SendHttp,
)

from gateway import outcome, stream_retire
from gateway.apierrors import error_body, format_for_path
from gateway.call import Call, Failure
from gateway.errors import GatewayError, InternalError, PayloadTooLarge, UpstreamError
from gateway.headers import json_response
from gateway.pipeline import new_request_id
from gateway.stream_deadlines import ADDON, CALL, DeadlinesMixin

if TYPE_CHECKING:
    from gateway.addon import GatewayAddon

log = logging.getLogger("gateway.stream")
_STALE_MESSAGES = ("server closed connection", "HTTP/1 protocol error", "unexpected server response")
_MAX_ERROR_BODY = 64 * 1024


class GatewayHttpStream(DeadlinesMixin):
    _gw_headers_sent = False
    _gw_error_buf: bytearray | None = None
    _gw_retry: object | None = None  # the wakeup that sends the next attempt

    # -- plumbing -----------------------------------------------------------------------------

    def _gw(self) -> tuple[Call | None, GatewayAddon | None]:
        flow = getattr(self, "flow", None)
        if flow is None:
            return None, None
        return flow.metadata.get(CALL), flow.metadata.get(ADDON)

    def _handle_event(self, event: events.Event) -> CommandGenerator[None]:
        # Fail closed: a plugin hook called from here (retry, prepare_attempt, response filters,
        # headers) that raises ends this call with a JSON error or a final error event, runs the
        # end-of-call hooks once, and never reaches mitmproxy (which would log "mitmproxy has
        # crashed!" and leave the client waiting).
        try:
            if isinstance(event, events.Wakeup):
                yield from self._gw_filter(self._gw_on_wakeup(event))
            elif self._gw_headers_sent:  # nothing left to rewrite: skip the filter (hot path)
                yield from super()._handle_event(event)
            else:
                yield from self._gw_filter(super()._handle_event(event))
        except Exception:
            yield from self._gw_fail_closed()
        if stream_retire.ended(self.server_state):
            if self._gw_armed:
                self._gw_release_wakeups()
            if stream_retire.finished(self):
                stream_retire.retire(self)  # freed as soon as mitmproxy lets go of it

    def _gw_fail_closed(self) -> CommandGenerator[None]:
        call, _ = self._gw()
        rid = call.request_id if call is not None else "-"
        log.exception("gateway failure in the stream layer request_id=%s", rid,
                      extra={"request_id": rid})
        error = InternalError(f"internal gateway error (request id {rid})")
        if getattr(self, "flow", None) is None:
            return
        if self._gw_headers_sent:
            if call is not None and call.ended is None:
                yield from self._gw_end_stream_with_error(call, error)
            return
        if call is not None:
            call.error = error
        yield from self._gw_send_json_error(ResponseProtocolError(self.stream_id, "internal", 500))
        if self.server_state not in (self.state_done, self.state_errored):
            yield SendHttp(RequestProtocolError(self.stream_id, "gateway failure"),
                           self.context.server)
        self.client_state = self.server_state = self.state_errored
        self.flow.live = False
        yield http_layers.DropStream(self.stream_id)

    def _gw_filter(self, gen: Generator[commands.Command, Any, Any]) -> CommandGenerator[None]:
        """Pass commands through, turning an error page bound for the client into JSON."""
        reply = None
        while True:
            try:
                cmd = gen.send(reply)
            except StopIteration:
                return
            if isinstance(cmd, SendHttp) and cmd.connection == self.context.client:
                if isinstance(cmd.event, ResponseHeaders):
                    self._gw_headers_sent = True
                elif isinstance(cmd.event, ResponseProtocolError) and not self._gw_headers_sent:
                    yield from self._gw_send_json_error(cmd.event)
                    reply = None
                    continue
            reply = yield cmd

    def _gw_send_json_error(self, event: ResponseProtocolError) -> CommandGenerator[None]:
        call, addon = self._gw()
        error = call.error if call else None
        if error is None:
            error = _error_for(event)
        if call is not None and addon is not None:
            call.status = error.status  # the status this client gets
            body = outcome.error_response_body(call, error)
            headers = {**outcome.error_headers(call, addon.hooks), **error.headers}
            outcome.finish(call, addon.hooks, error)
        else:
            path = self.flow.request.path if getattr(self, "flow", None) else "/"
            body = error_body(format_for_path(path), error)
            headers = {"x-gateway-request-id": new_request_id()}
        resp = json_response(error.status, body, headers)
        self._gw_headers_sent = True
        yield SendHttp(ResponseHeaders(self.stream_id, resp, False), self.context.client)
        yield SendHttp(ResponseData(self.stream_id, body), self.context.client)
        yield SendHttp(ResponseEndOfMessage(self.stream_id), self.context.client)

    # -- retry before the first byte ----------------------------------------------------------

    def state_wait_for_response_headers(self, event: ResponseHeaders) -> CommandGenerator[None]:
        call, addon = self._gw()
        self._gw_waiting = None
        status = event.response.status_code
        if call is not None and addon is not None and status >= 400 and addon.pipeline.has_next(call):
            self.flow.response = event.response
            self._gw_error_buf = bytearray()
            if event.end_stream:
                yield from self._gw_failed_answer(call)
            else:
                self.server_state = self._gw_state_error_body
            return
        yield from super().state_wait_for_response_headers(event)

    def _gw_state_error_body(self, event: events.Event) -> CommandGenerator[None]:
        buf = self._gw_error_buf
        if isinstance(event, ResponseData):
            if buf is not None and len(buf) < _MAX_ERROR_BODY:
                buf += event.data
        elif isinstance(event, ResponseEndOfMessage):
            call, _ = self._gw()
            if call is not None:
                yield from self._gw_failed_answer(call)

    def _gw_failed_answer(self, call: Call) -> CommandGenerator[None]:
        resp, attempt = self.flow.response, call.attempt
        assert resp is not None and attempt is not None, "an attempt's error answer"
        body = bytes(self._gw_error_buf or b"")
        attempt.status = resp.status_code
        failure = Failure("status", f"HTTP {resp.status_code}", status=resp.status_code, body=body,
                          retry_after=_retry_after(resp.headers.get("retry-after")))
        if (yield from self._gw_try_next(call, failure)):
            return
        resp.data.content = body  # not retried: the normal path maps it to the client's shape
        self.server_state = self.state_consume_response_body
        yield from self.send_response()

    def _gw_try_next(self, call: Call, failure: Failure) -> CommandGenerator[bool]:
        """Re-target the flow at the next candidate; False when giving up.

        The new request is sent from a zero-delay wakeup, not right here: we are inside the
        failed connection's own event handling, and HTTP/1 only frees that connection for reuse
        once this event is done (sending now would interleave with its bookkeeping)."""
        _, addon = self._gw()
        try:
            if addon is None or not addon.pipeline.should_retry(call, failure):
                return False
            addon.apply_attempt(self.flow, addon.pipeline.next_attempt(call))
        except GatewayError as exc:
            call.error = exc
            return False
        except Exception:  # a plugin's retry or prepare_attempt hook failed: give up, closed
            log.exception("gateway failure choosing the next attempt request_id=%s",
                          call.request_id, extra={"request_id": call.request_id})
            call.error = InternalError(
                f"internal gateway error (request id {call.request_id})")
            return False
        self.flow.response = None
        self.flow.error = None
        self.server_state = self._gw_state_retry_pending
        self._gw_retry = commands.RequestWakeup(0)
        yield self._gw_retry
        return True

    def _gw_state_retry_pending(self, event: events.Event) -> CommandGenerator[None]:
        yield from ()  # late events of the abandoned attempt

    def _gw_send_retry(self) -> CommandGenerator[None]:
        self._gw_retry = None
        self.server_state = self.state_wait_for_response_headers
        ok = yield from self.make_server_connection()
        if ok:
            req = self.flow.request
            yield SendHttp(RequestHeaders(self.stream_id, req, not req.raw_content), self.context.server)
            if req.raw_content:
                yield SendHttp(RequestData(self.stream_id, req.raw_content), self.context.server)
            yield SendHttp(RequestEndOfMessage(self.stream_id), self.context.server)

    def handle_protocol_error(
            self, event: RequestProtocolError | ResponseProtocolError) -> CommandGenerator[None]:
        if isinstance(event, ResponseProtocolError) and self._gw_stale \
                and event.message.startswith(_STALE_MESSAGES):
            self._gw_stale -= 1  # the connection we closed on a deadline reporting its own end
            return
        if self.server_state == self._gw_state_retry_pending:
            return  # the abandoned attempt's connection ending while the next one is queued
        call, _ = self._gw()
        if (isinstance(event, ResponseProtocolError) and call is not None and call.ended is None
                and not self._gw_headers_sent and call.attempts
                and self.server_state == self.state_wait_for_response_headers):
            self._gw_waiting = None
            kind = "connect" if "connect" in event.message.lower() or "refused" in event.message.lower() \
                else "protocol"
            if (yield from self._gw_try_next(call, Failure(kind, event.message))):
                return
        yield from super().handle_protocol_error(event)


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _error_for(event: ResponseProtocolError) -> GatewayError:
    if event.code == 413:
        return PayloadTooLarge("request body is larger than the gateway's limit")
    if event.code == 499:
        return GatewayError("client closed the request", status=499)
    return UpstreamError(f"upstream failure: {outcome.scrub(event.message)}",
                         status=event.code if event.code in (502, 503, 504) else 502)


def install() -> None:
    """Make mitmproxy create our stream layer for every HTTP stream (idempotent)."""
    setattr(http_layers, "HttpStream", GatewayHttpStream)  # noqa: B010 - replaces a class at run time
