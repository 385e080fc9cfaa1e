"""Error reports: the gateway's own failures (provider errors, a spent fallback chain, a plugin
that raised) and what clients send to `POST /v1/error-reports`.

A client report needs a valid gateway key, is at most 16 KiB of JSON with string fields `source`,
`type`, `model`, `error`, `agent`, `version` (each optional, cut to its column's size, control
characters removed, anything that looks like a key scrubbed), and is stored with the time and the
key's user or app. The answer is 202: the row is written by the log writer moments later.
"""

from __future__ import annotations

import json

from gateway.call import Call, LocalRequest, LocalResponse
from gateway.errors import AuthenticationFailed, BadRequest, GatewayError, PayloadTooLarge, UpstreamError
from plugins.metering._records import ErrorRecord, error_row

MAX_REPORT_BYTES = 16 * 1024
FIELDS = ("source", "type", "model", "error", "agent", "version")


def client_report(request: LocalRequest) -> tuple[ErrorRecord, LocalResponse]:
    if request.method != "POST":
        raise GatewayError(f"{request.path} accepts POST, not {request.method}", status=405,
                           error_type="invalid_request_error")
    if request.principal is None:
        raise AuthenticationFailed("missing or invalid API key: error reports need a gateway key")
    if len(request.body) > MAX_REPORT_BYTES:
        raise PayloadTooLarge(f"an error report is at most {MAX_REPORT_BYTES} bytes, "
                              f"got {len(request.body)}")
    try:
        doc = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("error report: the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadRequest("error report: the body must be a JSON object with source, type, model, "
                         "error, agent, version")
    for name in FIELDS:
        value = doc.get(name)
        if value is not None and not isinstance(value, (str, int, float)):
            raise BadRequest(f"error report: {name!r} must be a string, got {type(value).__name__}")
    if not any(doc.get(name) not in (None, "") for name in FIELDS):
        raise BadRequest("error report: give at least one of " + ", ".join(FIELDS))
    row = error_row(doc.get("source") or "client", type=doc.get("type"), model=doc.get("model"),
                    error=doc.get("error"), agent=doc.get("agent"), version=doc.get("version"),
                    principal=request.principal, request_id=request.request_id)
    body = json.dumps({"status": "accepted", "request_id": request.request_id}).encode()
    return ErrorRecord(row), LocalResponse(202, body)


def worth_reporting(error: GatewayError) -> bool:
    """Failures on the gateway's or provider's side; refusals of the client's own request
    (bad input, bad key, cap reached, too large) are in the request log, not here."""
    return error.status >= 500 or error.status == 429 or isinstance(error, UpstreamError)


def gateway_report(call: Call, error: GatewayError) -> ErrorRecord:
    attempt = call.attempt
    source = "provider" if isinstance(error, UpstreamError) or error.status == 429 else "gateway"
    return ErrorRecord(error_row(
        source, type=error.error_type, model=attempt.route.model if attempt else call.requested_model,
        error=error.message, agent=call.agent_id, status=error.status, call=call))
