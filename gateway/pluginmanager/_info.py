"""Which plugins a manager loaded, where each came from and which hooks it implements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pluggy

from gateway import hookspecs
from gateway.pluginmanager._types import PluginInfo

OWN_DISTRIBUTION = "llm-gateway"
_SPEC_ORDER = {name: i for i, name in enumerate(vars(hookspecs)) if name.startswith("gateway_")}


def list_plugins(pm: pluggy.PluginManager, files: dict[str, Path]) -> list[PluginInfo]:
    """Every registered plugin in registration order; `files` maps directory plugins to files."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked (GATEWAY_DISABLE_PLUGINS)
            continue
        hooks = sorted((c.name for c in pm.get_hookcallers(plugin) or ()),
                       key=lambda n: _SPEC_ORDER.get(n, len(_SPEC_ORDER)))
        infos.append(_describe(name, plugin, dists.get(id(plugin)), files.get(name),
                               tuple(hooks)))
    return infos


def _describe(name: str, plugin: Any, dist: Any, path: Path | None,
              hooks: tuple[str, ...]) -> PluginInfo:
    module = getattr(plugin, "__name__", None) or type(plugin).__module__
    if path is not None:
        return PluginInfo(name, "directory", str(path), None, hooks)
    if dist is not None:
        kind = "built-in" if dist.project_name == OWN_DISTRIBUTION else "entry point"
        return PluginInfo(name, kind, f"{module} (entry point {name} of {dist.project_name})",
                          dist.version, hooks)
    if name == "core" or module.startswith("gateway."):
        return PluginInfo(name, "core", module, None, hooks)
    return PluginInfo(name, "registered", module, None, hooks)
