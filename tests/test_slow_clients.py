"""Slow and greedy clients cannot exhaust the gateway: connection caps, request-head and body
deadlines and a budget for request bytes held in memory, each answered fast (503/408) over real
sockets, and the gateway keeps serving."""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest

BODY = json.dumps({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


def read_all(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def ok_call(gw) -> int:
    return httpx.post(gw.url + "/v1/chat/completions", content=BODY, timeout=10, headers={
        "Authorization": f"Bearer {gw.user_key}", "content-type": "application/json"}).status_code


def test_connections_beyond_the_cap_get_a_fast_503_and_idle_ones_are_closed(gateway_factory,
                                                                             caplog):
    caplog.set_level(logging.WARNING, logger="gateway.limits")
    gw = gateway_factory(GATEWAY_MAX_CONNECTIONS="20", GATEWAY_MAX_CONNECTIONS_PER_CLIENT="20",
                         GATEWAY_HEADER_TIMEOUT="1")
    idle = [socket.create_connection(("127.0.0.1", gw.port)) for _ in range(20)]
    time.sleep(0.2)
    extra = [socket.create_connection(("127.0.0.1", gw.port)) for _ in range(30)]
    started = time.monotonic()
    answers = [read_all(s, 3) for s in extra]
    assert all(a.startswith(b"HTTP/1.1 503") for a in answers), answers[:2]
    assert time.monotonic() - started < 3
    # The idle ones are answered 408 and closed at their head deadline; then a real call works.
    assert all(read_all(s, 3).startswith(b"HTTP/1.1 408") for s in idle)
    assert ok_call(gw) == 200
    limit_lines = [r for r in caplog.records if "connection limit" in r.getMessage()]
    assert 1 <= len(limit_lines) <= 2  # once per interval, with a count, not 30 lines
    for s in idle + extra:
        s.close()


def test_one_address_cannot_take_every_connection(gateway_factory):
    gw = gateway_factory(GATEWAY_MAX_CONNECTIONS="100", GATEWAY_MAX_CONNECTIONS_PER_CLIENT="5")
    held = [socket.create_connection(("127.0.0.1", gw.port)) for _ in range(5)]
    time.sleep(0.2)
    with socket.create_connection(("127.0.0.1", gw.port)) as sixth:
        assert read_all(sixth, 3).startswith(b"HTTP/1.1 503")
    for s in held:
        s.close()
    time.sleep(0.3)
    assert ok_call(gw) == 200


def test_a_request_head_sent_byte_by_byte_gets_408_at_its_deadline(gateway_factory):
    gw = gateway_factory(GATEWAY_HEADER_TIMEOUT="1")
    with socket.create_connection(("127.0.0.1", gw.port)) as sock:
        started = time.monotonic()
        answer = b""
        try:
            for byte in b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Slow: " + b"a" * 200:
                sock.sendall(bytes([byte]))
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway answered and closed while we were still dribbling
        answer = read_all(sock, 3)
    assert answer.startswith(b"HTTP/1.1 408") and b"request head" in answer
    assert time.monotonic() - started < 4


def test_a_body_that_stops_arriving_gets_408_at_its_deadline(gateway_factory):
    gw = gateway_factory(GATEWAY_BODY_TIMEOUT="1")
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: {len(BODY)}\r\n"
            f"Authorization: Bearer {gw.user_key}\r\nContent-Type: application/json\r\n\r\n")
    with socket.create_connection(("127.0.0.1", gw.port)) as sock:
        sock.sendall(head.encode() + BODY.encode()[:10])
        started = time.monotonic()
        answer = read_all(sock, 4)
    assert answer.startswith(b"HTTP/1.1 408") and b"request body" in answer
    assert time.monotonic() - started < 3
    assert len(gw.mock.state.requests) == 0


def test_request_bytes_beyond_the_memory_budget_wait_outside_with_a_503(gateway_factory):
    gw = gateway_factory(GATEWAY_BODY_LIMIT="100000", GATEWAY_BODY_BUDGET="150000",
                         GATEWAY_BODY_TIMEOUT="5")
    head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 90000\r\n"
            f"Authorization: Bearer {gw.user_key}\r\nContent-Type: application/json\r\n\r\n")
    with socket.create_connection(("127.0.0.1", gw.port)) as first:
        first.sendall(head.encode() + b"{")  # holds 90 kB of the budget while it dawdles
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", gw.port)) as second:
            second.sendall(head.encode())
            answer = read_all(second, 3)
    assert answer.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in answer.lower()
    time.sleep(0.3)
    assert ok_call(gw) == 200  # the budget came back when the first connection went


def test_an_idle_keep_alive_connection_is_closed_quietly(gateway_factory):
    gw = gateway_factory(GATEWAY_KEEPALIVE_TIMEOUT="1")
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: {len(BODY)}\r\n"
            f"Authorization: Bearer {gw.user_key}\r\nContent-Type: application/json\r\n\r\n")
    with socket.create_connection(("127.0.0.1", gw.port)) as sock:
        sock.sendall(head.encode() + BODY.encode())
        answer = read_all(sock, 4)  # ends when the gateway closes the idle connection
    assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"HTTP/1.1") == 1
