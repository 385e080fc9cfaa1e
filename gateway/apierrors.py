"""Error answers in the shape of the API that was called (the shapes the official SDKs parse)."""

from __future__ import annotations

import json
from typing import Any

from gateway.call import ApiFormat
from gateway.errors import GatewayError

# The Anthropic API's own error types, by status; OpenAI uses `type` + `code` freely.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 502: "api_error", 503: "overloaded_error",
    504: "api_error", 529: "overloaded_error",
}
_OPENAI_CODES = {401: "invalid_api_key", 402: "insufficient_quota", 404: "model_not_found",
                 413: "request_too_large", 429: "rate_limit_exceeded"}


def format_for_path(path: str) -> ApiFormat:
    if path.startswith("/api/"):
        return ApiFormat.OLLAMA
    return ApiFormat.ANTHROPIC if path.startswith("/v1/messages") else ApiFormat.OPENAI


def error_payload(fmt: ApiFormat, status: int, message: str, error_type: str | None = None) -> dict[str, Any]:
    if fmt is ApiFormat.OLLAMA:
        return {"error": message}  # Ollama's own shape (its clients read `error`)
    if fmt is ApiFormat.ANTHROPIC:
        etype = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": etype, "message": message}}
    return {"error": {"message": message, "type": error_type or "invalid_request_error",
                      "param": None, "code": _OPENAI_CODES.get(status, error_type)}}


def error_body(fmt: ApiFormat, error: GatewayError) -> bytes:
    return json.dumps(error_payload(fmt, error.status, error.message, error.error_type)).encode()


def sse_error(fmt: ApiFormat, error: GatewayError) -> bytes:
    """An error delivered inside an already-started stream (both SDKs raise on it)."""
    payload = json.dumps(error_payload(fmt, error.status, error.message, error.error_type))
    if fmt is ApiFormat.OLLAMA:
        return payload.encode() + b"\n"  # one more NDJSON line
    if fmt is ApiFormat.ANTHROPIC:
        return f"event: error\ndata: {payload}\n\n".encode()
    return f"data: {payload}\n\n".encode()
