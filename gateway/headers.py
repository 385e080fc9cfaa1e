"""The last line of defence for answer headers: a header whose name or value holds CR, LF or NUL
is dropped (and logged by name), so no byte sequence can add or split a header line in an answer
the gateway sends. Values are validated at the edge (`gateway.validation`); this guard catches what
comes from elsewhere (a provider's header, a plugin's, a stored alias)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from mitmproxy import http

log = logging.getLogger("gateway.headers")
_SPLITTING = re.compile(r"[\r\n\x00]")
JSON = "application/json"
# Upstream answer headers never passed to clients: they describe the gateway's provider account.
DROP_UPSTREAM_HEADERS = ("set-cookie", "openai-organization", "openai-project",
                         "anthropic-organization-id", "content-length", "transfer-encoding",
                         "content-encoding", "connection", "keep-alive", "server", "alt-svc")
_DROP = frozenset(n.encode() for n in DROP_UPSTREAM_HEADERS)
_DROP_KEEP_FRAMING = _DROP - {b"transfer-encoding"}


def safe(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        if _SPLITTING.search(name) or _SPLITTING.search(value):
            log.warning("dropped an answer header %r: CR, LF or NUL in it",
                        _SPLITTING.sub("?", name)[:64])
            continue
        out[name] = value
    return out


def json_response(status: int, body: bytes, headers: dict[str, str]) -> http.Response:
    return http.Response.make(status, body, safe({"content-type": JSON, **headers}))


def replace_upstream(resp: http.Response, extra: dict[str, str], keep_framing: bool = False) -> None:
    """Drop the provider's private headers and add ours, in one pass over the header list."""
    drop = _DROP_KEEP_FRAMING if keep_framing else _DROP
    fields = [f for f in resp.headers.fields if f[0].lower() not in drop]
    fields += [(k.encode(), v.encode("utf-8", "replace")) for k, v in safe(extra).items()]
    resp.headers = http.Headers(fields)
