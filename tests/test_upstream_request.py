"""The request a provider gets is the same whether `point` writes it at once or mitmproxy's own
setters build it: method, target, path, every header in order, body, HTTP/2 authority."""

from __future__ import annotations

import pytest
from mitmproxy.test import tutils

from gateway import mitm_patches, upstream_request
from gateway.call import ApiFormat, Attempt, Provider, Route

PROVIDERS = [
    Provider("openai", "openai", "https://api.openai.com/v1"),
    Provider("local", "ollama", "http://127.0.0.1:11434"),
    Provider("proxy", "openai", "https://gw.example.org:8443/custom/v1/"),
]


def attempt(provider: Provider, headers: dict[str, str]) -> Attempt:
    route = Route("openai/gpt-4o", provider.name, "gpt-4o")
    return Attempt(1, route, provider, "/chat/completions", {"model": "gpt-4o"}, ApiFormat.OPENAI,
                   headers=headers)


def client_request(http2: bool, close: bool):
    req = tutils.treq(headers=((b"host", b"gateway.local"), (b"authorization", b"Bearer sk-gw-x"),
                               *(((b"connection", b"close"),) if close else ())),
                      content=b'{"model":"openai/gpt-4o"}')
    if http2:
        req.http_version, req.authority = "HTTP/2.0", "gateway.local"
    return req


def state(req) -> tuple:
    d = req.data
    return (d.method, d.scheme, d.host, d.port, d.path, d.authority, d.http_version,
            d.headers.fields, d.content, req.url)


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
@pytest.mark.parametrize("http2", [False, True])
@pytest.mark.parametrize("close", [False, True])
@pytest.mark.parametrize("headers", [{"authorization": "Bearer sk-up"},
                                     {"x-api-key": "k", "anthropic-version": "2023-06-01"},
                                     {"Content-Encoding": "identity", "authorization": "Bearer b"}])
def test_point_matches_mitmproxys_setters(provider, http2, close, headers):
    mitm_patches.install()
    body = b'{"model":"gpt-4o","messages":[]}'
    fast, slow = client_request(http2, close), client_request(http2, close)
    host = upstream_request.point(fast, attempt(provider, headers), body)
    scheme, host_s, port, _ = upstream_request._target(provider.base_url)
    fields = list(fast.headers.fields[:-1] if "Content-Encoding" not in headers else fast.headers.fields)
    fields = [f for f in fields if f[0] != b"content-length"]
    upstream_request.by_setters(slow, fields, scheme, host_s, port,
                                upstream_request._base_path(provider.base_url) + "/chat/completions",
                                body)
    assert host == host_s
    assert state(fast) == state(slow)
    assert fast.headers["content-length"] == str(len(body))
