"""The one mitmproxy addon: translates mitmproxy events into the gateway pipeline.

Every event handler is wrapped by `_fail_closed`: mitmproxy's own default is to log an addon's
exception and forward the request unchanged, which for a DLP proxy would leak the prompt.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from mitmproxy import http

from gateway import eager, outcome, upstream_request, ws_bridge
from gateway.apierrors import error_body, format_for_path, sse_error
from gateway.call import Attempt, CachedAnswer, Call, Endpoint
from gateway.errors import AuthenticationFailed, GatewayError, InternalError, UpstreamError
from gateway.headers import JSON, json_response, replace_upstream
from gateway.intercept import INTERCEPTED, PASSTHROUGH
from gateway.local_routes import LocalRoutes
from gateway.pipeline import Pipeline, credential_of, endpoint_for, new_request_id
from gateway.streaming import StreamRelay, apply_whole
from gateway.upstream import UpstreamConnections

log = logging.getLogger("gateway.addon")
CALL, RELAY, FILTERS, LOCAL, ADDON = "gw.call", "gw.relay", "gw.filters", "gw.local", "gw.addon"
CACHED = "gw.cached"
CACHE_LIMIT = 8 * 1024 * 1024


_Handler = TypeVar("_Handler", bound=Callable[["GatewayAddon", http.HTTPFlow], Awaitable[None] | None])


def _fail_closed(method: _Handler) -> _Handler:
    """Answer the flow with an internal error when `method` raises. The handler is a plain
    method, so mitmproxy runs its hook without a task of its own (`gateway.connection_handler`);
    a coroutine method is started right away (`gateway.eager`) and only what is left after its
    first wait, if it waits at all, is awaited in a task."""
    if inspect.iscoroutinefunction(method):
        async def run_async(self: GatewayAddon, flow: http.HTTPFlow) -> None:
            try:
                await method(self, flow)
            except Exception:
                self.failed(method.__name__, flow)

        @functools.wraps(method)
        def run_eager(self: GatewayAddon, flow: http.HTTPFlow) -> eager.Continuation | None:
            return eager.start(run_async(self, flow))
        return cast(_Handler, run_eager)

    @functools.wraps(method)
    def run(self: GatewayAddon, flow: http.HTTPFlow) -> None:
        try:
            method(self, flow)
        except Exception:
            self.failed(method.__name__, flow)
    return cast(_Handler, run)


class GatewayAddon:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.hooks = pipeline.hooks
        self.local = LocalRoutes(pipeline)
        self.websockets: ws_bridge.WebSocketBridge | None = None  # set by the proxy server
        self.upstream = UpstreamConnections(pipeline.ctx.settings)  # added as its own addon

    def failed(self, where: str, flow: http.HTTPFlow) -> None:
        """A handler raised (the exception is being handled): log it, refuse the call."""
        call = flow.metadata.get(CALL) if hasattr(flow, "metadata") else None
        rid = call.request_id if call else "-"
        log.exception("gateway failure in %s request_id=%s", where, rid, extra={"request_id": rid})
        if isinstance(flow, http.HTTPFlow):
            self.refuse(flow, InternalError(f"internal gateway error (request id {rid})"))

    # -- request side -------------------------------------------------------------------------

    @_fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or flow.metadata.get(PASSTHROUGH):
            return  # refused by the interceptor, or plain proxy traffic to another host
        req = flow.request
        path = req.path.split("?", 1)[0]
        rid = new_request_id()
        if ws_bridge.is_upgrade(req.method, path, req.headers):
            flow.metadata[LOCAL] = True
            await self._websocket(flow, rid)
            return
        if req.method == "GET" or path in self.local.paths:
            flow.metadata[LOCAL] = True
            await self.local.answer(flow, path, rid)
            return
        try:
            call = Call(request_id=rid, endpoint=endpoint_for(req.method, path), body={},
                        headers=req.headers, ctx=self.pipeline.ctx)
        except GatewayError as exc:
            flow.metadata[LOCAL] = True
            flow.response = json_response(exc.status, error_body(format_for_path(path), exc),
                                          {"x-gateway-request-id": rid})
            await self.local.unknown.seen(req.method, path, req.headers, rid, exc)
            return
        call.intercepted = bool(flow.metadata.get(INTERCEPTED))
        flow.metadata[CALL] = call
        flow.metadata[ADDON] = self
        try:
            await self.pipeline.begin(call, req.get_content(strict=False) or b"")
            attempt = self.pipeline.next_attempt(call)
            cached = await self.hooks.cache_lookup(call, attempt)
            if cached is not None:
                call.cache_hit = True
                flow.metadata[CACHED] = True
                flow.response = json_response(cached.status, cached.body,
                                              {"content-type": cached.content_type})
            else:
                self.apply_attempt(flow, attempt)
        except GatewayError as exc:
            self.refuse(flow, exc)

    async def _websocket(self, flow: http.HTTPFlow, rid: str) -> None:
        """Hand a Responses WebSocket to this process's bridge once the key checks out; every
        message then runs through the pipeline as its own call (see `gateway.ws_bridge`)."""
        req = flow.request
        headers = {"x-gateway-request-id": rid}
        try:
            credential = credential_of(req.headers)
            probe = Call(request_id=rid, endpoint=Endpoint.RESPONSES, body={},
                         headers=req.headers, ctx=self.pipeline.ctx)
            if credential is None or await self.hooks.authenticate(probe, credential) is None:
                raise AuthenticationFailed("missing or invalid API key")
            if self.websockets is None:
                raise GatewayError("this gateway serves /v1/responses over HTTP only",
                                   status=426, error_type="invalid_request_error")
            port = await self.websockets.ensure_started()
        except GatewayError as exc:
            flow.response = json_response(exc.status, error_body(format_for_path(req.path), exc),
                                          {**headers, **exc.headers})
            return
        req.scheme, req.host, req.port = "http", "127.0.0.1", port
        req.headers["host"] = f"127.0.0.1:{port}"
        req.headers[ws_bridge.TOKEN_HEADER] = self.websockets.token

    def apply_attempt(self, flow: http.HTTPFlow, attempt: Attempt) -> None:
        """Point the flow at the attempt's provider (also used by the stream layer on retry)."""
        host = upstream_request.point(flow.request, attempt, self.pipeline.upstream_body(attempt))
        if attempt.provider.address_guard is not None:
            self.upstream.guard(host, attempt.provider.address_guard == "private")

    def refuse(self, flow: http.HTTPFlow, error: GatewayError) -> None:
        """Answer with `error` now; the provider never sees this request."""
        call: Call | None = flow.metadata.get(CALL)
        flow.metadata[LOCAL] = True
        if call is None:
            fmt = format_for_path(flow.request.path)
            flow.response = json_response(error.status, error_body(fmt, error), error.headers)
            return
        call.error = error
        call.status = error.status  # what the client gets (a provider's own status stays on
        #                             its attempt, and is logged as provider_status)
        headers = {**outcome.error_headers(call, self.hooks), **error.headers}
        flow.response = json_response(error.status, outcome.error_response_body(call, error), headers)
        outcome.finish(call, self.hooks, error)

    # -- response side ------------------------------------------------------------------------

    @_fail_closed
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        call: Call | None = flow.metadata.get(CALL)
        if call is None or flow.metadata.get(LOCAL):
            return
        resp, attempt = flow.response, call.attempt
        assert resp is not None and attempt is not None, "answer headers come from an attempt"
        attempt.status = resp.status_code
        call.first_byte = call.first_byte or time.monotonic()
        if not 200 <= resp.status_code < 300:
            return  # read whole: mapped to the client's error shape in `response`
        filters = self.hooks.response_filters(call, attempt)
        flow.metadata[FILTERS] = filters
        ctype = resp.headers.get("content-type", "")
        if "text/event-stream" in ctype or "ndjson" in ctype:
            relay = StreamRelay(call, filters, lambda exc: sse_error(
                call.api_format, exc if isinstance(exc, GatewayError) else InternalError(
                    f"internal gateway error (request id {call.request_id})")),
                                ndjson="ndjson" in ctype)
            if call.store_answer and not call.cache_hit:
                relay.capture = bytearray()
            flow.metadata[RELAY] = relay
            resp.stream = relay
            replace_upstream(resp, outcome.gateway_headers(call, self.hooks), keep_framing=True)

    @_fail_closed
    def response(self, flow: http.HTTPFlow) -> None:
        call: Call | None = flow.metadata.get(CALL)
        if call is None:
            return
        if call.error is not None:  # refused earlier: mitmproxy may have read a body into it
            self.refuse(flow, call.error)
            return
        if flow.metadata.get(LOCAL):
            return
        resp = flow.response
        assert resp is not None, "mitmproxy's response event carries a response"
        call.status = resp.status_code
        relay: StreamRelay | None = flow.metadata.get(RELAY)
        if relay is not None:
            if flow.metadata.get(CACHED):  # a replayed answer is sent whole: filter it whole
                resp.content = b"".join(_parts(relay(resp.raw_content or b"")) + _parts(relay(b"")))
            if relay.failed:
                outcome.finish(call, self.hooks, relay.error or InternalError("response filter failed"))
                return
            if relay.capture is not None and len(relay.capture) <= CACHE_LIMIT:
                self._store(call, resp, bytes(relay.capture))
            outcome.finish(call, self.hooks)
            return
        if 200 <= resp.status_code < 300:
            self._finish_whole(flow, call)
        else:
            self._finish_upstream_error(flow, call)

    def _store(self, call: Call, resp: http.Response, raw: bytes) -> None:
        answer = CachedAnswer(resp.status_code, resp.headers.get("content-type", JSON), raw)
        assert call.attempt is not None, "only an attempt's answer is stored"
        self.hooks.cache_store(call, call.attempt, answer)

    def _finish_whole(self, flow: http.HTTPFlow, call: Call) -> None:
        resp, attempt = flow.response, call.attempt
        assert resp is not None and attempt is not None, "a whole answer from an attempt"
        filters = flow.metadata.get(FILTERS) or []
        raw = resp.get_content(strict=False) or b""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            name = attempt.provider.name
            self.refuse(flow, UpstreamError(f"provider {name} returned an answer that is not JSON"))
            return
        if filters:
            answer = apply_whole(filters, raw, body)
            if answer is not None:
                _set_body(resp, answer)
        replace_upstream(resp, outcome.gateway_headers(call, self.hooks))
        resp.headers["content-length"] = str(len(resp.raw_content or b""))
        if call.store_answer and not call.cache_hit and len(raw) <= CACHE_LIMIT:
            self._store(call, resp, raw)
        outcome.finish(call, self.hooks)

    def _finish_upstream_error(self, flow: http.HTTPFlow, call: Call) -> None:
        resp = flow.response
        assert resp is not None, "an upstream error answer"
        error = outcome.map_upstream_error(call, resp.status_code, resp.get_content(strict=False) or b"",
                                           resp.headers.get("retry-after"))
        self.refuse(flow, error)

    @_fail_closed
    def error(self, flow: http.HTTPFlow) -> None:
        call: Call | None = flow.metadata.get(CALL)
        if call is None or call.ended is not None:
            return
        message = flow.error.msg if flow.error else "unknown error"
        relay: StreamRelay | None = flow.metadata.get(RELAY)
        if "client disconnected" in message.lower() or "client closed" in message.lower():
            call.client_disconnected = True
            call.status = call.status or 499
            if relay is not None:
                relay.abort()
            outcome.finish(call, self.hooks)
            return
        if relay is not None:
            relay.abort()
            outcome.finish(call, self.hooks, UpstreamError(f"stream from provider interrupted: {message}"))
            return
        error = call.error or outcome.upstream_failure(call, message)
        call.error = error
        outcome.finish(call, self.hooks, error)

def _parts(out: bytes | list[bytes]) -> list[bytes]:
    return [out] if isinstance(out, bytes) else out


def _set_body(resp: http.Response, body: bytes) -> None:
    """A rewritten whole answer. mitmproxy's `content` setter looks up and applies the
    content-encoding and rewrites the length header on every call; an answer without an encoding
    takes the bytes as they are (the caller sets the length)."""
    if "content-encoding" in resp.headers:
        resp.content = body
    else:
        resp.data.content = body
