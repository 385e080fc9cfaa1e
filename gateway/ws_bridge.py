"""Responses over WebSocket (`GET /v1/responses` upgraded, as Codex opens it), on every route.

mitmproxy relays WebSocket frames natively once an upstream answers the upgrade with 101. The
upstream here is a small loopback server in each proxy process: every `response.create` message
it receives is sent back through the gateway's own port as an ordinary streamed
`POST /v1/responses` with the client's headers, so it passes the whole pipeline (key, routing,
DLP, caps, metering, logs) exactly like an HTTP call, whichever provider serves the model. Each
Responses event the call streams goes back to the client as one text frame (the same JSON as the
SSE `data:`), ending with `response.completed`.

The protocol, from Codex's own client (codex-rs, `responses_websocket`): the connection is kept for
the next turns; a turn may send `previous_response_id` with only the new input items when the
previous turn's input plus its output are the start of the new input — the bridge keeps that
conversation per connection and sends the whole input, so it works with `store: false` and on
translated routes; `generate: false` is a prewarm answered without a model call; errors are one
`{"type": "error", "status": N, "error": {…}}` frame. A token only this process knows keeps
everyone else off the loopback server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # aiohttp is imported only by the processes that run the bridge
    from aiohttp import ClientResponse, StreamReader, web

log = logging.getLogger("gateway.websocket")
TOKEN_HEADER = "x-gateway-bridge-token"
PATH = "/v1/responses"
_FINAL = frozenset({"response.completed", "response.failed", "response.incomplete"})
# Headers of the upgrade that are about the WebSocket itself, not about the calls it carries.
_NOT_FORWARDED = frozenset({"host", "connection", "upgrade", "sec-websocket-key",
                            "sec-websocket-version", "sec-websocket-extensions",
                            "sec-websocket-protocol", "content-length", "transfer-encoding",
                            "accept-encoding", TOKEN_HEADER, "openai-beta"})


def is_upgrade(method: str, path: str, headers: Mapping[str, str]) -> bool:
    return (method == "GET" and path == PATH
            and headers.get("upgrade", "").lower() == "websocket")


class WebSocketBridge:
    def __init__(self, gateway_url: Callable[[], str], max_message: int) -> None:
        self.gateway_url = gateway_url
        self.max_message = max_message
        self.token = secrets.token_urlsafe(24)
        self.port: int | None = None
        self._runner: Any = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def ensure_started(self) -> int:
        async with self._lock:
            if self.port is None:
                await self._start()
            assert self.port is not None
            return self.port

    async def _start(self) -> None:
        from aiohttp import ClientSession, ClientTimeout, web  # only processes that need it

        app = web.Application(client_max_size=self.max_message)
        app.router.add_get(PATH, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._client = ClientSession(timeout=ClientTimeout(total=None, sock_read=None),
                                     auto_decompress=True)
        server = site._server
        assert server is not None and hasattr(server, "sockets"), "the site has started"
        self.port = int(server.sockets[0].getsockname()[1])
        log.info("responses websocket bridge on 127.0.0.1:%d", self.port)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.port = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import WSMsgType, web

        if not secrets.compare_digest(request.headers.get(TOKEN_HEADER, ""), self.token):
            return web.json_response({"error": {"message": "forbidden"}}, status=403)
        ws = web.WebSocketResponse(compress=False, max_msg_size=self.max_message, heartbeat=None)
        await ws.prepare(request)
        session = _Session(self, {k: v for k, v in request.headers.items()
                                  if k.lower() not in _NOT_FORWARDED})
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await session.handle(ws, message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_str(error_frame(400, "binary frames are not part of the protocol; "
                                                   "send response.create as a text frame"))
        return ws


def error_frame(status: int, message: str, code: str | None = None,
                error: dict[str, Any] | None = None) -> str:
    error = {k: v for k, v in (error or {}).items() if v is not None}
    error.setdefault("type", "invalid_request_error" if status < 500 else "server_error")
    error.setdefault("code", code or error["type"])
    error.setdefault("message", message)
    return json.dumps({"type": "error", "status": status, "error": error})


class _Session:
    """One client connection: its headers and the conversation of its last turn."""

    def __init__(self, bridge: WebSocketBridge, headers: dict[str, str]) -> None:
        self.bridge = bridge
        self.headers = {**headers, "content-type": "application/json",
                        "accept": "text/event-stream", "x-gateway-transport": "websocket"}
        self.last_id: str | None = None
        self.last_items: list[Any] = []  # the last turn's whole input followed by its output

    async def handle(self, ws: web.WebSocketResponse, text: str) -> None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            await ws.send_str(error_frame(400, "the message is not valid JSON"))
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "response.processed":
            return
        if kind != "response.create":
            await ws.send_str(error_frame(400, f"unknown message type {kind!r}; send "
                                               f"response.create", "unknown_message_type"))
            return
        body = {k: v for k, v in message.items() if k != "type"}
        self._expand(body)
        if body.get("generate") is False:
            await self._prewarm(ws, body)
            return
        body.pop("generate", None)
        body["stream"] = True
        await self._relay(ws, body)

    def _expand(self, body: dict[str, Any]) -> None:
        """Incremental input against this connection's last turn → the whole input."""
        previous = body.get("previous_response_id")
        if previous is None or previous != self.last_id:
            return
        new = body.get("input")
        new = [{"role": "user", "content": new}] if isinstance(new, str) else list(new or [])
        body["input"] = self.last_items + new
        del body["previous_response_id"]

    async def _prewarm(self, ws: web.WebSocketResponse, body: dict[str, Any]) -> None:
        rid = "resp_" + os.urandom(12).hex()
        response: dict[str, Any] = {"id": rid, "object": "response", "status": "completed", "output": [],
                    "model": body.get("model"),
                    "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                              "input_tokens_details": {"cached_tokens": 0},
                              "output_tokens_details": {"reasoning_tokens": 0}}}
        self.last_id, self.last_items = rid, list(body.get("input") or [])
        await ws.send_str(json.dumps({"type": "response.created", "sequence_number": 0,
                                      "response": {**response, "status": "in_progress"}}))
        await ws.send_str(json.dumps({"type": "response.completed", "sequence_number": 1,
                                      "response": response}))

    async def _relay(self, ws: web.WebSocketResponse, body: dict[str, Any]) -> None:
        url = self.bridge.gateway_url() + PATH
        output: list[Any] = []
        try:
            async with self.bridge._client.post(url, data=json.dumps(body),
                                                headers=self.headers) as resp:
                if resp.status != 200:
                    await ws.send_str(await _http_error(resp))
                    return
                async for data in _sse_data(resp.content):
                    event = _parse(data)
                    kind = event.get("type")
                    if kind is None and isinstance(event.get("error"), dict):
                        # the gateway's own in-stream error (OpenAI's chat shape): one error frame
                        await ws.send_str(error_frame(502, "", error=event["error"]))
                        return
                    await ws.send_str(data)
                    if kind == "response.output_item.done":
                        output.append(event.get("item"))
                    elif kind == "response.completed":
                        self.last_id = (event.get("response") or {}).get("id")
                        self.last_items = list(body.get("input") or []) + output
                    if kind in _FINAL:
                        return
        except (TimeoutError, OSError) as exc:
            log.warning("websocket turn failed: %s", exc)
        # The stream ended without a final event: say so, or the client waits for one forever.
        await ws.send_str(error_frame(502, "the response stream ended before it completed"))


async def _http_error(resp: ClientResponse) -> str:
    raw = await resp.read()
    try:
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        error = None
    message = error.get("message") if isinstance(error, dict) else None
    return error_frame(resp.status, message or f"HTTP {resp.status}",
                       error=error if isinstance(error, dict) else None)


async def _sse_data(content: StreamReader) -> AsyncIterator[str]:
    """The `data:` payloads of a server-sent-event stream, one per event."""
    lines: list[str] = []
    async for raw in content:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line:
            if line.startswith("data:"):
                lines.append(line[6:] if line.startswith("data: ") else line[5:])
            continue
        if lines:
            yield "\n".join(lines)
            lines = []
    if lines:
        yield "\n".join(lines)


def _parse(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
