"""Bad input gets a clear error in the called API's own shape, and the provider never sees it."""

from __future__ import annotations

import httpx
import pytest

from gateway import admin_ops

CHAT = "/v1/chat/completions"
MSGS = "/v1/messages"


def post(gw, path, body=None, *, key=None, content=None, headers=None):
    hdrs = {"authorization": f"Bearer {key or gw.user_key}", **(headers or {})}
    if content is None and body is not None:
        return httpx.post(gw.url + path, json=body, headers=hdrs, timeout=20)
    return httpx.post(gw.url + path, content=content or b"", headers=hdrs, timeout=20)


def assert_openai_error(resp, status, fragment):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    err = resp.json()["error"]
    assert fragment in err["message"] and "type" in err and "code" in err
    assert resp.headers["x-gateway-request-id"].startswith("req_")


def assert_anthropic_error(resp, status, fragment):
    assert resp.status_code == status, resp.text
    data = resp.json()
    assert data["type"] == "error" and fragment in data["error"]["message"]
    assert data["error"]["type"]


@pytest.mark.parametrize("content,fragment", [
    (b"{not json", "not valid JSON"),
    (b"[1,2]", "must be a JSON object"),
    (b"", "empty"),
])
def test_malformed_json_is_400_and_not_forwarded(gateway, content, fragment):
    before = len(gateway.mock.state.requests)
    assert_openai_error(post(gateway, CHAT, content=content), 400, fragment)
    assert_anthropic_error(post(gateway, MSGS, content=content), 400, fragment)
    assert len(gateway.mock.state.requests) == before


@pytest.mark.parametrize("body,fragment", [
    ({"model": 5, "messages": []}, "'model' must be a string"),
    ({"model": "gpt-4o", "messages": "hi"}, "'messages' must be an array"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
     "'stream' must be a boolean"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "max_tokens": "10"},
     "'max_tokens' must be an integer"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "temperature": True},
     "'temperature' must be a number"),
    ({"messages": [{"role": "user", "content": "x"}]}, "missing required parameter 'model'"),
    ({"model": "gpt-4o", "messages": [5]}, "'messages[0]' must be an object"),
])
def test_wrong_types_are_400(gateway, body, fragment):
    before = len(gateway.mock.state.requests)
    assert_openai_error(post(gateway, CHAT, body), 400, fragment)
    assert len(gateway.mock.state.requests) == before


def test_anthropic_requires_max_tokens(gateway):
    resp = post(gateway, MSGS, {"model": "claude-sonnet-4-5", "messages": []})
    assert_anthropic_error(resp, 400, "max_tokens")


@pytest.mark.parametrize("body", [
    {"api_base": "http://evil.test"},
    {"api_key": "sk-mine"},
    {"metadata": {"nested": {"base_url": "http://evil.test"}}},
    {"extra_body": [{"api_key": "x"}]},
])
def test_client_supplied_endpoint_or_key_is_rejected(gateway, body):
    before = len(gateway.mock.state.requests)
    full = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}], **body}
    assert_openai_error(post(gateway, CHAT, full), 400, "is not allowed")
    assert len(gateway.mock.state.requests) == before


def test_tool_schema_may_name_an_api_key_property(gateway):
    tool = {"type": "function", "function": {"name": "login", "parameters": {
        "type": "object", "properties": {"api_key": {"type": "string"}}}}}
    resp = post(gateway, CHAT, {"model": "openai/gpt-4o", "tools": [tool],
                                "messages": [{"role": "user", "content": "x"}]})
    assert resp.status_code == 200, resp.text


def test_missing_and_wrong_key_look_the_same(gateway):
    body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    missing = httpx.post(gateway.url + CHAT, json=body, timeout=10)
    assert_openai_error(missing, 401, "missing API key")
    unknown = post(gateway, CHAT, body, key="sk-gw-AAAAAAAAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    real_prefix_wrong_secret = post(gateway, CHAT, body, key=gateway.user_key[:14] + "x" * 40)
    assert_openai_error(unknown, 401, "invalid API key")
    assert unknown.json() == real_prefix_wrong_secret.json()
    assert_anthropic_error(httpx.post(gateway.url + MSGS, json=body, timeout=10,
                                      headers={"x-api-key": "nope"}), 401, "invalid API key")


def test_body_over_limit_is_413_json(gateway_factory):
    gw = gateway_factory(GATEWAY_BODY_LIMIT=str(64 * 1024))
    big = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x" * 100_000}]}
    before = len(gw.mock.state.requests)
    assert_openai_error(post(gw, CHAT, big), 413, "larger than")
    assert_anthropic_error(post(gw, MSGS, big), 413, "larger than")
    assert len(gw.mock.state.requests) == before


def test_unknown_endpoint_and_method(gateway):
    assert_openai_error(post(gateway, "/v1/completions_typo", {}), 404, "unknown endpoint")
    resp = httpx.get(gateway.url + CHAT, headers={"authorization": f"Bearer {gateway.user_key}"})
    assert_openai_error(resp, 405, "accepts POST, not GET")


def test_bad_cost_mode_is_400(gateway):
    body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    assert_openai_error(post(gateway, CHAT, body, headers={"x-cost-mode": "cheap"}), 400, "X-Cost-Mode")


def test_suspended_user_and_inactive_app_are_403(gateway):
    body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    gateway.admin(admin_ops.suspend_user, "dev@acme.test")
    gateway.admin(admin_ops.set_app_active, "bot", False)
    gateway.ctx.poll_once()
    assert_openai_error(post(gateway, CHAT, body), 403, "suspended")
    assert_openai_error(post(gateway, CHAT, body, key=gateway.app_key), 403, "inactive")


def test_revocation_takes_effect_within_a_second(gateway):
    import time

    body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    assert post(gateway, CHAT, body).status_code == 200
    gateway.admin(admin_ops.revoke_key, gateway.user_key[:14])
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        if post(gateway, CHAT, body).status_code == 401:
            break
        time.sleep(0.05)
    assert_openai_error(post(gateway, CHAT, body), 401, "invalid API key")


def test_healthz_and_models(gateway):
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    models = gateway.openai().models.list()
    ids = {m.id for m in models}
    assert "openai/gpt-4o" in ids and "anthropic/claude-sonnet-4-5" in ids
    amodels = gateway.anthropic().models.list()
    assert any(m.id == "anthropic/claude-sonnet-4-5" for m in amodels.data)
    assert httpx.get(gateway.url + "/v1/models").status_code == 401


def test_key_with_undecodable_bytes_is_401_not_500(gateway):
    import socket

    body = b'{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}'
    key = b"sk-gw-" + b"\xff" * 40
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n"
               b"Content-Type: application/json\r\nAuthorization: Bearer " + key +
               b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b'"invalid API key"' in answer


@pytest.mark.parametrize("n", [0, 129, 10_000])
def test_n_outside_what_providers_accept_is_a_400(gateway, n):
    body = {"model": "openai/gpt-4o", "n": n, "messages": [{"role": "user", "content": "x"}]}
    assert_openai_error(post(gateway, CHAT, body), 400, "'n' must be between 1 and 128")
