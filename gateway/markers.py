"""The pluggy markers of the gateway's hook namespace, defined once.

Plugins, built-in or third-party, import `hookimpl` from `gateway.pluginmanager` (which re-exports
it); this leaf module exists so the core's own hook implementations can use the same marker
without importing the plugin manager that loads them.
"""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "llm_gateway"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
