"""Fallback chains and the routing strategy over real sockets, with the official SDKs, HTTP/1.1
and HTTP/2 (TLS), against the mock provider and a provider on a closed port."""

from __future__ import annotations

import socket
import ssl
import time

import anthropic
import httpx
import openai
import pytest
import yaml

import plugins.fallback as fallback
from gateway import admin_ops
from plugins.fallback import _ops as ops
from plugins.fallback._credentials import set_credential
from tests.gateway_fixtures import PROVIDER_KEYS, ROOT

MSG = [{"role": "user", "content": "hello world"}]
DEAD_KEY = "sk-deadhost-SECRET-9999"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def fb(gateway_factory, tmp_path):
    """Start a gateway whose model_config.yaml adds `deadhost`, an OpenAI-compatible provider on a
    closed port (connection refused)."""
    def start(**env):
        config = yaml.safe_load((ROOT / "model_config.yaml").read_text())
        config["providers"] = [{"name": "deadhost", "kind": "openai",
                                "base_url": f"http://127.0.0.1:{_closed_port()}/v1"}]
        path = tmp_path / "model_config.yaml"
        path.write_text(yaml.safe_dump(config))
        # Only this plugin: its behaviour must not depend on what the others are doing.
        return gateway_factory(plugins=[fallback], entry_points=False, GATEWAY_CONFIG=str(path),
                               **env)
    return start


@pytest.fixture
def gateway(fb):
    return fb()


def chain(gw, primary, *models, org=None):
    gw.admin(ops.set_chain, primary, list(models), org_slug=org)
    gw.ctx.poll_once()


def upstream_models(gw) -> list[str]:
    return [r["body"]["model"] for r in gw.mock.state.requests if r["path"].endswith(
        ("/chat/completions", "/messages"))]


def _no_secrets(text: str) -> None:
    for secret in (*PROVIDER_KEYS.values(), DEAD_KEY):
        assert secret not in text
    assert "<html" not in text.lower()


def test_stream_survives_429_then_503_then_refused(fb):
    gw = fb()
    chain(gw, "openai/mock-fail-429", "openai/mock-fail-503", "deadhost/gpt-4o",
          "openai/gpt-4o-mini")
    with gw.openai().chat.completions.with_streaming_response.create(
            model="openai/mock-fail-429", messages=MSG, stream=True) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-gateway-model"] == "openai/gpt-4o-mini"
        assert resp.headers["x-gateway-attempts"] == "4"
        assert resp.headers["x-gateway-fallback"] == "true"
        assert resp.headers["x-gateway-strategy"] == "ordered"
        parts = [c.choices[0].delta.content for c in resp.parse()
                 if c.choices and c.choices[0].delta.content]
    assert len(parts) >= 3 and "".join(parts) == "echo: hello world"
    # deadhost refused the connection, so the mock saw three of the four attempts
    assert upstream_models(gw) == ["mock-fail-429", "mock-fail-503", "gpt-4o-mini"]


def test_anthropic_stream_fails_over_from_529(gateway):
    chain(gateway, "anthropic/mock-fail-529", "anthropic/claude-haiku-4-5")
    with gateway.anthropic().messages.stream(model="anthropic/mock-fail-529", max_tokens=50,
                                             messages=MSG) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: hello world" and final.model == "claude-haiku-4-5"


def test_fallback_to_another_format_uses_the_routing_translation(gateway_factory):
    gw = gateway_factory()  # every installed plugin: routing translates OpenAI ↔ Anthropic
    chain(gw, "openai/mock-fail-503", "anthropic/claude-haiku-4-5")
    stream = gw.openai().chat.completions.create(model="openai/mock-fail-503", messages=MSG,
                                                 stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == \
        "echo: hello world"
    assert gw.mock.state.requests[-1]["path"] == "/v1/messages"
    chain(gw, "anthropic/mock-fail-529", "openai/gpt-4o-mini")
    with gw.anthropic().messages.stream(model="anthropic/mock-fail-529", max_tokens=50,
                                        messages=MSG) as astream:
        assert "".join(astream.text_stream) == "echo: hello world"
    assert gw.mock.state.requests[-1]["path"] == "/v1/chat/completions"


def test_provider_refusing_the_gateway_credential_fails_over(gateway):
    chain(gateway, "openai/mock-fail-401", "openai/gpt-4o-mini")
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="openai/mock-fail-401", messages=MSG)
    assert raw.parse().choices[0].message.content == "echo: hello world"
    assert raw.headers["x-gateway-model"] == "openai/gpt-4o-mini"


def test_client_errors_are_not_retried(gateway):
    chain(gateway, "openai/mock-fail-400", "openai/gpt-4o-mini")
    with pytest.raises(openai.BadRequestError):
        gateway.openai().chat.completions.create(model="openai/mock-fail-400", messages=MSG)
    assert upstream_models(gateway) == ["mock-fail-400"]


def test_stalled_primary_is_abandoned_at_the_first_byte_deadline(fb):
    gw = fb(GATEWAY_FIRST_BYTE_TIMEOUT="0.5")
    chain(gw, "openai/mock-stall", "openai/gpt-4o-mini")
    start = time.monotonic()
    stream = gw.openai().chat.completions.create(model="openai/mock-stall", messages=MSG,
                                                 stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    elapsed = time.monotonic() - start
    assert text == "echo: hello world"
    assert 0.5 <= elapsed < 3
    assert upstream_models(gw) == ["mock-stall", "gpt-4o-mini"]


@pytest.mark.parametrize("stream", [False, True])
def test_whole_chain_failing_gives_one_clean_json_error(fb, stream):
    gw = fb()
    gw.admin(set_credential, gw.ctx.settings.secret_key(), "deadhost", api_key=DEAD_KEY,
             configured=("deadhost",))
    chain(gw, "openai/mock-fail-503", "openai/mock-fail-500", "deadhost/gpt-4o")
    for _ in range(3):
        resp = httpx.post(gw.url + "/v1/chat/completions", timeout=20,
                          headers={"authorization": f"Bearer {gw.user_key}"},
                          json={"model": "openai/mock-fail-503", "messages": MSG, "stream": stream})
        assert resp.status_code == 502
        assert resp.headers["content-type"] == "application/json"
        message = resp.json()["error"]["message"]
        assert ("tried: openai/mock-fail-503 (HTTP 503), openai/mock-fail-500 (HTTP 500), "
                "deadhost/gpt-4o (connect)") in message
        _no_secrets(resp.text)
    # three failures in a row: every model of the chain is now in its cool-down, and nothing
    # is left counted as active, retrying or in flight
    stats = gw.ctx.extensions["fallback"].stats
    assert all(stats.unhealthy(m) for m in ("openai/mock-fail-503", "openai/mock-fail-500",
                                            "deadhost/gpt-4o"))
    assert not stats.active and not stats.retrying and not stats.in_flight("openai")


def test_org_chain_beats_the_global_chain(gateway):
    chain(gateway, "openai/mock-fail-503", "openai/gpt-4.1-nano")
    chain(gateway, "openai/mock-fail-503", "openai/gpt-4.1-mini", org="acme")
    gateway.admin(admin_ops.create_org, "other", "Other")
    gateway.admin(admin_ops.create_user, "x@other.test", "X", org_slug="other")
    other_key = gateway.admin(admin_ops.create_key, user_email="x@other.test")[0]
    for key, served in ((gateway.user_key, "openai/gpt-4.1-mini"),
                        (other_key, "openai/gpt-4.1-nano")):
        raw = gateway.openai(key=key).chat.completions.with_raw_response.create(
            model="openai/mock-fail-503", messages=MSG)
        assert raw.headers["x-gateway-model"] == served


def test_a_rate_limited_model_is_skipped_while_retry_after_runs(gateway):
    chain(gateway, "openai/mock-fail-429", "openai/gpt-4o-mini")
    client = gateway.openai()
    for _ in range(2):
        client.chat.completions.create(model="openai/mock-fail-429", messages=MSG)
    # the mock asks for Retry-After: 1, so the second call went straight to the fallback
    assert upstream_models(gateway) == ["mock-fail-429", "gpt-4o-mini", "gpt-4o-mini"]


def test_changing_strategy_or_chain_changes_the_next_call(gateway):
    client = gateway.openai()

    def served() -> tuple[str, str]:
        raw = client.chat.completions.with_raw_response.create(model="openai/gpt-4o", messages=MSG)
        return raw.headers["x-gateway-model"], raw.headers["x-gateway-strategy"]

    chain(gateway, "openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4.1-nano")
    assert served() == ("openai/gpt-4o", "ordered")
    gateway.admin(ops.set_setting, "routing_strategy", "lowest-cost")
    _wait_for(lambda: served() == ("openai/gpt-4.1-nano", "lowest-cost"))  # watcher, no poll
    chain(gateway, "openai/gpt-4o", "openai/gpt-4o-mini")
    assert served() == ("openai/gpt-4o-mini", "lowest-cost")
    gateway.admin(ops.delete_chain, "openai/gpt-4o")
    gateway.ctx.poll_once()
    assert served() == ("openai/gpt-4o", "lowest-cost")


def _wait_for(check, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the running gateway did not pick up the change"
        time.sleep(0.1)


class _H2First(ssl.SSLContext):
    """Offer h2 before http/1.1 in ALPN, as curl, browsers and Go do. httpx offers http/1.1
    first, and mitmproxy honours the client's order, so the SDKs' own `http2=True` clients end
    up on HTTP/1.1 (and `http1=False` clients then speak HTTP/2 over an HTTP/1.1 connection)."""

    def set_alpn_protocols(self, protocols):
        super().set_alpn_protocols(sorted(protocols, key=lambda p: p != "h2"))


def _h2_client() -> httpx.Client:
    context = _H2First(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the certificate comes from the gateway's own CA
    return httpx.Client(http2=True, verify=context, timeout=20)


def test_stream_fails_over_for_an_http2_client(fb):
    gw = fb()
    chain(gw, "openai/mock-fail-503", "deadhost/gpt-4o", "openai/gpt-4o-mini")
    with _h2_client() as http:
        client = openai.OpenAI(base_url=gw.url.replace("http://", "https://") + "/v1",
                               api_key=gw.user_key, http_client=http, max_retries=0)
        with client.chat.completions.with_streaming_response.create(
                model="openai/mock-fail-503", messages=MSG, stream=True) as resp:
            assert resp.http_response.http_version == "HTTP/2"
            assert resp.headers["x-gateway-model"] == "openai/gpt-4o-mini"
            parts = [c.choices[0].delta.content for c in resp.parse()
                     if c.choices and c.choices[0].delta.content]
        assert len(parts) >= 3 and "".join(parts) == "echo: hello world"
        chain(gw, "openai/mock-fail-500", "deadhost/gpt-4o")  # and a spent chain, over HTTP/2
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(model="openai/mock-fail-500", messages=MSG, stream=True)
        assert err.value.status_code == 502
        assert "tried: openai/mock-fail-500 (HTTP 500), deadhost/gpt-4o (connect)" in err.value.message


def test_http2_anthropic_stream_with_fallback(gateway):
    chain(gateway, "anthropic/mock-fail-503", "anthropic/claude-haiku-4-5")
    with _h2_client() as http:
        client = anthropic.Anthropic(base_url=gateway.url.replace("http://", "https://"),
                                     api_key=gateway.user_key, http_client=http, max_retries=0)
        with client.messages.stream(model="anthropic/mock-fail-503", max_tokens=50,
                                    messages=MSG) as stream:
            text = "".join(stream.text_stream)
            assert stream.response.http_version == "HTTP/2"
    assert text == "echo: hello world"
