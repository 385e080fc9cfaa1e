"""The answer side of a call: gateway headers, provider errors mapped to the client's API, and the
end of a call (`gateway_call_complete` / `gateway_call_failed`, one structured log line)."""

from __future__ import annotations

import json
import logging
import re
import time

from gateway.apierrors import error_body
from gateway.call import Attempt, Call
from gateway.errors import GatewayError, RateLimited, UpstreamError
from gateway.logs import CallLog
from gateway.pluginmanager import Hooks

log = logging.getLogger("gateway.calls")
calls_log = CallLog("gateway.calls")

_SECRETISH = re.compile(r"(sk-[A-Za-z0-9_\-*]{6,}|sk-ant-[A-Za-z0-9_\-*]{6,}|Bearer\s+\S+)")


def gateway_headers(call: Call, hooks: Hooks) -> dict[str, str]:
    headers = core_headers(call)
    headers.update(call.response_headers)
    headers.update(hooks.response_headers(call))
    return headers


def core_headers(call: Call) -> dict[str, str]:
    headers = {"x-gateway-request-id": call.request_id}
    attempt = call.attempt
    if attempt is not None:
        headers["x-gateway-requested-model"] = call.requested_model
        headers["x-gateway-model"] = attempt.route.model
        headers["x-gateway-provider"] = attempt.provider.name
        headers["x-gateway-fallback"] = "true" if attempt.number > 1 else "false"
        headers["x-gateway-attempts"] = str(attempt.number)
        headers["x-gateway-cache"] = "hit" if call.cache_hit else "miss"
        if attempt.dropped_params:
            headers["x-gateway-dropped-params"] = dropped_summary(attempt.dropped_params)
    return headers


def error_headers(call: Call, hooks: Hooks) -> dict[str, str]:
    """The headers of an error answer: the core's and the plugins', or only the core's when a
    plugin's header hook is itself what failed (the error must still go out)."""
    try:
        return gateway_headers(call, hooks)
    except Exception:
        log.exception("gateway_response_headers failed request_id=%s", call.request_id)
        return {**core_headers(call), **call.response_headers}


def dropped_summary(names: list[str]) -> str:
    return ", ".join(dict.fromkeys(names))


def scrub(text: str, secret: str | None = None) -> str:
    if secret:
        text = text.replace(secret, "[redacted]")
    return _SECRETISH.sub("[redacted]", text)


def provider_message(body: bytes) -> str:
    """The human part of a provider's error body, whatever its shape."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body[:300].decode("utf-8", "replace").strip()
        return text if text and "<" not in text[:1] else "no readable error message"
    err = data.get("error") if isinstance(data, dict) else None
    message = err.get("message") if isinstance(err, dict) else None
    if isinstance(message, str):
        return message
    if isinstance(err, str):
        return err
    return "no readable error message"


def tried_summary(call: Call) -> str:
    def outcome(a: Attempt) -> str:
        if a.status:
            return f"HTTP {a.status}"
        return a.failure.kind if a.failure else "no answer"
    return ", ".join(f"{a.route.model} ({outcome(a)})" for a in call.attempts) or "nothing"


def map_upstream_error(call: Call, status: int, body: bytes, retry_after: str | None) -> GatewayError:
    """A provider's non-2xx answer, as the error the client gets (status the SDKs understand)."""
    attempt = call.attempt
    name = attempt.provider.name if attempt else "provider"
    secret = attempt.provider.api_key if attempt else None
    message = scrub(provider_message(body), secret)
    tried = tried_summary(call)
    if 300 <= status < 400:
        # The gateway never follows a provider's redirect (it could point anywhere, and would
        # carry the gateway's credentials there); a client cannot follow one without a Location.
        return UpstreamError(f"provider {name} answered with a redirect (HTTP {status}); "
                             f"check its base URL; tried: {tried}")
    if status in (401, 403):
        return UpstreamError(f"provider {name} rejected the gateway's credentials (HTTP {status}); "
                             f"tried: {tried}")
    if status == 429:
        headers = {"retry-after": retry_after} if retry_after else {}
        return RateLimited(f"provider {name} is rate limiting: {message}; tried: {tried}",
                           headers=headers)
    if status >= 500:
        code = 504 if status == 504 else 503 if status in (503, 529) else 502
        return UpstreamError(f"provider {name} failed (HTTP {status}): {message}; tried: {tried}",
                             status=code)
    return GatewayError(f"provider {name}: {message}", status=status,
                        error_type="invalid_request_error")


def finish(call: Call, hooks: Hooks, error: GatewayError | None = None) -> None:
    """End the call exactly once: hooks, then one log line."""
    if call.ended is not None:
        return
    call.ended = time.monotonic()
    if error is not None:
        call.status = call.status or error.status
        call.error_type = error.error_type
        hooks.call_failed(call, error)
    else:
        hooks.call_complete(call)
    attempt = call.attempt
    fields = {"request_id": call.request_id, "status": call.status,
              "endpoint": call.endpoint.value, "model": attempt.route.model if attempt else None,
              "provider": attempt.provider.name if attempt else None,
              "dropped": list(dict.fromkeys(attempt.dropped_params)) if attempt else []}
    calls_log.info(_line(call, attempt, error), fields)
    _release(call, error)


def _line(call: Call, attempt: Attempt | None, error: GatewayError | None) -> str:
    """The call's log line (its fields go along as the record's attributes)."""
    assert call.ended is not None, "a finished call"
    dropped = (f" dropped={dropped_summary(attempt.dropped_params).replace(' ', '')}"
               if attempt is not None and attempt.dropped_params else "")
    return (f"call request_id={call.request_id} status={call.status} "
            f"endpoint={call.endpoint.value} "
            f"key={call.principal.key_prefix if call.principal else '-'} "
            f"requested={call.requested_model or '-'} "
            f"actual={attempt.route.model if attempt else '-'} "
            f"provider={attempt.provider.name if attempt else '-'} attempts={len(call.attempts)} "
            f"stream={call.stream} in={int(call.usage.input_tokens)} "
            f"out={int(call.usage.output_tokens)} ms={int((call.ended - call.started) * 1000)}"
            f"{' disconnected' if call.client_disconnected else ''}{dropped}"
            f"{f' error={error.error_type}: {error.message}' if error else ''}")


def _release(call: Call, error: GatewayError | None) -> None:
    """The call is over: let it be freed by reference counting as soon as its request is, not by
    the cycle collector (whose collections then paused the event loop for 5–70 ms under load).
    Plugins' per-call objects in the stash often refer back to the call, and an error's traceback
    holds the frames that had the call as a local."""
    call.stash.clear()
    for exc in (error, call.error):
        if exc is not None:
            exc.__traceback__ = None


def upstream_failure(call: Call, message: str) -> GatewayError:
    attempt = call.attempt
    name = attempt.provider.name if attempt else "provider"
    tried = tried_summary(call)
    if "connection cancelled" in message:
        return UpstreamError(f"connecting to provider {name} timed out; tried: {tried}", status=504)
    if "timed out" in message or "timeout" in message:
        return UpstreamError(f"provider {name} did not answer in time; tried: {tried}", status=504)
    return UpstreamError(f"could not reach provider {name}: {scrub(message)}; tried: {tried}")


def error_response_body(call: Call, error: GatewayError) -> bytes:
    return error_body(call.api_format, error)
