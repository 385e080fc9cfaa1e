"""Paths the gateway does not serve: answered in the API's shape, visible in the log and the
request log (with the key when one was presented), bounded; harmless probes answered politely."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select

from gateway import unknown_endpoints
from gateway.db.models import RequestLog


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


def rows(gw):
    gw.ctx.extensions["metering"].writer.flush()
    with gw.ctx.sessions() as session:
        return session.scalars(select(RequestLog).order_by(RequestLog.id)).all()


def test_an_unknown_endpoint_is_logged_and_shown_with_the_key_and_status(gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway.unknown")
    auth = {"Authorization": f"Bearer {gateway.user_key}"}
    answer = httpx.get(gateway.url + "/v1/assistants?limit=1", headers=auth)
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "unknown endpoint GET /v1/assistants"
    wrong_method = httpx.get(gateway.url + "/v1/chat/completions", headers=auth)
    assert wrong_method.status_code == 405
    anon = httpx.post(gateway.url + "/api/show", json={"model": "llama3.2"})
    assert anon.status_code == 404 and anon.json() == {"error": "unknown endpoint POST /api/show"}
    logged = [r for r in rows(gateway) if r.endpoint != "/v1/chat/completions" or r.status == 405]
    assert [(r.endpoint, r.status, r.key_prefix is not None) for r in logged] == [
        ("/v1/assistants", 404, True), ("/v1/chat/completions", 405, True),
        ("/api/show", 404, False)]
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.unknown"]
    assert any("GET /v1/assistants status=404 key=" + gateway.user_key[:14] in line
               for line in lines), lines


def test_hostile_paths_are_escaped_in_answer_log_and_database(gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway")
    # A path with an escape sequence and a non-ASCII byte, sent raw on the socket.
    import socket

    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(b"GET /v1/\x1b[31mred\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 404") and b"\x1b" not in reply
    assert rows(gateway)[-1].endpoint == "/v1/%1B[31mred%FF"
    assert all("\x1b" not in r.getMessage() for r in caplog.records)


def test_repeats_are_counted_not_logged_and_rows_are_bounded(gateway, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="gateway.unknown")
    monkeypatch.setattr(unknown_endpoints, "RECORDS_PER_MINUTE", 3)
    for _ in range(5):
        assert httpx.get(gateway.url + "/wp-login.php").status_code == 404
    assert sum(r.endpoint == "/wp-login.php" for r in rows(gateway)) == 3
    assert sum("wp-login" in r.getMessage() for r in caplog.records
               if r.name == "gateway.unknown") == 1


def test_the_minute_summary_names_the_repeats():
    clock = [0.0]
    tracker = unknown_endpoints.UnknownEndpoints.__new__(unknown_endpoints.UnknownEndpoints)
    tracker.clock, tracker.window_start, tracker.counts, tracker.recorded = (
        lambda: clock[0], 0.0, {"GET /x": 4, "GET /y": 1}, 2)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    unknown_endpoints.log.addHandler(handler)
    unknown_endpoints.log.setLevel(logging.INFO)
    try:
        clock[0] = 61.0
        tracker._roll()
    finally:
        unknown_endpoints.log.removeHandler(handler)
    assert [r.getMessage() for r in records] == [
        "unknown endpoints, repeats in the last minute: GET /x ×3"]
    assert tracker.counts == {} and tracker.recorded == 0


def test_harmless_probes_are_answered_politely(gateway):
    assert httpx.head(gateway.url + "/api/hello").status_code == 200
    assert httpx.get(gateway.url + "/api/ps").json() == {"models": []}


def test_agent_calls_and_unknown_endpoints_show_in_the_admin_logs(gateway):
    import re

    from admin_web import create_app
    from gateway import admin_ops

    gateway.anthropic().messages.create(model="openai/gpt-4o", max_tokens=20,
                                        messages=[{"role": "user", "content": "hi"}])
    httpx.get(gateway.url + "/v1/assistants",
              headers={"Authorization": f"Bearer {gateway.user_key}"})
    rows(gateway)  # flushed
    gateway.admin(admin_ops.create_user, "root@acme.test", "Root", role="super_admin",
                  password="correct horse battery staple")
    app = create_app({"TESTING": True, "DATABASE_URL": str(gateway.ctx.settings.database_url),
                      "SECRET_KEY": "k"})
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
    client.post("/login", data={"email": "root@acme.test", "csrf_token": token,
                                "password": "correct horse battery staple"})
    page = client.get("/logs/").get_data(as_text=True)
    assert "/v1/assistants" in page and "404" in page
    assert "/v1/messages" in page and "openai/gpt-4o" in page
