"""What the writer thread writes, built on the event loop from a finished call: a request-log row
(plain dict, ready for an executemany insert), the stored conversation, an error report."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from gateway.call import Call, Endpoint, Principal, Usage
from gateway.outcome import scrub

MAX_BODY_CHARS = 256 * 1024
# `Enum.value` is a descriptor call; a dict look-up is several times cheaper on the hot path.
ENDPOINT_PATH = {e: e.value for e in Endpoint}
STATUS_CLASS = {code: f"{code // 100}xx" for code in range(0, 600)}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class LogRecord:
    row: dict[str, Any]  # a request_logs row
    bodies: dict[str, Any] | None = None  # a metering_bodies row


@dataclass(frozen=True)
class ErrorRecord:
    row: dict[str, Any]  # a metering_error_reports row


@dataclass(frozen=True)
class CacheRecord:
    row: dict[str, Any]  # a metering_cache row


def wall_time(call: Call) -> datetime:
    return datetime.fromtimestamp(call.started_wall, UTC)


def _ms(start: float, end: float | None) -> int | None:
    return None if end is None else max(0, int((end - start) * 1000))


def log_row(call: Call, usage: Usage, cost: Decimal, unpriced: bool = False) -> dict[str, Any]:
    p, attempt = call.principal, call.attempt
    return {
        # A float until the writer thread makes it a datetime (cheaper off the event loop).
        "request_id": call.request_id, "created_at": call.started_wall,
        "key_prefix": p.key_prefix if p else None, "key_name": p.key_name if p else None,
        "user_id": p.user_id if p else None, "app_id": p.app_id if p else None,
        "org_id": p.org_id if p else None,
        "endpoint": call.path if call.endpoint is Endpoint.UNKNOWN else ENDPOINT_PATH[call.endpoint],
        "requested_model": call.requested_model or None,
        "actual_model": attempt.route.model if attempt else None,
        "provider": attempt.provider.name if attempt else None,
        "agent_id": call.agent_id, "cost_mode": call.cost_mode,
        "status": call.status or 0, "error_type": call.error_type,
        "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_input_tokens, "cache_write_tokens": usage.cache_write_tokens,
        "usage_estimated": usage.estimated, "cost_usd": cost, "unpriced": unpriced,
        "intercepted": call.intercepted,
        "provider_status": attempt.status if attempt else None,
        "latency_ms": _ms(call.started, call.ended) or 0, "ttfb_ms": _ms(call.started, call.first_byte),
        "cache_hit": call.cache_hit, "fallback_attempts": max(0, len(call.attempts) - 1),
    }


def bodies_row(call: Call, answer: str | None, retention_days: int,
               keep_request: bool = True) -> dict[str, Any]:
    """The conversation as the provider saw it (call.body is redacted by DLP in place)."""
    created = wall_time(call)
    request = json.dumps(call.body, ensure_ascii=False)[:MAX_BODY_CHARS] if keep_request else None
    user_id = call.principal.user_id if call.principal else None
    return {"request_id": call.request_id, "user_id": user_id,
            "created_at": created, "expires_at": created + timedelta(days=retention_days),
            "request_body": request, "response_body": answer[:MAX_BODY_CHARS] if answer else answer}


def clean(value: Any, limit: int) -> str | None:
    """Text safe to store and show: a string, control characters removed, secrets scrubbed,
    at most `limit` characters."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return scrub(_CONTROL.sub("", text[: limit * 2]))[:limit] or None


def error_row(source: str, *, type: Any = None, model: Any = None, error: Any = None,
              agent: Any = None, version: Any = None, status: int | None = None,
              call: Call | None = None, principal: Principal | None = None, request_id: str | None = None,
              when: datetime | None = None) -> dict[str, Any]:
    p = principal or (call.principal if call else None)
    return {
        "created_at": when or datetime.now(UTC), "source": clean(source, 32) or "unknown",
        "type": clean(type, 64), "model": clean(model, 200), "error": clean(error, 4000),
        "agent": clean(agent, 100), "version": clean(version, 64), "status": status,
        "user_id": p.user_id if p else None, "app_id": p.app_id if p else None,
        "org_id": p.org_id if p else None, "key_prefix": p.key_prefix if p else None,
        "request_id": request_id or (call.request_id if call else None),
    }
