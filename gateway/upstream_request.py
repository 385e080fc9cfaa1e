"""The request a provider gets: the client's flow re-pointed at an attempt's provider, with the
gateway's own headers and body.

mitmproxy's `Request` setters each do more than store a value: the host and port setters rewrite
the Host header (and an HTTP/2 client's `:authority`), the content setter looks up the encoding
and framing headers and adds the length. `point` writes the end result at once (about 3 % of a
call's instructions), unless an attempt's own headers set the body's framing or encoding; then
the setters apply them as before. tests/test_upstream_request.py compares both paths.
"""

from __future__ import annotations

import functools

from mitmproxy import http
from mitmproxy.net.http import url as mitm_url

from gateway.call import Attempt

_FRAMING = frozenset({"content-length", "transfer-encoding", "content-encoding"})


def point(req: http.Request, attempt: Attempt, body: bytes) -> str:
    """Re-point `req` at `attempt`'s provider with `body`; returns the provider's host."""
    scheme, host, port, hostport = _target(attempt.provider.base_url)
    fields = [(b"host", hostport), (b"content-type", b"application/json"),
              (b"accept-encoding", b"identity")]
    fields += [(k.encode(), v.encode()) for k, v in attempt.headers.items()]
    if "close" in req.headers.get("connection", "").lower():
        # mitmproxy decides whether to close the client's connection from these headers
        fields.append((b"connection", b"close"))
    path = _base_path(attempt.provider.base_url) + attempt.path
    if _FRAMING.isdisjoint(k.lower() for k in attempt.headers):
        fields.append((b"content-length", str(len(body)).encode()))
        data = req.data
        data.headers = http.Headers(fields)
        data.method, data.scheme, data.host, data.port = b"POST", scheme.encode(), host, port
        data.path, data.content = path.encode("utf-8", "surrogateescape"), body
        if data.authority:
            data.authority = hostport
    else:
        by_setters(req, fields, scheme, host, port, path, body)
    return host


def by_setters(req: http.Request, fields: list[tuple[bytes, bytes]], scheme: str, host: str,
               port: int, path: str, body: bytes) -> None:
    """The same through mitmproxy's own setters."""
    req.headers = http.Headers(fields)
    req.method = "POST"
    req.scheme, req.host, req.port = scheme, host, port
    req.path = path
    req.content = body


@functools.lru_cache(maxsize=256)
def _target(base_url: str) -> tuple[str, str, int, bytes]:
    """(scheme, host, port, Host header) of a provider base URL, parsed once."""
    scheme, host, port, _ = mitm_url.parse(base_url)
    scheme_s, host_s = scheme.decode(), host.decode("idna")
    return scheme_s, host_s, port, mitm_url.hostport(scheme_s, host_s, port).encode("idna")


@functools.lru_cache(maxsize=256)
def _base_path(base_url: str) -> str:
    return str(mitm_url.parse(base_url)[3].decode()).rstrip("/")
