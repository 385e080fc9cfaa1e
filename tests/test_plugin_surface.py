"""Each built-in plugin's package exposes only its hook implementations (`__all__`), and every name
it exports is a hook of the contract — what a third-party plugin would look like."""

from __future__ import annotations

import importlib

import pytest

from gateway import hookspecs

BUILT_IN = ("dlp", "fallback", "metering", "routing")
HOOKS = {name for name in dir(hookspecs) if name.startswith("gateway_")}


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_plugin_package_exports_exactly_its_hook_implementations(name):
    module = importlib.import_module(f"plugins.{name}")
    implemented = {attr for attr in vars(module) if attr.startswith("gateway_")}
    assert implemented, f"plugins.{name} implements no hook"
    assert set(module.__all__) == implemented
    assert implemented <= HOOKS, f"not in gateway/hookspecs.py: {implemented - HOOKS}"


def test_one_hookimpl_marker_for_everyone():
    from gateway import core_hooks, markers, pluginmanager

    assert pluginmanager.hookimpl is markers.hookimpl is core_hooks.hookimpl
    for name in BUILT_IN:
        assert importlib.import_module(f"plugins.{name}").hookimpl is markers.hookimpl
