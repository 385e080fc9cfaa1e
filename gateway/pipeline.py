"""The request side of a call: parse, authenticate, route, admit, transform, build attempts.

Everything here is independent of mitmproxy; the addon and the stream layer call it.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from gateway.call import ApiFormat, Attempt, Call, Endpoint, Failure, Principal
from gateway.context import GatewayContext
from gateway.errors import AuthenticationFailed, BadRequest, Forbidden, GatewayError, NotFound, UpstreamError
from gateway.jsontext import compact_bytes
from gateway.providers import auth_headers, upstream_path
from gateway.validation import check_headers, clean_path, parse_body, validate

log = logging.getLogger("gateway.pipeline")

ENDPOINTS = {e.value: e for e in Endpoint if e is not Endpoint.UNKNOWN}
COST_MODES = ("normal", "heavy", "max")


_ID_PREFIX = uuid.uuid4().hex[:12]  # unique per process; the counter makes ids unique within it
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"req_{_ID_PREFIX}{next(_ID_COUNTER):012x}"


def credential_of(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return headers.get("x-api-key", "").strip() or None


class Pipeline:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.hooks = ctx.hooks

    async def begin(self, call: Call, raw_body: bytes) -> None:
        """Fill `call` from the client's request or raise the GatewayError to answer with."""
        # Names that end up in answer headers and logs are checked before any hook sees them.
        check_headers(call.headers)
        credential = credential_of(call.headers)
        if credential is None:
            raise AuthenticationFailed("missing API key: send 'Authorization: Bearer <key>' or "
                                       "'x-api-key: <key>'")
        try:
            principal = await self.hooks.authenticate(call, credential)
        except Forbidden as exc:
            call.principal = exc.principal  # refused, but logged as the owner's call
            raise
        if principal is None:
            raise AuthenticationFailed("invalid API key")
        call.principal = principal
        # The body reaches the call (and so any hook) only once validated, its names included.
        body = parse_body(raw_body)
        validate(call.endpoint, body)
        call.body = body
        self._read_options(call)
        route = self.hooks.resolve_model(call)
        if route is None:
            raise NotFound(f"model {call.requested_model!r} is not available")
        call.route = route
        call.candidates = self.hooks.plan_candidates(call, route)
        await self.hooks.admit(call)
        self.hooks.transform_request(call)

    def _read_options(self, call: Call) -> None:
        body, headers = call.body, call.headers
        call.requested_model = body["model"]
        # Ollama's native API streams unless told not to; the others only when asked.
        call.stream = bool(body.get("stream", call.api_format is ApiFormat.OLLAMA))
        call.agent_id = headers.get("x-agent-id") or None
        if call.requested_model.startswith("agent/"):
            call.agent_id = call.requested_model[len("agent/"):] or call.agent_id
        mode = (headers.get("x-cost-mode") or "normal").strip().lower()
        if mode not in COST_MODES:
            raise BadRequest(f"X-Cost-Mode must be one of {', '.join(COST_MODES)}")
        call.cost_mode = mode

    async def principal_for(self, headers: Mapping[str, str],
                            request_id: str) -> Principal | None:
        """Who presented these headers' key, for requests that are not calls (local routes,
        unknown endpoints): None without a key, or with one that is unknown or refused."""
        credential = credential_of(headers)
        if credential is None:
            return None
        probe = Call(request_id=request_id, endpoint=Endpoint.UNKNOWN, body={}, headers=headers,
                     ctx=self.ctx)
        try:
            return await self.hooks.authenticate(probe, credential)
        except GatewayError:
            return None

    def has_next(self, call: Call) -> bool:
        return len(call.attempts) < len(call.candidates)

    def next_attempt(self, call: Call) -> Attempt:
        """Build the attempt for the next candidate, in the provider's wire format."""
        route = call.candidates[len(call.attempts)]
        provider = self.ctx.provider(route.provider)
        if provider is None:
            raise UpstreamError(f"provider {route.provider!r} is not configured")
        body: dict[str, Any] = dict(call.body)
        body["model"] = route.upstream_model
        attempt = Attempt(number=len(call.attempts) + 1, route=route, provider=provider,
                          path="", body=body, wire_format=call.api_format)
        call.attempts.append(attempt)
        if provider.speaks(call.api_format):
            attempt.path = upstream_path(provider, call.endpoint)
        self.hooks.prepare_attempt(call, attempt)
        if not provider.speaks(attempt.wire_format) or not attempt.path:
            raise BadRequest(
                f"model {route.model!r} is served by the {provider.wire_format.value} API and this "
                f"call uses the {call.api_format.value} API; no plugin translated it")
        attempt.headers = {**auth_headers(provider, call.headers), **attempt.headers}
        return attempt

    def should_retry(self, call: Call, failure: Failure) -> bool:
        attempt = call.attempt
        if attempt is None:
            return False
        attempt.failure = failure
        return self.has_next(call) and self.hooks.retry(call, attempt, failure)

    @staticmethod
    def upstream_body(attempt: Attempt) -> bytes:
        return compact_bytes(attempt.body)


def endpoint_for(method: str, path: str) -> Endpoint:
    endpoint = ENDPOINTS.get(path)
    if endpoint is None:
        raise NotFound(f"unknown endpoint {clean_path(method)[:10]} {clean_path(path)}")
    if method != "POST":
        raise GatewayError(f"{path} accepts POST, not {clean_path(method)[:10]}", status=405,
                           error_type="invalid_request_error")
    return endpoint
