"""Server-sent events with the stream switches applied: a delay between chunks, and a stall after
the first chunk (`X-Mock-Stall: body`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from gateway.mock_provider._state import MockState
from gateway.mock_provider._switches import Switches, stall


class StreamAborted(Exception):
    """The client went away mid-stream. The middleware hands back `response` so aiohttp closes the
    connection quietly instead of logging a handler error."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("client disconnected")
        self.response = response


class EventStream:
    """Without a chunk delay or stall the frames go out in one write at `close()`: still one SSE event
    per delta for the client, but one send() instead of ten, which is what lets the mock outrun the
    gateway in the benchmark. With a delay each frame is written (and flushed) on its own."""

    def __init__(self, request: web.Request, switches: Switches, state: MockState) -> None:
        self._request = request
        self._state = state
        self._delay = switches.chunk_delay_ms / 1000
        self._stall_body = switches.stall == "body"
        self._sent = 0
        self._batch: list[bytes] | None = None if (self._delay or self._stall_body) else []
        self.response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )

    async def open(self) -> None:
        await self.response.prepare(self._request)

    async def send(self, data: Any, event: str | None = None) -> None:
        """Send one frame; `data` is JSON-encoded unless it is already a string."""
        if self._sent and self._delay:
            await asyncio.sleep(self._delay)
        payload = data if isinstance(data, str) else json.dumps(data)
        frame = (f"event: {event}\ndata: {payload}\n\n" if event else f"data: {payload}\n\n").encode()
        if self._batch is not None:
            self._batch.append(frame)
            return
        await self._write(frame)
        self._sent += 1
        if self._sent == 1 and self._stall_body:
            await stall(self._request, self._state)
            raise StreamAborted(self.response)

    async def close(self) -> web.StreamResponse:
        try:
            await self.response.write_eof(b"".join(self._batch or ()))
        except ConnectionError as exc:
            raise StreamAborted(self.response) from exc
        return self.response

    async def _write(self, data: bytes) -> None:
        try:
            await self.response.write(data)
        except ConnectionError as exc:
            raise StreamAborted(self.response) from exc
