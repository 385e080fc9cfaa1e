"""`gateway(*plugins)`: the real proxy on a loopback port in front of the bundled mock provider."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway import admin_ops
from gateway.context import GatewayContext, open_context
from gateway.mock_provider import MockState, RunningMock, serve_in_thread
from gateway.pluginmanager import GatewayPluginManager, Hooks
from gateway.server import ProxyServer
from gateway.settings import Settings
from gateway.testing._context import config_file, plugin_manager_for, write_config

PROVIDER_KEYS = {"OPENAI_API_KEY": "sk-provider-openai-test",
                 "ANTHROPIC_API_KEY": "sk-ant-provider-test"}


@dataclass
class TestGateway:
    """A running gateway. `received` is what the provider got (oldest first: `method`, `path`,
    `headers` with lower-case names, `body` as parsed JSON)."""

    __test__ = False  # not a pytest test class

    url: str
    ctx: GatewayContext
    provider: RunningMock
    config_path: Path
    user_key: str = ""
    app_key: str = ""
    _stop: list[Callable[[], None]] = field(default_factory=list)

    @property
    def received(self) -> list[dict[str, Any]]:
        return list(self.provider.state.requests)

    def openai(self, key: str | None = None, **kwargs: Any) -> Any:
        import openai

        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 20)
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key or self.user_key, **kwargs)

    def anthropic(self, key: str | None = None, **kwargs: Any) -> Any:
        import anthropic

        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 20)
        return anthropic.Anthropic(base_url=self.url, api_key=key or self.user_key, **kwargs)

    def admin(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run an admin operation (`gateway.admin_ops`, a plugin's) in a committed session;
        running gateways see it within about a second (or at once after `reload()`)."""
        with self.ctx.sessions() as session:
            result = fn(session, *args, **kwargs)
            session.commit()
        return result

    def configure(self, plugin: str, section: dict[str, Any] | None) -> None:
        """Replace `plugin`'s section of model_config.yaml and reload it now."""
        import yaml

        data = yaml.safe_load(self.config_path.read_text()) or {}
        data.setdefault("plugins", {})[plugin] = section
        write_config(self.config_path, data)
        self.reload()

    def reload(self) -> None:
        """Take admin changes and config edits now instead of within the next second."""
        self.ctx.poll_once()


@contextlib.contextmanager
def gateway(*plugins: object, config: dict[str, Any] | None = None, entry_points: bool = True,
            plugins_dir: Path | None = None, env: dict[str, str] | None = None,
            database_url: str | None = None) -> Iterator[TestGateway]:
    """Start the gateway with the installed plugins (unless `entry_points=False`), then
    `plugins_dir`'s files, then `plugins`; `config` is the plugins: section of its
    model_config.yaml. Stops everything on exit."""
    folder = Path(tempfile.mkdtemp(prefix="gateway-testing-"))
    with serve_in_thread(MockState()) as mock:
        try:
            settings = _settings(folder, mock, config, env, database_url)
            gw = _start(settings, mock, plugin_manager_for(plugins, entry_points, plugins_dir))
            try:
                yield gw
            finally:
                for stop in reversed(gw._stop):
                    stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _settings(folder: Path, mock: RunningMock, config: dict[str, Any] | None,
              env: dict[str, str] | None, database_url: str | None) -> Settings:
    values = {"GATEWAY_DATA_DIR": str(folder / "data"),
              "GATEWAY_CONFIG": str(config_file(folder, config)),
              "OPENAI_BASE_URL": mock.url + "/v1", "ANTHROPIC_BASE_URL": mock.url,
              "OLLAMA_BASE_URL": mock.url, **PROVIDER_KEYS}
    if database_url:
        values["GATEWAY_DATABASE_URL"] = database_url
    return Settings.from_env({**values, **(env or {})})


def _start(settings: Settings, mock: RunningMock, pm: GatewayPluginManager) -> TestGateway:
    ctx = open_context(settings, Hooks(pm))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-gateway", daemon=True)
    thread.start()
    server = ProxyServer(ctx, "127.0.0.1", 0)
    stops: list[Callable[[], None]] = [ctx.engine.dispose, ctx.close, lambda: _stop_loop(loop, thread)]
    try:
        port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    except BaseException:
        for stop in reversed(stops):
            stop()
        raise
    stops.append(lambda: asyncio.run_coroutine_threadsafe(
        server.stop(drain_timeout=2), loop).result(30))
    ctx.start_watcher()
    gw = TestGateway(f"http://127.0.0.1:{port}", ctx, mock, settings.config_path, _stop=stops)
    _seed(gw)
    return gw


def _seed(gw: TestGateway) -> None:
    gw.admin(admin_ops.create_org, "acme", "Acme")
    gw.admin(admin_ops.create_user, "dev@acme.test", "Dev", org_slug="acme")
    gw.admin(admin_ops.create_app, "bot", "Bot", org_slug="acme")
    gw.user_key = gw.admin(admin_ops.create_key, user_email="dev@acme.test")[0]
    gw.app_key = gw.admin(admin_ops.create_key, app_slug="bot")[0]


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    async def cancel_all() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    if loop.is_running():
        asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
    loop.close()
