"""Error answers in each API's own JSON shape, so SDKs raise their matching exception classes."""

from __future__ import annotations

import json
import os
from typing import Any

from aiohttp import web

OPENAI, ANTHROPIC, OLLAMA = "openai", "anthropic", "ollama"

_OPENAI_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def flavour_of(request: web.Request) -> str:
    """Which API's conventions an answer to this request must follow."""
    path = request.path
    if path.startswith("/v1/messages"):
        return ANTHROPIC
    if path.startswith("/v1/models") and "anthropic-version" in request.headers:
        return ANTHROPIC
    if path.startswith("/api/"):
        return OLLAMA
    return OPENAI


def error_response(flavour: str, status: int, message: str | None = None) -> web.Response:
    message = message or f"mock provider: simulated HTTP {status}"
    headers = {"Retry-After": "1"} if status == 429 else {}
    if flavour == ANTHROPIC:
        headers["request-id"] = "req_mock" + os.urandom(8).hex()
    body = _error_body(flavour, status, message)
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


def _error_body(flavour: str, status: int, message: str) -> dict[str, Any]:
    if flavour == ANTHROPIC:
        kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if flavour == OLLAMA:
        return {"error": message}
    kind, code = _OPENAI_TYPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class BadRequest(ValueError):
    """A request body the real API would refuse with 400; the middleware answers in the API's shape."""
