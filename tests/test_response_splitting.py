"""No client-supplied byte sequence can add or split a header line in an answer: hostile names are
refused at the edge with a 400 naming the field (never echoing the value), and a last-line guard
drops any answer header holding CR, LF or NUL. Raw sockets, so nothing normalises the bytes."""

from __future__ import annotations

import json
import logging
import socket

import pluggy
import pytest

hookimpl = pluggy.HookimplMarker("llm_gateway")

ENDPOINTS = {
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "x"}]},
    "/v1/responses": {"input": "x"},
    "/v1/embeddings": {"input": "x"},
    "/v1/messages": {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    "/v1/messages/count_tokens": {"messages": [{"role": "user", "content": "x"}]},
    "/api/chat": {"messages": [{"role": "user", "content": "x"}]},
    "/api/generate": {"prompt": "x"},
    "/api/embed": {"input": "x"},
}
HOSTILE = {
    "crlf": "gpt-4o\r\nX-Injected: yes",
    "lone cr": "gpt-4o\rX-Injected: yes",
    "lone lf": "gpt-4o\nX-Injected: yes",
    "nul": "gpt-4o\x00",
    "esc": "gpt-4o\x1b[2J",
    "del": "gpt-4o\x7f",
    "c1": "gpt-4o\x85X-Injected: yes",
    "too long": "openai/" + "g" * 400,
}


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


def raw_call(port: int, path: str, body: bytes, headers: list[bytes]) -> tuple[int, list[bytes], bytes]:
    head = [f"POST {path} HTTP/1.1".encode(), b"Host: gw", b"Content-Type: application/json",
            f"Content-Length: {len(body)}".encode(), b"Connection: close", *headers]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        reply = b""
        while b"\r\n\r\n" not in reply or not _complete(reply):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head_bytes, _, payload = reply.partition(b"\r\n\r\n")
    lines = head_bytes.split(b"\r\n")
    return int(lines[0].split()[1]), lines[1:], payload


def _complete(reply: bytes) -> bool:
    """The whole answer arrived: its Content-Length, or the end of a chunked body."""
    head, _, payload = reply.partition(b"\r\n\r\n")
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(payload) >= int(line.split(b":")[1])
    return payload.endswith(b"0\r\n\r\n")


def assert_clean(lines: list[bytes]) -> None:
    for line in lines:
        assert b"x-injected" not in line.lower(), lines
        assert b"\r" not in line and b"\n" not in line and b"\x00" not in line and b"\x1b" not in line


@pytest.mark.parametrize("path", list(ENDPOINTS))
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_model_name_is_a_400_naming_the_field_on_every_endpoint(gateway, path, kind):
    value = HOSTILE[kind]
    body = json.dumps({"model": value, **ENDPOINTS[path]}).encode()
    auth = f"Authorization: Bearer {gateway.user_key}".encode()
    status, lines, payload = raw_call(gateway.port, path, body, [auth])
    assert status == 400, payload
    assert_clean(lines)
    answer = json.loads(payload)
    message = answer["error"] if isinstance(answer["error"], str) else answer["error"]["message"]
    assert "'model'" in message and value not in message
    assert "X-Injected" not in payload.decode()


@pytest.mark.parametrize("header, value", [
    (b"X-Agent-Id", b"agent\x1b[31m"), (b"X-Cost-Mode", b"heavy\x00"),
    (b"X-Agent-Id", b"a" * 200), (b"anthropic-beta", b"x\x07y"),
])
def test_hostile_identifier_headers_are_a_400_before_any_hook_runs(gateway, header, value):
    body = json.dumps({"model": "openai/gpt-4o", **ENDPOINTS["/v1/messages"]}).encode()
    before = len(gateway.mock.state.requests)
    status, lines, payload = raw_call(gateway.port, "/v1/messages", body,
                                      [f"x-api-key: {gateway.user_key}".encode(),
                                       header + b": " + value])
    assert status == 400
    assert header.decode().lower() in json.loads(payload)["error"]["message"]
    assert_clean(lines)
    assert len(gateway.mock.state.requests) == before


class HeaderInjector:
    @hookimpl
    def gateway_response_headers(self, call):
        return {"x-plugin-note": "fine", "x-plugin-bad": "a\r\nX-Injected: yes"}


def test_the_last_line_guard_drops_a_splitting_header_from_anywhere(gateway_factory, caplog):
    caplog.set_level(logging.WARNING, logger="gateway.headers")
    gw = gateway_factory(plugins=[HeaderInjector()])
    for stream in (False, True):
        body = json.dumps({"model": "openai/gpt-4o", "stream": stream,
                           **ENDPOINTS["/v1/chat/completions"]}).encode()
        status, lines, _ = raw_call(gw.port, "/v1/chat/completions", body,
                                    [f"Authorization: Bearer {gw.user_key}".encode()])
        assert status == 200
        assert_clean(lines)
        assert b"x-plugin-note: fine" in [line.lower() for line in lines]
    assert any("x-plugin-bad" in r.getMessage() for r in caplog.records)


def test_a_client_asking_to_close_gets_its_answer_and_then_the_end_of_the_connection(gateway):
    body = json.dumps({"model": "openai/gpt-4o", **ENDPOINTS["/v1/chat/completions"]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: {len(body)}\r\n"
            f"Authorization: Bearer {gateway.user_key}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head + body)
        reply = b""
        while chunk := sock.recv(65536):  # ends only if the gateway closes the connection
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200") and b"echo: x" in reply
