"""The response filters' runner: whole JSON answers and server-sent-event streams.

`StreamRelay` is what mitmproxy calls for every chunk of a streamed answer (`flow.response.stream`):
it splits the bytes into events, runs them through the filter chain and returns what the client
gets. With no filters the bytes pass through untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from gateway.call import Call, ResponseFilter, SSEEvent
from gateway.errors import GatewayError, UpstreamError
from gateway.jsontext import compact_bytes

log = logging.getLogger("gateway.stream")


def parse_event(block: bytes) -> SSEEvent:
    if block.startswith(b"data: ") and b"\n" not in block:  # the usual shape: one data line
        return SSEEvent(block[6:].decode("utf-8", "replace"), None, raw=block + b"\n\n")
    event: str | None = None
    data: list[str] = []
    for line in block.decode("utf-8", "replace").split("\n"):
        if line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif line.startswith("event:"):
            event = line[6:].strip()
    return SSEEvent("\n".join(data), event, raw=block + b"\n\n")


def _ndjson_line(line: bytes) -> SSEEvent:
    return SSEEvent(line.decode("utf-8", "replace"), None, raw=line + b"\n")


def run_chain(filters: list[ResponseFilter], events: Iterable[SSEEvent], start: int = 0) -> list[SSEEvent]:
    out = list(events)
    for f in filters[start:] if start else filters:
        if len(out) == 1:  # a chunk usually holds one event
            out = list(f.on_event(out[0]))
            continue
        nxt: list[SSEEvent] = []
        for ev in out:
            nxt.extend(f.on_event(ev))
        out = nxt
    return out


def end_chain(filters: list[ResponseFilter], complete: bool) -> list[SSEEvent]:
    """Flush every filter in order; what filter i releases still passes through filters after i."""
    out: list[SSEEvent] = []
    for i, f in enumerate(filters):
        out = run_chain(filters[i:i + 1], out) if i else out
        out.extend(f.on_end(complete))
    return out


def apply_whole(filters: list[ResponseFilter], raw: bytes, body: Any) -> bytes | None:
    """A whole JSON answer (`raw`, and `body` parsed from it) through the filter chain: the bytes
    the client gets, or None when they are `raw` unchanged. While no filter has changed the parsed
    body, each filter is first offered the bytes (`on_bytes`); a filter after one that rewrote
    them gets them parsed afresh (or, if it `reads_provider_answer`, the body as parsed before).
    Once a filter changed the parsed body, the answer is serialised from it."""
    current = raw
    stale = serialise = False  # `body` lags behind `current`; `body` was changed
    for f in filters:
        if not serialise:
            rewritten = f.on_bytes(current)
            if rewritten is not None:
                if rewritten is not current:
                    current, stale = rewritten, True
                continue
        if stale and f.reads_provider_answer and not f.modifies:
            f.on_json(body)  # the answer before the byte rewrites: no second parse
            continue
        if stale:
            body, stale = json.loads(current), False
        body = f.on_json(body)
        serialise = serialise or f.modifies
    if serialise:
        return compact_bytes(body)
    return None if current is raw else current


class InvalidStream(ValueError):
    """A provider's 2xx stream holds something that is not an event of it."""


_FIELDS = (b"data:", b"event:", b"id:", b"retry:")


def _checked(event: SSEEvent, block: bytes, ndjson: bool) -> SSEEvent:
    """`event`, or InvalidStream when its block is not a server-sent event (an HTML page, stray
    text) or its data is neither JSON nor `[DONE]`. Comment-only blocks are keep-alives."""
    if not ndjson and not block.startswith(_FIELDS):  # the common case costs one check
        lines = [line for line in block.split(b"\n") if line.strip()]
        if all(line.startswith(b":") for line in lines):
            return event
        if not any(line.startswith(_FIELDS) for line in lines):
            raise InvalidStream("text that is not an event")
    _check_data(event)
    return event


def _check_data(event: SSEEvent) -> None:
    data = event.data
    if data and data != "[DONE]" and event.json is None and data.strip() not in ("null", "{}"):
        raise InvalidStream("an event whose data is not JSON")


class StreamRelay:
    """Stateful per-response chunk handler; `on_error(exc)` returns bytes that end the stream."""

    def __init__(self, call: Call, filters: list[ResponseFilter],
                 on_error: Callable[[Exception], bytes], ndjson: bool = False) -> None:
        self.call = call
        # Ollama's native API streams one JSON object per line; each line is one event.
        self.ndjson = ndjson
        self._sep = b"\n" if ndjson else b"\n\n"
        self.filters = filters
        self._buf = b""
        self._on_error = on_error
        self.failed = False
        self.error: GatewayError | None = None  # why the stream was ended early, if it was
        self.finished = False
        self.capture: bytearray | None = None  # raw provider bytes, kept when caching


    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        # Never hand mitmproxy an empty bytes object mid-stream: its HTTP/1 layer writes it as a
        # zero-length chunk, which is the end-of-body marker, and the connection breaks. An empty
        # list sends nothing.
        out = self._relay(chunk)
        return out if out or not chunk else []

    def _relay(self, chunk: bytes) -> bytes:
        if self.failed:
            return b""
        if self.capture is not None:
            self.capture += chunk
        try:
            if not self.filters:
                return chunk
            return self._events(chunk) if chunk else self._finish(True)
        except InvalidStream as exc:  # the provider's bytes are not a stream: say so, once
            self.failed = True
            self.error = UpstreamError(f"provider {self._provider()} sent an invalid stream "
                                       f"({exc}); the answer was cut there")
            log.warning("invalid stream request_id=%s: %s", self.call.request_id, exc)
            return self._on_error(self.error)
        except Exception as exc:  # a filter bug: end the stream with an error, never raw data
            self.failed = True
            log.exception("response filter failed request_id=%s", self.call.request_id)
            return self._on_error(exc)

    def _provider(self) -> str:
        attempt = self.call.attempt
        return attempt.provider.name if attempt is not None else "provider"

    def _events(self, chunk: bytes) -> bytes:
        if not self._buf and chunk.startswith(b"data: ") and chunk.find(b"\n") == len(chunk) - 2 \
                and chunk.endswith(b"\n\n") and b"\r" not in chunk and not self.ndjson:
            return self._one_event(chunk)
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        *blocks, self._buf = buf.split(self._sep)
        if not blocks:
            return b""
        ndjson = self.ndjson
        parse = _ndjson_line if ndjson else parse_event
        events = [_checked(parse(b), b, ndjson) for b in blocks if b.strip()]
        return self._joined(run_chain(self.filters, events))

    def _one_event(self, chunk: bytes) -> bytes:
        """The usual chunk, one whole one-line `data:` event (its own raw bytes): what `_events`
        does with it, minus the split, the per-block checks and the line loop."""
        event = SSEEvent(chunk[6:-2].decode("utf-8", "replace"), None, raw=chunk)
        _check_data(event)
        return self._joined(run_chain(self.filters, (event,)))

    def _joined(self, events: list[SSEEvent]) -> bytes:
        if len(events) == 1:
            return self._encode(events[0])
        return b"".join([self._encode(ev) for ev in events])

    def _encode(self, event: SSEEvent) -> bytes:
        return (event.data + "\n").encode() if self.ndjson else event.encode()

    def _finish(self, complete: bool) -> bytes:
        self.finished = True
        out = b""
        if self._buf.strip():
            out = self._events(self._sep)
        return out + self._joined(end_chain(self.filters, complete))

    def abort(self) -> bytes:
        """The stream was cut short (upstream timeout); let filters flush what they hold."""
        if self.finished or self.failed or not self.filters:
            return b""
        try:
            return self._finish(False)
        except Exception:
            log.exception("response filter failed at abort request_id=%s", self.call.request_id)
            return b""
