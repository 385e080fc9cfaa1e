"""Provider failures become clean JSON errors in the client's API shape, never HTML, never a key."""

from __future__ import annotations

import socket
import time

import anthropic
import httpx
import openai
import pytest

from tests.gateway_fixtures import PROVIDER_KEYS

MSG = [{"role": "user", "content": "hello"}]


def _no_secrets(text: str) -> None:
    for secret in PROVIDER_KEYS.values():
        assert secret not in text
    assert "<html" not in text.lower()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connect_refused_is_502_json(gateway_factory):
    port = _closed_port()
    gw = gateway_factory(OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1",
                         ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}")
    with pytest.raises(openai.APIStatusError) as err:
        gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG)
    assert err.value.status_code == 502
    assert "could not reach provider openai" in err.value.body["message"]
    _no_secrets(err.value.response.text)
    with pytest.raises(anthropic.APIStatusError) as aerr:
        gw.anthropic().messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=MSG)
    assert aerr.value.status_code == 502
    assert aerr.value.body["type"] == "error"


def test_connect_timeout_is_504(gateway_factory):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept backlog so further SYNs go unanswered
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    time.sleep(0.1)
    try:
        gw = gateway_factory(OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1",
                             GATEWAY_CONNECT_TIMEOUT="0.5", GATEWAY_FIRST_BYTE_TIMEOUT="30")
        start = time.monotonic()
        resp = httpx.post(gw.url + "/v1/chat/completions", timeout=20,
                          headers={"authorization": f"Bearer {gw.user_key}"},
                          json={"model": "openai/gpt-4o", "messages": MSG})
        elapsed = time.monotonic() - start
        assert resp.status_code == 504, resp.text
        assert "timed out" in resp.json()["error"]["message"]
        assert elapsed < 5
        assert resp.json()["error"]["message"]
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_first_byte_timeout_is_504(gateway_factory):
    gw = gateway_factory(GATEWAY_FIRST_BYTE_TIMEOUT="0.5")
    start = time.monotonic()
    with pytest.raises(openai.APIStatusError) as err:
        gw.openai().chat.completions.create(model="openai/mock-stall", messages=MSG)
    assert err.value.status_code == 504
    assert time.monotonic() - start < 5
    assert "no answer within 0.5s" in err.value.body["message"]
    # the gateway keeps serving afterwards
    assert gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG).choices


def test_silence_mid_stream_ends_with_an_error_event(gateway_factory):
    gw = gateway_factory(GATEWAY_CHUNK_TIMEOUT="0.5")
    stream = gw.openai().chat.completions.create(model="openai/mock-stall-body", messages=MSG,
                                                 stream=True)
    start = time.monotonic()
    with pytest.raises(openai.APIError) as err:
        for _ in stream:
            pass
    assert "went silent" in str(err.value.message)
    assert time.monotonic() - start < 5


def test_garbage_answer_is_502(gateway):
    with pytest.raises(openai.APIStatusError) as err:
        gateway.openai().chat.completions.create(model="openai/mock-garbage", messages=MSG)
    assert err.value.status_code == 502
    assert "not JSON" in err.value.body["message"]


@pytest.mark.parametrize("upstream,expected", [(401, 502), (403, 502), (500, 502), (503, 503),
                                               (529, 503), (504, 504), (429, 429), (400, 400)])
def test_provider_status_mapping(gateway, upstream, expected):
    resp = httpx.post(gateway.url + "/v1/chat/completions", timeout=20,
                      headers={"authorization": f"Bearer {gateway.user_key}"},
                      json={"model": f"openai/mock-fail-{upstream}", "messages": MSG})
    assert resp.status_code == expected, resp.text
    _no_secrets(resp.text)
    assert resp.json()["error"]["message"]
    if upstream in (401, 403):
        assert "credentials" in resp.json()["error"]["message"]
    if upstream == 429:
        assert resp.headers.get("retry-after")


def test_anthropic_provider_error_in_anthropic_shape(gateway):
    with pytest.raises(anthropic.InternalServerError) as err:
        gateway.anthropic().messages.create(model="anthropic/mock-fail-500", max_tokens=5,
                                            messages=MSG)
    assert err.value.status_code == 502
    assert err.value.body["type"] == "error"
    _no_secrets(err.value.response.text)


def test_logs_never_carry_a_key(gateway, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client = gateway.openai()
    client.chat.completions.create(model="openai/gpt-4o", messages=MSG)
    for model in ("openai/mock-fail-401", "openai/mock-fail-500", "openai/mock-garbage"):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model=model, messages=MSG)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "request_id=req_" in text
    for secret in (*PROVIDER_KEYS.values(), gateway.user_key):
        assert secret not in text


def test_a_provider_that_comes_back_is_reached_on_the_same_client_connection(gateway_factory):
    from gateway.mock_provider import MockState, serve_in_thread

    port = _closed_port()
    gw = gateway_factory(ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}")
    body = {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 10, "messages": MSG}
    with httpx.Client(timeout=10, headers={"authorization": f"Bearer {gw.user_key}"}) as client:
        assert client.post(gw.url + "/v1/messages", json=body).status_code == 502
        with serve_in_thread(MockState(), port=port):
            resp = client.post(gw.url + "/v1/messages", json=body)
            assert resp.status_code == 200, resp.text
            assert resp.json()["content"][0]["text"] == "echo: hello"


def test_deadlines_longer_than_the_wakeup_tick_are_kept(gateway_factory):
    """Deadline wakeups sleep at most a second and re-arm; the deadline itself must not drift."""
    gw = gateway_factory(GATEWAY_FIRST_BYTE_TIMEOUT="2.2", GATEWAY_CHUNK_TIMEOUT="1.6")
    start = time.monotonic()
    with pytest.raises(openai.APIStatusError) as err:
        gw.openai().chat.completions.create(model="openai/mock-stall", messages=MSG)
    assert err.value.status_code == 504
    assert 2.1 < time.monotonic() - start < 4.5
    stream = gw.openai().chat.completions.create(model="openai/mock-stall-body", messages=MSG,
                                                 stream=True)
    start = time.monotonic()
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    assert 1.5 < time.monotonic() - start < 4
