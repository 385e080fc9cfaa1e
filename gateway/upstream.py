"""Connections to providers: a deadline for connecting, and the DNS-rebinding guard.

A mitmproxy addon of its own (the gateway addon tells it which hosts to guard). mitmproxy calls
`server_connect` inside its open-connection task just before it connects:
- a timer cancels that task after `GATEWAY_CONNECT_TIMEOUT` (the only way to bound a connect that
  hangs; mitmproxy reports it as "connection cancelled");
- for a provider URL an admin stored (not the operator's own configuration), the host is resolved
  now and every address checked (`gateway.netguard`); a name that has come to point at a private
  or metadata address is refused, and the connection goes to exactly the address checked (TLS still
  verifies the host name). Such connections are not reused across calls, since mitmproxy matches
  reuse by address.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from mitmproxy.connection import Server
from mitmproxy.proxy.server_hooks import ServerConnectionHookData

from gateway.netguard import address_problem, parse_ip
from gateway.settings import Settings

log = logging.getLogger("gateway.upstream")
MAX_GUARDED = 1024


class UpstreamConnections:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._guarded: dict[str, bool] = {}  # host → may it resolve to private addresses

    def guard(self, host: str, allow_private: bool) -> None:
        if host in self._guarded or len(self._guarded) < MAX_GUARDED:
            self._guarded[host] = allow_private

    async def server_connect(self, data: ServerConnectionHookData) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._timers[id(data.server)] = asyncio.get_running_loop().call_later(
                self.settings.connect_timeout, task.cancel)
        assert data.server.address is not None, "a server connection has an address"
        host, port = data.server.address
        allow_private = self._guarded.get(host)
        if allow_private is not None and parse_ip(host) is None:
            await self._pin(data.server, host, port, allow_private)

    def server_connected(self, data: ServerConnectionHookData) -> None:
        timer = self._timers.pop(id(data.server), None)
        if timer:
            timer.cancel()

    server_connect_error = server_connected

    async def _pin(self, server: Server, host: str, port: int, allow_private: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return  # the connect fails on its own, with the resolver's message
        addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            ip = parse_ip(address)
            problem = address_problem(ip, allow_private) if ip is not None else "no address"
            if problem is not None:
                log.warning("provider host %s now resolves to %s: connection refused", host,
                            problem)
                server.error = f"provider host {host} resolves to {problem}; refused"
                return
        server.address = (addresses[0], port)
