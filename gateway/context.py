"""What a running gateway process holds: settings, config, database, hooks, and the watcher that
picks up admin changes (database revision, model_config.yaml) within about a second."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth import KeyStore
from gateway.call import Provider
from gateway.config import ConfigStore, ModelConfig
from gateway.config_schema import collect
from gateway.pluginmanager import Hooks
from gateway.providers import builtin_providers, configured_providers
from gateway.settings import Settings

log = logging.getLogger("gateway.context")
POLL_INTERVAL = 0.5


@dataclass
class GatewayContext:
    settings: Settings
    config_store: ConfigStore
    engine: Engine
    sessions: sessionmaker[Session]
    hooks: Hooks
    keystore: KeyStore
    executor: ThreadPoolExecutor
    revision: int = -1
    extensions: dict[str, Any] = field(default_factory=dict)  # per-plugin state, keyed by plugin name
    _providers: dict[str, Provider] = field(default_factory=dict)
    _listeners: list[Callable[[], None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def config(self) -> ModelConfig:
        return self.config_store.current

    def provider(self, name: str) -> Provider | None:
        return self.hooks.provider(name, self._providers.get(name), self)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Run `callback` (in the watcher thread) after every admin change or config reload."""
        self._listeners.append(callback)

    def refresh_providers(self) -> None:
        providers = builtin_providers(self.settings)
        providers.update(configured_providers(self.config))
        self._providers = providers

    def poll_once(self) -> bool:
        from gateway.db.engine import read_revision

        changed = self.config_store.check()
        if changed:
            self.refresh_providers()
        rev = read_revision(self.engine)
        if rev != self.revision:
            self.revision = rev
            self.keystore.invalidate()
            changed = True
        self.keystore.poll_features()  # toggles have their own stamp: no cache drop for them
        if changed:
            for callback in list(self._listeners):
                try:
                    callback()
                except Exception:  # a listener's bug must not stop change propagation
                    log.exception("change listener %r failed", callback)
        return changed

    def start_watcher(self) -> threading.Thread:
        def loop() -> None:
            while not self._stop.wait(POLL_INTERVAL):
                try:
                    self.poll_once()
                except Exception as exc:  # database briefly away: keep serving from caches
                    log.warning("settings poll failed: %s", exc)

        thread = threading.Thread(target=loop, name="gateway-watcher", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._stop.set()
        self.executor.shutdown(wait=False, cancel_futures=True)


def open_context(settings: Settings, hooks: Hooks, migrate: bool = True) -> GatewayContext:
    from gateway.db.engine import make_engine, session_factory
    from gateway.db.migrate import upgrade

    # The whole model_config.yaml, with every plugin's schema, before anything else starts.
    config_store = ConfigStore(settings.config_path, schemas=collect(hooks.config_schemas()))
    settings.ensure_data_dir()
    if migrate:
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gateway-db")
    ctx = GatewayContext(
        settings=settings, config_store=config_store, engine=engine,
        sessions=sessions, hooks=hooks, keystore=KeyStore(sessions, executor), executor=executor,
    )
    ctx.refresh_providers()
    ctx.poll_once()
    return ctx
