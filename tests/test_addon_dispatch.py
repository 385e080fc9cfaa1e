"""The addon manager the proxy runs (gateway.addon_dispatch): each event reaches exactly the addons
that handle it, in chain order; a failing addon is logged and the next still runs (mitmproxy's
`safecall` policy); `AddonHalt` stops the event; adding an addon later is seen."""

from __future__ import annotations

import asyncio
import logging

import pytest
from mitmproxy import exceptions, options
from mitmproxy.addons import core
from mitmproxy.hooks import UpdateHook
from mitmproxy.master import Master
from mitmproxy.proxy.server_hooks import ClientConnectedHook
from mitmproxy.test import tflow

from gateway import addon_dispatch


class Recorder:
    def __init__(self, name: str, seen: list[str], fail: Exception | None = None) -> None:
        self.name, self.seen, self.fail = name, seen, fail

    async def client_connected(self, client) -> None:
        self.seen.append(self.name)
        if self.fail is not None:
            raise self.fail


def make_master() -> Master:
    master = Master(options.Options(), event_loop=asyncio.get_running_loop())
    addon_dispatch.install(master)
    master.addons.add(core.Core())
    return master


def test_dispatch_order_errors_halt_and_late_additions(caplog):
    async def scenario() -> list[list[str]]:
        master = make_master()
        seen: list[str] = []
        master.addons.add(Recorder("a", seen, RuntimeError("boom")), Recorder("b", seen))
        event = ClientConnectedHook(tflow.tclient_conn())
        await master.addons.trigger_event(event)
        first = list(seen)
        seen.clear()
        master.addons.add(Recorder("c", seen))
        await master.addons.trigger_event(event)
        second = list(seen)
        seen.clear()
        master.addons.add(Halter(seen), Recorder("e", seen))
        await master.addons.trigger_event(event)
        await master.addons.trigger_event(UpdateHook([]))  # nobody handles it: nothing happens
        return [first, second, list(seen)]

    with caplog.at_level(logging.ERROR):
        first, second, third = asyncio.run(scenario())
    assert first == ["a", "b"]  # a raised; b still ran
    assert any("Addon error: boom" in r.getMessage() for r in caplog.records)
    assert second == ["a", "b", "c"]
    assert third == ["a", "b", "c", "halt"]  # e comes after the halt


class Halter:
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def client_connected(self, client) -> None:
        self.seen.append("halt")
        raise exceptions.AddonHalt


def test_install_refuses_a_master_that_already_has_addons():
    async def scenario() -> None:
        master = Master(options.Options(), event_loop=asyncio.get_running_loop())
        master.addons.add(core.Core())
        with pytest.raises(RuntimeError, match="before adding addons"):
            addon_dispatch.install(master)

    asyncio.run(scenario())


class Plain:
    def __init__(self, name: str, seen: list[str], fail: Exception | None = None,
                 later: bool = False) -> None:
        self.name, self.seen, self.fail, self.later = name, seen, fail, later

    def client_connected(self, client):
        self.seen.append(self.name)
        if self.fail is not None:
            raise self.fail
        if self.later:  # a plain function that hands back an awaitable: mitmproxy awaits it
            async def rest() -> None:
                await asyncio.sleep(0)
                self.seen.append(self.name + " awaited")
            return rest()
        return None


def test_plain_handlers_run_in_place_and_an_awaitable_hands_over_the_rest(caplog):
    """`trigger_now` (the proxy's task-free path) keeps the same order and error policy, and
    when a plain handler returns an awaitable, what is left (it, then the later handlers) is
    returned to be awaited — nothing runs early, nothing is skipped."""
    async def scenario() -> tuple[bool, list[str], list[str], bool]:
        master = make_master()
        seen: list[str] = []
        master.addons.add(Plain("a", seen, RuntimeError("boom")), Plain("b", seen))
        event = ClientConnectedHook(tflow.tclient_conn())
        inline = master.addons.runs_inline(event)
        assert master.addons.trigger_now(event, event.args()) is None
        first = list(seen)
        seen.clear()
        master.addons.add(Plain("c", seen, later=True), Plain("d", seen))
        rest = master.addons.trigger_now(event, event.args())
        before = list(seen)
        assert rest is not None
        await rest
        master.addons.add(Recorder("async", seen))
        return inline, first, before + ["|"] + seen, master.addons.runs_inline(event)

    with caplog.at_level(logging.ERROR):
        inline, first, second, inline_after = asyncio.run(scenario())
    assert inline is True
    assert first == ["a", "b"]
    assert any("Addon error: boom" in r.getMessage() for r in caplog.records)
    assert second == ["a", "b", "c", "|", "a", "b", "c", "c awaited", "d"]
    assert inline_after is False  # an async handler joined: the hook goes back to a task
