"""Limits in front of everything: connection caps, deadlines for slow clients, a budget for request
bytes held in memory — so no client (or crowd of idle sockets) can exhaust the process.

A mitmproxy addon placed before the gateway's own:
- **Connections**: at most `max_connections` in total and `max_per_client` from one address.
  One more is answered `503` (raw, the moment it connects) and closed: it never holds a
  descriptor for long.
- **Request head**: a new connection must deliver a whole request head within `head_timeout`
  seconds — else `408` and closed. An idle keep-alive connection is closed quietly after
  `keepalive_timeout` seconds.
- **Request body**: the body must arrive within `body_timeout` seconds of the head.
- **Bytes in memory**: request bodies (by their Content-Length) share `body_budget` bytes; a
  request that does not fit now gets a `503` with `Retry-After`, before its body is read.
Repeated refusals are logged once per interval with a count, never once per event. It also
counts live flows (`live`), so shutdown can drain them: one addon instead of two, since mitmproxy
dispatches every event to every addon.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import json
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from mitmproxy import http
from mitmproxy.connection import Client

if TYPE_CHECKING:
    from mitmproxy.addons.proxyserver import Proxyserver
    from mitmproxy.proxy.server import ConnectionHandler

log = logging.getLogger("gateway.limits")
_LOG_EVERY = 10.0
_SWEEP_EVERY = 0.25
BUDGET = "gw.body_budget"


@dataclass(frozen=True)
class Limits:
    max_connections: int
    max_per_client: int
    head_timeout: float
    body_timeout: float
    body_budget: int
    keepalive_timeout: float = 75.0


def default_max_connections() -> int:
    """Half the descriptors this process may open (each client may need one upstream), less
    headroom for the database, logs and the admin — after raising the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return max(16, min(8192, (soft - 128) // 2))


def _raw_answer(status: int, reason: str, message: str, extra: str = "") -> bytes:
    body = json.dumps({"error": {"message": message, "type": "server_error"
                                 if status >= 500 else "invalid_request_error",
                                 "param": None, "code": None}}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n").encode() + body


class _Complaints:
    """Counts refusals by kind; logs the first at once and the rest once per interval."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.last: dict[str, float] = {}

    def note(self, kind: str, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        now = time.monotonic()
        if now - self.last.get(kind, 0.0) >= _LOG_EVERY:
            self.last[kind] = now
            log.warning("%s (%d since the last report; latest: %s)", kind, self.counts[kind],
                        detail)
            self.counts[kind] = 0


class ConnectionGuard:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0
        self.per_client: dict[str, int] = {}
        # client id → (deadline, what it waits for, client); "" is an idle keep-alive connection
        self.deadlines: dict[str, tuple[float, str, Client]] = {}
        self._sweeping = False
        self.counted: dict[str, str] = {}  # client id → address, for connections we count
        self.in_memory = 0
        self.live: set[int] = set()  # flows between their request head and their end
        self.complaints = _Complaints()
        self.proxyserver: Proxyserver | None = None  # set by the server: finds a connection's handler
        self._trim = _malloc_trim()
        self._trim_pending = False

    # -- connections --------------------------------------------------------------------------

    def client_connected(self, client: Client) -> None:
        address = client.peername[0] if client.peername else "?"
        if self.total >= self.limits.max_connections or \
                self.per_client.get(address, 0) >= self.limits.max_per_client:
            self.complaints.note("connection limit reached: refused with 503",
                                 f"{address} ({self.total} open)")
            self._write(client, _raw_answer(503, "Service Unavailable",
                                            "too many connections; try again shortly",
                                            "Retry-After: 1\r\n"))
            client.error = "connection limit"
            return
        self.total += 1
        self.per_client[address] = self.per_client.get(address, 0) + 1
        self.counted[client.id] = address
        self._arm(client, self.limits.head_timeout, "request head")

    def client_disconnected(self, client: Client) -> None:
        address = self.counted.pop(client.id, None)
        if address is None:
            return
        self.total -= 1
        left = self.per_client.get(address, 1) - 1
        if left:
            self.per_client[address] = left
        else:
            self.per_client.pop(address, None)
        self._disarm(client)

    # -- requests -----------------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self.live.add(id(flow))
        client = flow.client_conn
        self._disarm(client)
        size = _declared_size(flow.request)
        if size and self.in_memory + size > self.limits.body_budget and self.in_memory:
            self.complaints.note("request memory budget full: refused with 503",
                                 f"{size} bytes asked, {self.in_memory} held")
            # Answered now, before the body is read (mitmproxy would read it first to send an
            # addon's answer), and the connection closed: its body never enters memory.
            self._write(client, _raw_answer(503, "Service Unavailable",
                                            "the gateway holds too much request data right "
                                            "now; try again shortly", "Retry-After: 1\r\n"))
            flow.kill()
            return
        if size:
            self.in_memory += size
            flow.metadata[BUDGET] = size
        if not flow.request.stream:
            self._arm(client, self.limits.body_timeout, "request body")

    def request(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow.client_conn)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow.client_conn)  # a tunnel: what flows inside is not ours to time

    def response(self, flow: http.HTTPFlow) -> None:
        self.live.discard(id(flow))
        self._release(flow)
        if flow.request.method == "CONNECT":
            return  # the tunnel's own traffic follows; an idle timer would cut it
        if flow.websocket is None and flow.client_conn.id in self.counted:
            # An idle keep-alive connection is closed quietly after a while: a 408 written now
            # could cross the client's next request on the wire and be taken as its answer.
            self._arm(flow.client_conn, self.limits.keepalive_timeout, "")

    def error(self, flow: http.HTTPFlow) -> None:
        self.live.discard(id(flow))
        self._release(flow)

    def _release(self, flow: http.HTTPFlow) -> None:
        size = flow.metadata.pop(BUDGET, 0)
        if size:
            self.in_memory -= size
            if size >= 1 << 20:
                self._schedule_trim()

    # -- deadlines ----------------------------------------------------------------------------
    # A deadline is a dict entry; one sweep a second expires them. No timer per request: timer
    # churn on the event loop is a measurable cost at thousands of calls a second.

    def _arm(self, client: Client, seconds: float, what: str) -> None:
        self.deadlines[client.id] = (time.monotonic() + seconds, what, client)
        if not self._sweeping:
            self._sweeping = True
            asyncio.get_running_loop().call_later(_SWEEP_EVERY, self._sweep)

    def _disarm(self, client: Client) -> None:
        self.deadlines.pop(client.id, None)

    def _sweep(self) -> None:
        now = time.monotonic()
        due = [entry for entry in self.deadlines.values() if entry[0] <= now]
        for _, what, client in due:
            self.deadlines.pop(client.id, None)
            self._expire(client, what)
        if self.deadlines:
            asyncio.get_running_loop().call_later(_SWEEP_EVERY, self._sweep)
        else:
            self._sweeping = False

    def _expire(self, client: Client, what: str) -> None:
        handler = self.proxyserver.connections.get(client.id) if self.proxyserver else None
        if handler is None:
            return
        if not what:  # an idle keep-alive connection
            handler.close_connection(client)
            return
        seconds = self.limits.head_timeout if what == "request head" else self.limits.body_timeout
        self.complaints.note(f"slow client: no complete {what} in time, answered 408",
                             f"{client.peername[0] if client.peername else '?'}")
        self._write(client, _raw_answer(408, "Request Timeout",
                                        f"the {what} did not arrive within {seconds:g}s"),
                    handler)
        handler.close_connection(client)

    def _write(self, client: Client, data: bytes,
               handler: ConnectionHandler | None = None) -> None:
        handler = handler or (self.proxyserver.connections.get(client.id)
                              if self.proxyserver else None)
        transport = handler.transports.get(client) if handler is not None else None
        writer = transport.writer if transport is not None else None
        try:
            if writer is not None and not writer.is_closing():
                writer.write(data)
        except (OSError, RuntimeError):
            pass

    # -- memory -------------------------------------------------------------------------------

    def _schedule_trim(self) -> None:
        """Large bodies leave freed memory the allocator keeps; give it back to the system a
        moment after the last one (glibc's malloc_trim), so RSS falls back after a burst."""
        release = self._trim
        if release is None or self._trim_pending:
            return
        self._trim_pending = True

        def trim() -> None:
            self._trim_pending = False
            if not self.in_memory:
                # Finished flows wait in reference cycles for a full collection, which the tuned
                # thresholds make rare: collect now (only after a large body), then give back.
                gc.collect()
                release(0)
        asyncio.get_running_loop().call_later(1.0, trim)


def _declared_size(request: http.Request) -> int:
    raw = request.headers.get("content-length", "")
    return int(raw) if raw.isdigit() else 0


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return cast("Callable[[int], int]", ctypes.CDLL(name).malloc_trim) if name else None
    except (OSError, AttributeError):
        return None
