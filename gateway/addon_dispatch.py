"""mitmproxy's addon manager, dispatching each event only to the addons that handle it.

mitmproxy 11's `AddonManager.trigger_event` walks every addon of the chain for every event, looks
the handler up by name each time, and enters a `contextlib` context manager (`safecall`) per addon,
handler or not; each flow event is then triggered a second time as an `update` event that no addon
here handles. With the seven addons a gateway process runs that is about 110 context managers and
lookups per call, measured at about 10 % of a non-streaming call's CPU. This subclass keeps, per
event name, the list of (addon, handler) pairs (rebuilt whenever an addon is added or removed) and
catches errors per handler with the same outcome as `safecall`: the error is logged as
"Addon error" and the next handler runs; `AddonHalt` stops the event, `OptionsError` propagates.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from mitmproxy import exceptions, hooks
from mitmproxy.addonmanager import AddonManager

log = logging.getLogger("mitmproxy.addonmanager")

Handler = tuple[Any, Callable[..., Any]]


class DispatchingAddonManager(AddonManager):
    def __init__(self, master: Any) -> None:
        super().__init__(master)  # type: ignore[no-untyped-call]  # mitmproxy: unannotated
        self._handlers: dict[str, list[Handler]] = {}

    def add(self, *addons: Any) -> None:
        self._handlers.clear()
        super().add(*addons)  # type: ignore[no-untyped-call]  # mitmproxy: unannotated

    def remove(self, addon: Any) -> None:
        self._handlers.clear()
        super().remove(addon)  # type: ignore[no-untyped-call]  # mitmproxy: unannotated

    def clear(self) -> None:
        self._handlers.clear()
        super().clear()  # type: ignore[no-untyped-call]  # mitmproxy: unannotated

    def handlers(self, event: hooks.Hook) -> list[Handler]:
        found = self._handlers.get(event.name)
        if found is None:
            found = [pair for addon in self.chain for pair in self._iter_hooks(addon, event)]
            self._handlers[event.name] = found
        return found

    async def trigger_event(self, event: hooks.Hook) -> None:
        handlers = self.handlers(event)
        if not handlers:
            return
        args = event.args()
        for addon, func in handlers:
            try:
                result = func(*args)
                if result is not None and inspect.isawaitable(result):
                    await result
            except exceptions.AddonHalt:
                return
            except exceptions.OptionsError:
                raise
            except Exception as exc:  # safecall's policy: log it, the next addon still runs
                log.error("Addon error: %s (in %s of %r)", exc, event.name, addon, exc_info=True)


def install(master: Any) -> None:
    """Give a freshly made Master (no addon added yet) this manager."""
    if len(master.addons):
        raise RuntimeError("install the addon manager before adding addons")
    master.addons = DispatchingAddonManager(master)
