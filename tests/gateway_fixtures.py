"""Fixtures that run the real thing over real sockets: the mock provider and a gateway (mitmproxy
embedded, on its own thread and event loop), with a user and an app key in a fresh database."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway import admin_ops
from gateway.context import GatewayContext, open_context
from gateway.mock_provider import MockState
from gateway.mock_provider._server import RunningMock, serve_in_thread
from gateway.pluginmanager import Hooks, make_plugin_manager
from gateway.server import ProxyServer
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_KEYS = {"OPENAI_API_KEY": "sk-provider-openai-SECRET-0001",
                 "ANTHROPIC_API_KEY": "sk-ant-provider-SECRET-0002"}


@dataclass
class RunningGateway:
    url: str
    port: int
    ctx: GatewayContext
    mock: RunningMock
    user_key: str = ""
    app_key: str = ""
    _server: ProxyServer | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    extra: dict = field(default_factory=dict)

    def openai(self, key: str | None = None, **kwargs):
        import openai

        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 20)
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key or self.user_key, **kwargs)

    def anthropic(self, key: str | None = None, **kwargs):
        import anthropic

        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 20)
        return anthropic.Anthropic(base_url=self.url, api_key=key or self.user_key, **kwargs)

    def admin(self, fn, *args, **kwargs):
        """Run an admin operation in its own committed session."""
        with self.ctx.sessions() as session:
            result = fn(session, *args, **kwargs)
            session.commit()
            return result

    def stop(self) -> None:
        if self._server is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(drain_timeout=2), self._loop).result(30)
            asyncio.run_coroutine_threadsafe(_cancel_all(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()
            self._server = None
        self.ctx.close()


async def _cancel_all() -> None:
    """Idle keep-alive connections and pending deadline timers: end them before the loop closes."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def make_settings(data_dir: Path, db_url: str, mock: RunningMock, **env: str) -> Settings:
    base = {
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_DATABASE_URL": db_url,
        "GATEWAY_CONFIG": str(ROOT / "model_config.yaml"),
        "OPENAI_BASE_URL": mock.url + "/v1",
        "ANTHROPIC_BASE_URL": mock.url,
        "OLLAMA_BASE_URL": mock.url,
        **PROVIDER_KEYS,
    }
    base.update(env)
    return Settings.from_env(base)


def start_gateway(settings: Settings, mock: RunningMock, plugins: Iterable[object] = (),
                  entry_points: bool = True, intercept=None) -> RunningGateway:
    hooks = Hooks(make_plugin_manager(load_entry_points=entry_points, extra=plugins))
    ctx = open_context(settings, hooks)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="gateway", daemon=True)
    thread.start()
    if intercept is not None and not intercept.port:  # mitmproxy binds one listener per port
        intercept = dataclasses.replace(intercept, port=_free_port())
    server = ProxyServer(ctx, "127.0.0.1", 0, intercept=intercept)
    port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    ctx.start_watcher()
    gw = RunningGateway(url=f"http://127.0.0.1:{port}", port=port, ctx=ctx, mock=mock,
                        _server=server, _loop=loop, _thread=thread)
    if intercept is not None:
        gw.extra["proxy_url"] = f"http://127.0.0.1:{server.intercept_port}"
    gw.admin(admin_ops.create_org, "acme", "Acme")
    gw.admin(admin_ops.create_user, "dev@acme.test", "Dev", org_slug="acme")
    gw.admin(admin_ops.create_app, "bot", "Bot", org_slug="acme")
    gw.user_key = gw.admin(admin_ops.create_key, user_email="dev@acme.test")[0]
    gw.app_key = gw.admin(admin_ops.create_key, app_slug="bot")[0]
    return gw


def logged_rows(gw: RunningGateway, at_least: int = 0) -> list:
    """The gateway's request log once it holds `at_least` rows: a streamed call's row is queued
    when the gateway has finished the stream, a moment after the client read its last byte."""
    from sqlalchemy import select

    from gateway.db.models import RequestLog

    deadline = time.monotonic() + 5
    while True:
        gw.ctx.extensions["metering"].flush()
        with gw.ctx.sessions() as session:
            rows = session.scalars(select(RequestLog).order_by(RequestLog.id)).all()
        if len(rows) >= at_least or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mock_provider() -> Iterator[RunningMock]:
    with serve_in_thread(MockState()) as mock:
        yield mock


@pytest.fixture
def gateway_factory(tmp_path, db_url, mock_provider):
    """Start gateways with custom plugins or settings: `gateway_factory(plugins=[...], **env)`."""
    started: list[RunningGateway] = []

    def factory(plugins: Iterable[object] = (), entry_points: bool = True, intercept=None,
                **env: str):
        settings = make_settings(tmp_path / f"data{len(started)}", db_url, mock_provider, **env)
        gw = start_gateway(settings, mock_provider, plugins, entry_points, intercept)
        started.append(gw)
        return gw

    yield factory
    for gw in started:
        gw.stop()


@pytest.fixture
def gateway(gateway_factory) -> RunningGateway:
    return gateway_factory()
