"""The hook façade's direct path (`gateway.pluginmanager._direct`) answers exactly what pluggy
answers: the same order, the first result of a `firstresult` hook, every result of the others,
plugins registered later, and pluggy itself whenever a wrapper or tracing is in play."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest

from gateway import hookspecs
from gateway.markers import PROJECT, hookimpl
from gateway.pluginmanager._direct import DirectCalls


class Named:
    def __init__(self, name: str, seen: list[str], route: Any = None, headers: Any = None) -> None:
        self.name, self.seen, self.route, self.headers = name, seen, route, headers

    @hookimpl
    def gateway_resolve_model(self, call):
        self.seen.append(self.name)
        return self.route

    @hookimpl
    def gateway_response_headers(self, call):
        self.seen.append(self.name)
        return self.headers


class Early(Named):
    @hookimpl(tryfirst=True)
    def gateway_resolve_model(self, call):
        self.seen.append(self.name)
        return self.route


class Wrapping:
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    @hookimpl(wrapper=True)
    def gateway_response_headers(self, call):
        self.seen.append("wrapper before")
        result = yield
        self.seen.append("wrapper after")
        return result


def manager(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def both(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> tuple[Any, list[str], Any, list[str]]:
    seen: list[str] = []
    for plugin in pm.get_plugins():
        plugin.seen = seen
    direct = DirectCalls(pm).call(hook, **kwargs)
    direct_seen = list(seen)
    seen.clear()
    plain = getattr(pm.hook, hook)(**kwargs)
    return direct, direct_seen, plain, list(seen)


@pytest.mark.parametrize("routes", [(None, None, None), ("a", None, "c"), (None, "b", None)])
def test_firstresult_order_and_stop(routes):
    seen: list[str] = []
    pm = manager(Named("one", seen, routes[0]), Early("early", seen, routes[1]),
                 Named("two", seen, routes[2]))
    direct, direct_seen, plain, plain_seen = both(pm, "gateway_resolve_model", call=object())
    assert direct == plain and direct_seen == plain_seen


def test_every_result_collected_in_order():
    seen: list[str] = []
    pm = manager(Named("one", seen, headers={"a": "1"}), Named("two", seen),
                 Named("three", seen, headers={"c": "3"}))
    direct, direct_seen, plain, plain_seen = both(pm, "gateway_response_headers", call=object())
    assert direct == plain == [{"c": "3"}, {"a": "1"}]
    assert direct_seen == plain_seen == ["three", "two", "one"]


def test_a_plugin_registered_later_is_called():
    seen: list[str] = []
    pm = manager(Named("one", seen, headers={"a": "1"}))
    calls = DirectCalls(pm)
    assert calls.call("gateway_response_headers", call=object()) == [{"a": "1"}]
    pm.register(Named("two", seen, headers={"b": "2"}))
    assert calls.call("gateway_response_headers", call=object()) == [{"b": "2"}, {"a": "1"}]
    pm.unregister(name=pm.get_name(pm.get_plugins().pop()))
    assert len(calls.call("gateway_response_headers", call=object())) == 1
    for plugin in list(pm.get_plugins()):  # as many implementations as before, other ones
        pm.unregister(plugin)
    pm.register(Named("three", seen, headers={"c": "3"}))
    assert calls.call("gateway_response_headers", call=object()) == [{"c": "3"}]


def test_wrappers_and_tracing_go_through_pluggy():
    seen: list[str] = []
    pm = manager(Named("one", seen, headers={"a": "1"}), Wrapping(seen))
    direct, direct_seen, plain, plain_seen = both(pm, "gateway_response_headers", call=object())
    assert direct == plain and direct_seen == plain_seen
    assert direct_seen == ["wrapper before", "one", "wrapper after"]

    traced: list[str] = []
    pm = manager(Named("one", seen, headers={"a": "1"}))
    calls = DirectCalls(pm)
    pm.trace.root.setwriter(traced.append)
    undo = pm.enable_tracing()
    calls.call("gateway_response_headers", call=object())
    undo()
    assert any("gateway_response_headers" in line for line in traced)
