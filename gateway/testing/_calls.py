"""Calls and principals for tests, with defaults for everything a test does not care about."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from mitmproxy.http import Headers

from gateway.call import Call, Endpoint, Principal
from gateway.host import PluginHost

DEFAULT_MESSAGES = ({"role": "user", "content": "hello"},)


def tprincipal(**fields: Any) -> Principal:
    """A user's key in org `acme` unless `fields` say otherwise."""
    values: dict[str, Any] = {"key_id": 1, "key_prefix": "sk-gw-test", "key_name": "test",
                              "user_id": 1, "user_email": "dev@acme.test", "role": "member",
                              "org_id": 1, "org_slug": "acme"}
    values.update(fields)
    return Principal(**values)


def tcall(model: str = "openai/gpt-4o-mini", messages: list[dict[str, Any]] | None = None, *,
          endpoint: Endpoint = Endpoint.CHAT, body: dict[str, Any] | None = None,
          headers: Mapping[str, str] | None = None, principal: Principal | None = None,
          stream: bool = False, ctx: PluginHost | None = None) -> Call:
    """A parsed, authenticated call, as the hooks after `gateway_authenticate` see it. `body`
    replaces the default chat body; headers are case-insensitive, as in a running gateway."""
    if body is None:
        body = {"model": model, "messages": list(messages or DEFAULT_MESSAGES)}
        if stream:
            body["stream"] = True
    return Call(request_id=uuid.uuid4().hex, endpoint=endpoint, body=body,
                headers=Headers([(k.encode(), v.encode()) for k, v in (headers or {}).items()]),
                principal=principal or tprincipal(), requested_model=str(body.get("model", "")),
                stream=bool(body.get("stream", stream)), ctx=ctx)
