"""Which failures move a call on to its next candidate (pure functions, no state).

Retried: the provider could not be reached or answer (connect refused/reset, TLS failure, no
first byte in time), it is overloaded or failing (429, 500, 502, 503, 504, 529), it refuses the
gateway's own account (401/403: a bad provider credential must fail over, not reach the client)
or the account is out of credit (OpenAI `insufficient_quota`, Anthropic billing errors, any 402).
Never retried: the client's own 4xx — except "context too long", and only towards a candidate
with a larger context window (the caller checks the windows).
"""

from __future__ import annotations

import json

from gateway.call import Failure

SERVER_STATUSES = frozenset({500, 502, 503, 504, 529})
CREDENTIAL_STATUSES = frozenset({401, 403})

# Reasons returned by `classify`; `CONTEXT` is the only one that is the request's fault.
UNREACHABLE, RATE_LIMITED, SERVER, CREDENTIALS, BILLING, CONTEXT = (
    "unreachable", "rate_limited", "server_error", "credentials", "billing", "context_too_long")

_BILLING_CODES = ("insufficient_quota", "billing_error", "billing_hard_limit_reached",
                  "billing_not_active", "credit_balance_too_low")
_BILLING_TEXT = ("credit balance", "exceeded your current quota", "insufficient_quota",
                 "billing", "out of credits", "payment required")
_CONTEXT_CODES = ("context_length_exceeded", "string_above_max_length")
_CONTEXT_TEXT = ("maximum context length", "context length", "context window",
                 "prompt is too long", "input is too long", "too many tokens",
                 "reduce the length of the messages")


def classify(failure: Failure) -> str | None:
    """Why `failure` may fail over to the next candidate, or None when it must not."""
    if failure.kind in ("connect", "timeout", "protocol"):
        return UNREACHABLE  # nothing reached the client; the provider is at fault
    status = failure.status
    if status is None:
        return None
    code, text = error_fields(failure.body)
    if status in (400, 402, 403, 429) and _is_billing(code, text):
        return BILLING
    if status == 402:
        return BILLING
    if status == 429:
        return RATE_LIMITED
    if status in SERVER_STATUSES:
        return SERVER
    if status in CREDENTIAL_STATUSES:
        return CREDENTIALS
    if status in (400, 413) and _is_context(code, text):
        return CONTEXT
    return None


def counts_against_health(reason: str | None) -> bool:
    """A provider-side failure (every reason but the request's own)."""
    return reason is not None and reason != CONTEXT


def error_fields(body: bytes) -> tuple[str, str]:
    """(type and code, message) of a provider error body in any of the usual shapes, lower-cased."""
    try:
        data = json.loads(body[:65536]) if body else None
    except (ValueError, UnicodeDecodeError):
        return "", body[:2000].decode("utf-8", "replace").lower()
    err = data.get("error", data) if isinstance(data, dict) else None
    if isinstance(err, str):
        return "", err.lower()
    if not isinstance(err, dict):
        return "", ""
    code = " ".join(str(err.get(k) or "") for k in ("type", "code"))
    return code.lower(), str(err.get("message") or "").lower()


def _is_billing(code: str, text: str) -> bool:
    return any(c in code for c in _BILLING_CODES) or any(t in text for t in _BILLING_TEXT)


def _is_context(code: str, text: str) -> bool:
    return any(c in code for c in _CONTEXT_CODES) or any(t in text for t in _CONTEXT_TEXT)
