"""Faults and hostile input at the edges, over real sockets: a provider that redirects or sends
garbage inside a 200 stream, a pathological request body, and the database file's mode."""

from __future__ import annotations

import json
import os
import stat
import threading

import httpx
import openai
import pytest
from aiohttp import web

MSG = [{"role": "user", "content": "x"}]


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


class Scripted:
    """A provider answering every call with one fixed, hostile answer."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.url = ""

    def __enter__(self) -> Scripted:
        import asyncio

        ready = threading.Event()

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self.handler)
            self.runner = web.AppRunner(app)
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def redirect(request):
    raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")


def sse(payload: bytes):
    async def handler(request):
        response = web.StreamResponse(status=200, headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n')
        await response.write(payload)
        await response.write_eof()
        return response
    return handler


def test_an_upstream_redirect_is_a_502_never_followed(gateway_factory):
    with Scripted(redirect) as provider:
        gw = gateway_factory(OPENAI_BASE_URL=provider.url + "/v1")
        answer = httpx.post(gw.url + "/v1/chat/completions", timeout=10,
                            json={"model": "openai/gpt-4o", "messages": MSG},
                            headers={"Authorization": f"Bearer {gw.user_key}"})
    assert answer.status_code == 502 and "location" not in answer.headers
    assert "redirect (HTTP 302)" in answer.json()["error"]["message"]


@pytest.mark.parametrize("payload", [
    b"<html><body><h1>502 Bad Gateway</h1></body></html>\n\n",
    b"data: this is not json {{{\n\n",
])
def test_garbage_inside_a_200_stream_becomes_one_clean_error_event(gateway_factory, payload):
    with Scripted(sse(payload)) as provider:
        gw = gateway_factory(OPENAI_BASE_URL=provider.url + "/v1")
        stream = gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG,
                                                     stream=True)
        received = []
        with pytest.raises(openai.APIError, match="invalid stream"):
            for chunk in stream:
                received.append(chunk)
        raw = httpx.post(gw.url + "/v1/chat/completions", timeout=10,
                         json={"model": "openai/gpt-4o", "messages": MSG, "stream": True},
                         headers={"Authorization": f"Bearer {gw.user_key}"}).text
    assert [c.choices[0].delta.content for c in received] == ["hi"]
    assert b"<html>" not in raw.encode() and "not json" not in raw
    events = [line for line in raw.split("\n\n") if line.strip()]
    assert json.loads(events[-1][len("data: "):])["error"]["message"].startswith(
        "provider openai sent an invalid stream")


def test_pathologically_nested_json_is_a_400(gateway):
    body = b'{"model": "openai/gpt-4o", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = httpx.post(gateway.url + "/v1/chat/completions", content=body, timeout=20,
                        headers={"Authorization": f"Bearer {gateway.user_key}",
                                 "content-type": "application/json"})
    assert answer.status_code == 400
    assert "nested too deeply" in answer.json()["error"]["message"]


def test_the_sqlite_database_is_readable_by_its_owner_only(gateway):
    path = gateway.ctx.settings.database_url.split("///", 1)[1]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_existing_world_readable_database_is_tightened(tmp_path):
    from gateway.db.engine import make_engine

    path = tmp_path / "old.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600




@pytest.mark.parametrize("allow_private", [False, True])
def test_a_stored_provider_name_that_rebinds_to_a_private_address_gets_no_key(
        gateway, monkeypatch, allow_private):
    """Validated when stored (the name resolved nowhere private then); at connect time it
    resolves to 127.0.0.1: refused unless private addresses are allowed, and then pinned."""
    import socket as socket_module

    from plugins.fallback._credentials import set_credential
    from plugins.fallback._ops import ALLOW_PRIVATE, set_setting

    port = int(gateway.mock.url.rsplit(":", 1)[1])
    real = socket_module.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "rebind.example":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    with gateway.ctx.sessions() as session:
        set_credential(session, gateway.ctx.settings.secret_key(), "openai",
                       base_url=f"http://rebind.example:{port}/v1", api_key="sk-stored-KEY-1234")
        set_setting(session, ALLOW_PRIVATE, allow_private)
        session.commit()
    monkeypatch.setattr(socket_module, "getaddrinfo", rebinding)
    gateway.ctx.poll_once()
    before = len(gateway.mock.state.requests)
    answer = httpx.post(gateway.url + "/v1/chat/completions", timeout=10,
                        json={"model": "openai/gpt-4o", "messages": MSG},
                        headers={"Authorization": f"Bearer {gateway.user_key}"})
    if allow_private:
        assert answer.status_code == 200
        assert gateway.mock.state.requests[-1]["headers"]["authorization"] == "Bearer sk-stored-KEY-1234"
    else:
        assert answer.status_code == 502 and "private address" in answer.json()["error"]["message"]
        assert len(gateway.mock.state.requests) == before
