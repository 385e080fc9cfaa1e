"""What a plugin may use of the running gateway: the `PluginHost` protocol.

Hooks receive the process's context as `ctx` (or `call.ctx`). Plugins type it as `PluginHost`, not
as the concrete `gateway.context.GatewayContext`, so the hook contract does not import the module
that builds the context (which imports the plugin manager, which imports the hook contract): the
protocol breaks that cycle and names the whole surface a plugin can rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.call import Provider
    from gateway.config import ModelConfig
    from gateway.settings import Settings

__all__ = ["PluginHost"]


class PluginHost(Protocol):
    """The running gateway as plugins see it (one per process)."""

    @property
    def settings(self) -> Settings:
        """The process settings (environment; frozen)."""

    @property
    def config(self) -> ModelConfig:
        """The current model_config.yaml (frozen; replaced, never mutated, on reload)."""

    @property
    def engine(self) -> Engine:
        """The shared database engine."""

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Opens database sessions: `with ctx.sessions() as s: …`."""

    @property
    def executor(self) -> Executor:
        """Threads for blocking work (database) off the event loop."""

    @property
    def extensions(self) -> dict[str, Any]:
        """Per-plugin state, keyed by plugin name (never module globals: tests run many gateways)."""

    def provider(self, name: str) -> Provider | None:
        """The endpoint and credentials provider `name` resolves to now (after plugins)."""

    def on_change(self, callback: Callable[[], None]) -> None:
        """Run `callback` (in the watcher thread) after every admin change or config reload."""
