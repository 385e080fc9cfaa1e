"""Errors the gateway answers with.

Every refusal is a `GatewayError`: it carries the HTTP status, an error type and a message safe to
show the client (it names the value at fault, never a secret). `gateway.apierrors` renders it in
the shape of the API that was called. Anything else raised inside the pipeline is a bug and is
answered as a 500 `internal_error` without details (fail closed).

    GatewayError
    ├── BadRequest            400  malformed JSON, wrong types, unsupported parameter
    ├── AuthenticationFailed  401  missing, unknown or revoked key
    ├── PaymentRequired       402  a spending cap is reached
    ├── Forbidden             403  suspended user, inactive app, model not allowed
    ├── NotFound              404  unknown endpoint or model
    ├── PayloadTooLarge       413  body over the configured limit
    ├── RateLimited           429  provider rate limit after the fallback chain is spent
    ├── InternalError         500  a plugin raised
    └── UpstreamError         502/503/504  provider failure after the fallback chain is spent
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.call import Principal


class GatewayError(Exception):
    status = 500
    error_type = "internal_error"

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if error_type is not None:
            self.error_type = error_type
        self.headers = headers or {}


class BadRequest(GatewayError):
    status = 400
    error_type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    error_type = "authentication_error"


class PaymentRequired(GatewayError):
    status = 402
    error_type = "insufficient_quota"


class Forbidden(GatewayError):
    """A valid key whose owner may not call now (suspended user, inactive app). `principal` is
    that owner, so the refused call is still attributed to them in the log."""

    status = 403
    error_type = "permission_error"

    def __init__(self, message: str, *, principal: Principal | None = None,
                 status: int | None = None, error_type: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message, status=status, error_type=error_type, headers=headers)
        self.principal = principal


class NotFound(GatewayError):
    status = 404
    error_type = "not_found_error"


class PayloadTooLarge(GatewayError):
    status = 413
    error_type = "request_too_large"


class RateLimited(GatewayError):
    status = 429
    error_type = "rate_limit_error"


class InternalError(GatewayError):
    status = 500
    error_type = "internal_error"


class UpstreamError(GatewayError):
    status = 502
    error_type = "upstream_error"


class ConfigError(ValueError):
    """model_config.yaml or an environment setting is invalid; the message names the key."""
