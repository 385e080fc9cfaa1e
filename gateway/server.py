"""The proxy process: mitmproxy embedded as a bare `Master` with only the addons the gateway needs.

A bare Master with `core`, `proxyserver`, `next_layer` and `tlsconfig` measured 1.5–2× faster than
`DumpMaster` (hook dispatch over every addon is the main cost). Reverse mode points at a black hole
(127.0.0.1:9, the discard port) with lazy connections: every request is either answered by the
gateway or re-targeted at a provider, so the default target is never contacted.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import types
from collections.abc import Callable
from typing import Any

from mitmproxy import options
from mitmproxy.addons import core, next_layer, proxyserver, tlsconfig
from mitmproxy.master import Master
from mitmproxy.proxy import mode_servers

from gateway import addon_dispatch, connection_handler, http_stream, mitm_patches
from gateway.addon import GatewayAddon
from gateway.context import GatewayContext
from gateway.errors import GatewayError
from gateway.intercept import InterceptConfig, Interceptor, ca_dir, ensure_ca, state_file
from gateway.limits import ConnectionGuard, Limits, default_max_connections
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from gateway.ws_bridge import WebSocketBridge

log = logging.getLogger("gateway.server")
BLACK_HOLE = "http://127.0.0.1:9"


def _enable_reuse_port() -> None:
    """Let several worker processes listen on one port (the kernel balances connections).
    mitmproxy calls `asyncio.start_server` without `reuse_port`; give its module a copy of
    asyncio whose start_server sets it."""
    shim = types.ModuleType("asyncio_reuse_port")
    shim.__dict__.update(asyncio.__dict__)

    async def start_server(*args: Any, **kwargs: Any) -> asyncio.Server:
        kwargs.setdefault("reuse_port", True)
        return await asyncio.start_server(*args, **kwargs)

    setattr(shim, "start_server", start_server)  # noqa: B010 - a module attribute, set at run time
    setattr(mode_servers, "asyncio", shim)  # noqa: B010 - the one module whose asyncio we swap


def _tune_gc() -> None:
    """Everything loaded at start (mitmproxy, SQLAlchemy, plugins) lives as long as the process:
    move it out of the collector's sight (full collections of that heap took 100–450 ms every
    ~1.5 s under load). The young generation's threshold is small: measured at one connection,
    a threshold of 50 000 made each young collection pause the loop 15–50 ms (p99.9 38 ms, max
    53 ms). At 2 500 rather than Python's 700, a young collection under load is rare (its count
    of new objects is mostly the calls in flight, which come and go; 5 in 22 700 calls against
    732 in 22 900): −2 % CPU a call side by side, no pause over 5 ms, p99 at one connection
    unchanged (3.2–3.5 against 3.3–4.0 ms).

    A finished call leaves no reference cycle (`gateway.stream_retire`, `outcome.finish`;
    tests/test_no_cycles.py): its flow, bodies and call are freed by reference counting when
    the request ends. Before, every flow was a cycle that only a middle or full collection freed
    (5–70 ms pauses under load, ~45 µs of collector time per call; now ~24 µs). CPython skips a
    full collection until the objects promoted since the last one exceed a quarter of the heap
    that one left, and the collection before the freeze left the whole start-up heap: one more
    collection after the freeze (it sees only the few objects outside the frozen heap) resets
    that count, and a full collection every 10 middle-generation ones keeps what is left of
    longer-lived garbage (a closed connection's objects) small."""
    gc.collect()
    gc.freeze()
    gc.collect()
    gc.set_threshold(2500, 20, 10)


def _drop_legacy_log_events(master: Master) -> None:
    """mitmproxy's Master puts a handler on the root logger that formats every record again and
    wakes the event loop (`call_soon_threadsafe`) to hand it to every addon as the deprecated
    `add_log` event: per call, our log line paid a second formatting, a self-pipe write and a
    hook dispatch (~2 % of the proxy's CPU). No addon here handles `add_log`."""
    legacy = getattr(master, "_legacy_log_events", None)
    if legacy is not None:
        legacy.uninstall()


def limits_from(settings: Settings) -> Limits:
    total = settings.max_connections or default_max_connections()
    per_client = settings.max_connections_per_client or max(1, total // 2)
    return Limits(max_connections=total, max_per_client=min(per_client, total),
                  head_timeout=settings.header_timeout, body_timeout=settings.body_timeout,
                  body_budget=max(settings.body_budget, settings.body_limit),
                  keepalive_timeout=settings.keepalive_timeout)


class ProxyServer:
    def __init__(self, ctx: GatewayContext, host: str = "127.0.0.1", port: int = 8080,
                 reuse_port: bool = False, intercept: InterceptConfig | None = None) -> None:
        self.ctx, self.host, self.port, self.reuse_port = ctx, host, port, reuse_port
        self.intercept = intercept
        self.master: Master | None = None
        self.inflight: ConnectionGuard | None = None  # also counts live flows, for the drain
        self.websockets = WebSocketBridge(self.own_url, ctx.settings.body_limit)
        self._run_task: asyncio.Task[None] | None = None

    def own_url(self) -> str:
        """Where this process's own listener is reached from the same machine."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else "::1" if self.host == "::" \
            else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    async def start(self) -> int:
        """Bind and serve; returns the bound port."""
        http_stream.install()
        connection_handler.install()
        mitm_patches.install()
        if self.reuse_port:
            _enable_reuse_port()
        logging.getLogger("mitmproxy").setLevel(logging.WARNING)
        opts = options.Options()
        self.master = master = Master(opts, event_loop=asyncio.get_running_loop())
        addon_dispatch.install(master)
        _drop_legacy_log_events(master)
        addon = GatewayAddon(Pipeline(self.ctx))
        addon.websockets = self.websockets
        guard = self.inflight = ConnectionGuard(limits_from(self.ctx.settings))
        ps_addon = proxyserver.Proxyserver()
        guard.proxyserver = ps_addon
        addons = [core.Core(), ps_addon, next_layer.NextLayer(), tlsconfig.TlsConfig(), guard,
                  addon.upstream]
        modes = [f"reverse:{BLACK_HOLE}@{self.host}:{self.port}"]
        if self.intercept is not None:
            ensure_ca(self.ctx.settings.ensure_data_dir())
            addons.append(Interceptor(self.intercept, self._known_key))
            modes.append(f"regular@{self.host}:{self.intercept.port}")
        master.addons.add(*addons, addon)
        confdir = ca_dir(self.ctx.settings.ensure_data_dir())
        opts.update(
            mode=modes,
            connection_strategy="lazy",
            body_size_limit=str(self.ctx.settings.body_limit),
            confdir=str(confdir),
            keep_host_header=False,
        )
        self.ctx.hooks.startup(self.ctx)
        self._run_task = asyncio.create_task(master.run())
        _tune_gc()
        ps = master.addons.get("proxyserver")
        for _ in range(500):
            await asyncio.sleep(0.01)
            bound = {i.mode.type_name: i.listen_addrs for i in ps.servers if i.listen_addrs}
            if len(bound) >= len(modes):
                self.port = bound["reverse"][0][1]
                if self.intercept is not None:
                    self.intercept_port = bound["regular"][0][1]
                    self._announce_interception()
                return self.port
            if self._run_task.done():
                break
        raise OSError(f"could not listen on {self.host}:{self.port} (is the port in use?)")

    async def _known_key(self, key: str) -> bool:
        try:
            return await self.ctx.keystore.lookup(key) is not None
        except GatewayError:
            return False

    def _announce_interception(self) -> None:
        """For the admin's Settings page (another process): interception is on, and where."""
        data_dir = self.ctx.settings.ensure_data_dir()
        assert self.intercept is not None, "announced only when interception is on"
        state_file(data_dir).write_text(json.dumps({
            "port": self.intercept_port, "host": self.host, "only": self.intercept.only,
            "hosts": sorted(self.intercept.hosts)}))

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Close the listener first, let in-flight calls finish, then stop mitmproxy."""
        if self.master is None:
            return
        ps = self.master.addons.get("proxyserver")
        await ps.servers.update([])
        assert self.inflight is not None, "start() made the guard"
        deadline = asyncio.get_running_loop().time() + drain_timeout
        while self.inflight.live and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self.inflight.live:
            log.warning("shutdown: %d call(s) still in flight after %.0fs", len(self.inflight.live),
                        drain_timeout)
        await self._close_client_connections(ps)
        await self.websockets.stop()
        if self.intercept is not None:
            state_file(self.ctx.settings.ensure_data_dir()).unlink(missing_ok=True)
        self.master.shutdown()
        if self._run_task is not None:
            await asyncio.wait([self._run_task], timeout=5)
        self.ctx.hooks.shutdown(self.ctx)
        self.master = None


    @staticmethod
    async def _close_client_connections(ps: proxyserver.Proxyserver) -> None:
        """Close idle keep-alive connections so their handlers end normally (cancelling them
        instead makes asyncio log a CancelledError traceback per connection)."""
        for handler in list(ps.connections.values()):
            try:
                handler.close_connection(handler.client)
            except (OSError, KeyError):
                pass
        for _ in range(100):
            if not ps.connections:
                return
            await asyncio.sleep(0.01)


async def serve_forever(ctx: GatewayContext, host: str, port: int, reuse_port: bool = False,
                        on_ready: Callable[[int], None] | None = None,
                        intercept: InterceptConfig | None = None) -> None:
    server = ProxyServer(ctx, host, port, reuse_port, intercept)
    bound = await server.start()
    ctx.start_watcher()
    if on_ready:
        on_ready(bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: closing the listener, draining in-flight calls")
    await server.stop()
    ctx.close()
