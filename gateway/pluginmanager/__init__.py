"""The plugin manager and the typed façade that calls the hooks.

Built-in plugins are registered exactly as third-party ones: through the `llm_gateway.plugins`
entry-point group. The core's own defaults (`gateway.core_hooks`) are registered first and use
`trylast`, so any plugin answers before them. Then come the entry points, then the files of a
plugins folder (`--plugins-dir`, in name order, see `_directory`), then plugins a test passes.

What plugin authors import from here: `hookimpl`, `plugin_config(ctx, name)`, the config schema
types `ConfigSection` and `PluginSchema`, and the admin types
`AdminPages`, `NavLink`, `SettingsSection`.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import pluggy

from gateway import hookspecs
from gateway.call import (
    Attempt,
    CachedAnswer,
    Call,
    Failure,
    LocalRequest,
    LocalResponse,
    ModelInfo,
    Principal,
    Provider,
    ResponseFilter,
    Route,
)
from gateway.config_schema import ConfigSection, PluginSchema
from gateway.errors import GatewayError
from gateway.host import PluginHost
from gateway.markers import PROJECT, hookimpl
from gateway.pluginmanager._config import ConfigHooks, PluginConfigs, plugin_config
from gateway.pluginmanager._direct import DirectCalls
from gateway.pluginmanager._directory import (
    PluginLoadError,
    load_file,
    load_plugins_dir,
)
from gateway.pluginmanager._info import list_plugins
from gateway.pluginmanager._types import (
    AdminPages,
    NavLink,
    PluginInfo,
    SettingsSection,
)

__all__ = ["AdminPages", "ConfigSection", "GatewayPluginManager", "Hooks", "NavLink",
           "PluginConfigs", "PluginInfo", "PluginLoadError", "PluginSchema", "SettingsSection",
           "hookimpl", "load_file", "make_plugin_manager", "plugin_config", "plugin_manager"]

ENTRY_POINT_GROUP = "llm_gateway.plugins"
log = logging.getLogger("gateway.plugins")

_default_pm: GatewayPluginManager | None = None


class GatewayPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which plugins came from a plugins folder."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.plugin_files: dict[str, Path] = {}
        self.plugins_dirs: list[Path] = []

    def add_plugins_dir(self, folder: Path) -> None:
        """Register `folder`'s plugin files (once per folder); all or nothing."""
        folder = Path(folder).resolve()
        if folder not in self.plugins_dirs:
            self.plugin_files.update(load_plugins_dir(self, folder))
            self.plugins_dirs.append(folder)

    def infos(self) -> list[PluginInfo]:
        return list_plugins(self, self.plugin_files)


def make_plugin_manager(load_entry_points: bool = True, extra: Iterable[object] = (),
                        plugins_dir: Path | None = None) -> GatewayPluginManager:
    """A fresh manager: core defaults, entry-point plugins, `plugins_dir`'s files, then `extra`
    (tests; an item may be a `(name, plugin)` pair to register it under that name)."""
    from gateway import core_hooks

    pm = GatewayPluginManager()
    pm.add_hookspecs(hookspecs)
    pm.register(core_hooks.CoreHooks(), name="core")
    pm.register(ConfigHooks(), name="plugin_config")
    if load_entry_points:
        # GATEWAY_DISABLE_PLUGINS=metering,dlp: leave these entry points out (benchmarks, triage).
        blocked = os.environ.get("GATEWAY_DISABLE_PLUGINS", "").replace(" ", "")
        for name in filter(None, blocked.split(",")):
            pm.set_blocked(name)
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    if plugins_dir is not None:
        pm.add_plugins_dir(plugins_dir)
    for plugin in extra:
        if isinstance(plugin, tuple):
            pm.register(plugin[1], name=plugin[0])
        else:
            pm.register(plugin)
    pm.check_pending()
    return pm


def plugin_manager(plugins_dir: Path | None = None) -> GatewayPluginManager:
    """The process-wide manager, created on first use; `plugins_dir`'s files are added to it
    (once; a broken file raises `PluginLoadError` and leaves none of the folder registered)."""
    global _default_pm
    if _default_pm is None:
        _default_pm = make_plugin_manager()
    if plugins_dir is not None:
        _default_pm.add_plugins_dir(plugins_dir)
    return _default_pm


async def await_me_maybe(value: Any) -> Any:
    if inspect.isawaitable(value):
        value = await value
    return value


class Hooks:
    """One typed method per hook, so callers never touch `pm.hook` untyped."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._hook = pm.hook
        self._call = DirectCalls(pm).call

    def names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin()]

    def startup(self, ctx: PluginHost) -> None:
        self._hook.gateway_startup(ctx=ctx)

    def shutdown(self, ctx: PluginHost) -> None:
        for impl in reversed(self._hook.gateway_shutdown.get_hookimpls()):
            try:
                impl.function(ctx=ctx)
            except Exception:  # one plugin's broken shutdown must not stop the others' flush
                log.exception("gateway_shutdown failed in plugin %s", impl.plugin_name)

    async def authenticate(self, call: Call, credential: str) -> Principal | None:
        principal: Principal | None = await await_me_maybe(
            self._call("gateway_authenticate", call=call, credential=credential))
        return principal

    def resolve_model(self, call: Call) -> Route | None:
        route: Route | None = self._call("gateway_resolve_model", call=call)
        return route

    def provider(self, name: str, default: Provider | None, ctx: PluginHost) -> Provider | None:
        provider: Provider | None = self._call("gateway_provider", name=name, default=default, ctx=ctx)
        return provider

    def plan_candidates(self, call: Call, primary: Route) -> list[Route]:
        return self._call("gateway_plan_candidates", call=call, primary=primary) or [primary]

    async def admit(self, call: Call) -> None:
        for result in self._call("gateway_admit", call=call):
            await await_me_maybe(result)

    def transform_request(self, call: Call) -> None:
        self._call("gateway_transform_request", call=call)

    def prepare_attempt(self, call: Call, attempt: Attempt) -> None:
        self._call("gateway_prepare_attempt", call=call, attempt=attempt)

    async def cache_lookup(self, call: Call, attempt: Attempt) -> CachedAnswer | None:
        answer: CachedAnswer | None = await await_me_maybe(
            self._call("gateway_cache_lookup", call=call, attempt=attempt))
        return answer

    def cache_store(self, call: Call, attempt: Attempt, answer: CachedAnswer) -> None:
        self._each("gateway_cache_store", call=call, attempt=attempt, answer=answer)

    def retry(self, call: Call, attempt: Attempt, failure: Failure) -> bool:
        return bool(self._call("gateway_retry", call=call, attempt=attempt, failure=failure))

    def response_filters(self, call: Call, attempt: Attempt) -> list[ResponseFilter]:
        return [f for f in self._call("gateway_response_filter", call=call, attempt=attempt) if f]

    def local_request(self, request: LocalRequest, ctx: PluginHost) -> LocalResponse | None:
        response: LocalResponse | None = self._hook.gateway_local_request(request=request, ctx=ctx)
        return response

    def response_headers(self, call: Call) -> dict[str, str]:
        merged: dict[str, str] = {}
        for extra in reversed(self._call("gateway_response_headers", call=call)):
            if extra:
                merged.update({k: str(v) for k, v in extra.items()})
        return merged

    def call_complete(self, call: Call) -> None:
        self._each("gateway_call_complete", call=call)

    def call_failed(self, call: Call, error: GatewayError) -> None:
        self._each("gateway_call_failed", call=call, error=error)

    def list_models(self, principal: Principal | None, ctx: PluginHost) -> list[ModelInfo]:
        seen: dict[str, ModelInfo] = {}
        for batch in self._hook.gateway_list_models(principal=principal, ctx=ctx):
            for info in batch or ():
                seen.setdefault(info.id, info)
        return list(seen.values())

    def config_schemas(self) -> dict[str, Any]:
        """plugin name → the schema its `gateway_plugin_config_schema` returned."""
        return {impl.plugin_name: impl.function()
                for impl in self._hook.gateway_plugin_config_schema.get_hookimpls()}

    def admin_pages(self) -> list[tuple[str, AdminPages]]:
        found: list[tuple[str, AdminPages]] = [
            (impl.plugin_name, pages)
            for impl in reversed(self._hook.gateway_admin_pages.get_hookimpls())
            if (pages := cast("AdminPages | None", impl.function())) is not None]
        return found

    def admin_settings_section(self, name: str, config: Any) -> SettingsSection | None:
        """Plugin `name`'s Settings section, given its own configuration."""
        for impl in self._hook.gateway_admin_settings_section.get_hookimpls():
            if impl.plugin_name == name:
                section = cast("SettingsSection | None", impl.function(
                    **({"config": config} if impl.argnames else {})))
                return section
        return None

    def admin_section_owners(self) -> list[str]:
        return [impl.plugin_name
                for impl in reversed(self._hook.gateway_admin_settings_section.get_hookimpls())]

    def _each(self, name: str, **kwargs: Any) -> None:
        """Run every implementation even if one raises: the call is over, all must see it."""
        for impl in reversed(getattr(self._hook, name).get_hookimpls()):
            try:
                args = {k: v for k, v in kwargs.items() if k in impl.argnames}
                impl.function(**args)
            except Exception:
                log.exception("%s failed in plugin %s", name, impl.plugin_name)
