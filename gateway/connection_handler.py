"""mitmproxy's per-connection handler with two costs of every call taken out.

mitmproxy 11 runs each hook a layer asks for (`requestheaders`, `responseheaders`, `response`, …) in
an asyncio task of its own: a task, a debug name, a watchdog context manager, a trip through the
event loop, then the `HookCompleted` event. And each `RequestWakeup` (the gateway asks for one per
call: the first-byte deadline, see `gateway.stream_deadlines`) becomes a task sleeping on a timer,
which still wakes up and walks the layer stack after its call has long finished. Together about
5 % of a non-streaming call's instructions (callgrind), with consecutive writes to one connection
sent as one (`_TopLayer`).

`GatewayConnectionHandler` keeps mitmproxy's handler and changes only how those two commands are
carried out:

- a hook whose handlers are all plain functions (`DispatchingAddonManager.runs_inline`) runs right
  after the event that asked for it, still outside that event's processing, and its
  `HookCompleted` follows at once. Should a handler return an awaitable after all, or leave the
  flow intercepted, the rest runs in a task exactly as mitmproxy would have run it (the gateway's
  `request` handler starts its coroutine eagerly and returns what is left only when it has to
  wait, `gateway.eager`). Hooks with an async handler (the interception listener's) keep their
  task.
- a `TimedWakeup` is a plain loop timer (`call_later`) for the whole time to its deadline; its
  stream cancels it when it is done, so a finished call leaves nothing behind and a call that ends
  before its deadline is never woken. Only a wakeup that fires becomes a task, to deliver it.

Installed by replacing `mode_servers.ProxyConnectionHandler`, the name mitmproxy's server instances
create their handlers from (`install`). Relies on mitmproxy internals, hence the exact version pin.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Generator
from typing import Any, cast

from mitmproxy import flow as mflow
from mitmproxy import hooks
from mitmproxy.proxy import commands, events, mode_servers
from mitmproxy.utils import asyncio_utils

from gateway.addon_dispatch import DispatchingAddonManager

_MERGE_LIMIT = 64 * 1024


class TimedWakeup(commands.RequestWakeup):
    """A wakeup the gateway handler arms as a loop timer; `timer` is that timer until it fires.
    The stream that asked for it cancels it once it no longer cares. `delay` is what mitmproxy's
    own handler would sleep (a task each, so kept short); `full` is the whole time to the
    deadline, which the gateway handler's cancellable timer sleeps in one go."""

    timer: asyncio.TimerHandle | None = None

    def __init__(self, delay: float, full: float | None = None) -> None:
        super().__init__(delay)
        self.full = delay if full is None else full

    def cancel(self) -> bool:
        """Cancel the pending timer; False when none is pending (not armed here, or fired)."""
        timer, self.timer = self.timer, None
        if timer is None:
            return False
        timer.cancel()
        return True


class _TopLayer:
    """Stands in for the connection's top layer: passes its commands on to mitmproxy's
    `server_event`, except the hooks and wakeups the gateway handler carries out itself."""

    __slots__ = ("handler", "inner")

    def __init__(self, inner: Any, handler: GatewayConnectionHandler) -> None:
        self.inner, self.handler = inner, handler

    def handle_event(self, event: events.Event) -> Generator[commands.Command, Any, None]:
        handler = self.handler
        send: commands.SendData | None = None  # consecutive sends to one connection: one write
        for command in self.inner.handle_event(event):
            if type(command) is commands.SendData:
                if send is not None and send.connection is command.connection \
                        and len(send.data) + len(command.data) <= _MERGE_LIMIT:
                    send = commands.SendData(send.connection, send.data + command.data)
                    continue
                if send is not None:
                    yield send
                send = command
                continue
            if isinstance(command, commands.StartHook):
                if handler.addons.runs_inline(command):
                    handler.inline.append(command)
                    continue
            elif isinstance(command, TimedWakeup):
                handler.arm(command)
                continue
            if send is not None:
                yield send
                send = None
            yield command
        if send is not None:
            yield send

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class GatewayConnectionHandler(mode_servers.ProxyConnectionHandler):
    def __init__(self, master: Any, *args: Any) -> None:
        self.inline: deque[commands.StartHook] = deque()
        self.addons = cast(DispatchingAddonManager, master.addons)
        super().__init__(master, *args)  # type: ignore[no-untyped-call]  # mitmproxy: unannotated
        # Weak: a cancelled timer leaves with the loop's heap entry. mitmproxy only adds, discards,
        # pops and cancels here (its own wakeup tasks are kept alive by their timers too).
        self.wakeup_timer = cast(set[asyncio.Task[None]], weakref.WeakSet())

    @property  # mitmproxy: a plain attribute in the base class
    def layer(self) -> Any:
        return self._top

    @layer.setter
    def layer(self, value: Any) -> None:
        self._top = value if isinstance(value, _TopLayer) else _TopLayer(value, self)

    async def server_event(self, event: events.Event) -> None:
        await super().server_event(event)
        inline = self.inline
        while inline:
            hook = inline.popleft()
            rest = self._run(hook)
            if rest is not None:
                self._spawn(self._finish(hook, rest), f"handle_hook({hook.name})")
            elif hook.blocking:
                await super().server_event(events.HookCompleted(hook))

    def _run(self, hook: commands.StartHook) -> Awaitable[None] | None:
        """Run the hook's handlers now (and, for a flow, the `update` event mitmproxy sends after
        each flow hook); what is left to await, if anything."""
        args = hook.args()
        rest = self.addons.trigger_now(hook, args)
        data = args[0] if len(args) == 1 else None
        if not isinstance(data, mflow.Flow):
            return rest
        if rest is not None:
            return _then(rest, self.addons.trigger_event(hooks.UpdateHook([data])))
        rest = self.addons.trigger_now(hooks.UpdateHook([data]), [[data]])
        if rest is None and data.intercepted:
            rest = data.wait_for_resume()
        return rest

    async def _finish(self, hook: commands.StartHook, rest: Awaitable[None]) -> None:
        with self.timeout_watchdog.disarm():
            await rest
            (data,) = hook.args()
            if isinstance(data, mflow.Flow):
                await data.wait_for_resume()
        if hook.blocking:  # through this class's own `server_event`: hooks it asks for run inline
            await self.server_event(events.HookCompleted(hook))

    def arm(self, wakeup: TimedWakeup) -> None:
        timer = asyncio.get_running_loop().call_later(wakeup.full, self._wake, wakeup)
        wakeup.timer = timer
        cast(weakref.WeakSet[object], self.wakeup_timer).add(timer)

    def _wake(self, wakeup: TimedWakeup) -> None:
        wakeup.timer = None
        self._spawn(self.server_event(events.Wakeup(wakeup)), "wakeup timer")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio_utils.create_task(coro, name=name, client=self.client.peername)
        self.hook_tasks.add(task)
        task.add_done_callback(self.hook_tasks.discard)


async def _then(first: Awaitable[None], second: Awaitable[None]) -> None:
    await first
    await second


def install() -> None:
    """Make mitmproxy's server instances create gateway handlers (idempotent)."""
    setattr(mode_servers, "ProxyConnectionHandler", GatewayConnectionHandler)  # noqa: B010
