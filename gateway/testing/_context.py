"""`context(*plugins)`: the hooks and a real `GatewayContext`, without sockets (taddons-style)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from gateway import catalog
from gateway.call import Call
from gateway.context import GatewayContext, open_context
from gateway.pluginmanager import GatewayPluginManager, Hooks, load_file, make_plugin_manager
from gateway.settings import Settings


@dataclasses.dataclass
class PluginContext:
    ctx: GatewayContext
    hooks: Hooks
    config_path: Path

    def bind(self, call: Call) -> Call:
        """`call`, served by this context (what `call.ctx` is in a running gateway)."""
        call.ctx = self.ctx
        return call

    def run(self, hook: str, **kwargs: Any) -> Any:
        """Call one hook through pluggy as the core would (every implementation, or the first
        answer for `firstresult` hooks); a `call` argument is bound to this context first."""
        if isinstance(kwargs.get("call"), Call):
            self.bind(kwargs["call"])
        return getattr(self.hooks.pm.hook, hook)(**kwargs)

    def configure(self, plugin: str, section: dict[str, Any] | None) -> None:
        """Replace plugin `plugin`'s section of model_config.yaml and reload it, as an edit of
        the file would (a bad section is refused and the last good one stays)."""
        data = yaml.safe_load(self.config_path.read_text()) or {}
        data.setdefault("plugins", {})[plugin] = section
        write_config(self.config_path, data)
        self.ctx.poll_once()


def write_config(path: Path, data: dict[str, Any]) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    st = path.stat()
    if st.st_mtime_ns <= before:  # same timestamp tick: make the change visible to the watcher
        os.utime(path, ns=(st.st_atime_ns, before + 1_000_000))


def config_file(folder: Path, plugins: dict[str, Any] | None) -> Path:
    """The packaged default model_config.yaml with `plugins` as its plugins: section."""
    data = yaml.safe_load(catalog.DEFAULT_CONFIG.read_text()) or {}
    if plugins is not None:
        data["plugins"] = plugins
    path = folder / "model_config.yaml"
    write_config(path, data)
    return path


def plugin_manager_for(plugins: tuple[object, ...], entry_points: bool,
                       plugins_dir: Path | None) -> GatewayPluginManager:
    """Paths become modules registered under their stem, as a plugins folder would do."""
    extra = [(Path(p).stem, load_file(Path(p))) if isinstance(p, (str, Path)) else p
             for p in plugins]
    return make_plugin_manager(load_entry_points=entry_points, extra=extra,
                               plugins_dir=plugins_dir)


@contextlib.contextmanager
def context(*plugins: object, config: dict[str, Any] | None = None, entry_points: bool = False,
            plugins_dir: Path | None = None, env: dict[str, str] | None = None,
            ) -> Iterator[PluginContext]:
    """`plugins` (and, with `entry_points=True`, the installed ones) over a throwaway database,
    `config` as the plugins: section; `gateway_startup` has run, `gateway_shutdown` runs on
    exit."""
    folder = Path(tempfile.mkdtemp(prefix="gateway-testing-"))
    try:
        settings = Settings.from_env({
            "GATEWAY_DATA_DIR": str(folder / "data"),
            "GATEWAY_CONFIG": str(config_file(folder, config)), **(env or {})})
        hooks = Hooks(plugin_manager_for(plugins, entry_points, plugins_dir))
        ctx = open_context(settings, hooks)
        try:
            hooks.startup(ctx)
            yield PluginContext(ctx, hooks, settings.config_path)
            hooks.shutdown(ctx)
        finally:
            ctx.close()
            ctx.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
