"""The relay's per-event shortcuts give what the general paths give: one-line `data:` events,
JSON parsed straight by the C scanner, and a chain of filters over one event."""

from __future__ import annotations

import json
import random

import pytest

from gateway.call import Call, Endpoint, ResponseFilter, SSEEvent
from gateway.jsontext import loads
from gateway.streaming import StreamRelay, parse_event

TEXTS = ['{"a":1}', ' {"a":1}', '{"a":1} ', '{"a":1}\n', '{"a":1}x', '{"a":1}{"b":2}', '', ' ', 'nul',
         '\ufeff{}', '[1,2', '"x"', '1e5', 'NaN', '-Infinity', '{"a":"\\ud800"}', '{"é":"ü"}',
         '[' * 100_000, '{"a":[1,{"b":null}],"c":"d\\"e"}', '[DONE]']


def outcome(parse, text):
    try:
        return "ok", parse(text)
    except Exception as exc:  # noqa: BLE001 - the very errors are compared
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("text", TEXTS)
def test_loads_is_json_loads(text):
    assert outcome(loads, text) == outcome(json.loads, text)


def reference_event(block: bytes) -> tuple[str, str | None, bytes]:
    """The general parse, line by line (what every block went through before)."""
    event, data = None, []
    for line in block.decode("utf-8", "replace").split("\n"):
        if line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif line.startswith("event:"):
            event = line[6:].strip()
    return "\n".join(data), event, block + b"\n\n"


@pytest.mark.parametrize("block", [b'data: {"a":1}', b'data:{"a":1}', b"data: ", b"data: [DONE]",
                                   b'event: x\ndata: {"a":1}', b'data: {"a":\ndata: 1}',
                                   b"data: caf\xc3\xa9 \xff", b"data:  two spaces", b": keep-alive"])
def test_one_line_events_parse_as_before(block):
    event = parse_event(block)
    assert (event.data, event.event, event.encode()) == reference_event(block)


class Recorder(ResponseFilter):
    modifies = False

    def __init__(self) -> None:
        self.seen: list[object] = []

    def on_event(self, event: SSEEvent) -> tuple[SSEEvent, ...]:
        self.seen.append(event.json if event.data != "[DONE]" else "[DONE]")
        return (event,)


def emitted(result: bytes | list[bytes]) -> bytes:
    return result if isinstance(result, bytes) else b"".join(result)


def test_any_chunking_passes_the_bytes_and_shows_every_event():
    events = [{"id": "c", "choices": [{"index": 0, "delta": {"content": f" w{i}\u00e9"}}]} for i in range(30)]
    raw = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    boundaries = [i + 2 for i in range(len(raw)) if raw.startswith(b"\n\n", i)][:-1]
    rng = random.Random(7)
    for n in range(200):
        # one event a chunk (the usual case, with its own shortcut), some events split, or any cut
        cuts = boundaries if n == 0 else sorted(rng.sample(boundaries, 20)) if n < 50 \
            else sorted(rng.sample(range(1, len(raw)), rng.randint(0, 40)))
        pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)])]
        call = Call("r", Endpoint.CHAT, {}, {})
        first, second = Recorder(), Recorder()
        relay = StreamRelay(call, [first, second], lambda exc: b"error")
        out = b"".join(emitted(relay(p)) for p in pieces) + emitted(relay(b""))
        assert out == raw
        assert first.seen == second.seen == [*events, "[DONE]"]


def test_an_event_that_is_not_json_ends_the_stream_whichever_way_it_comes():
    good = b'data: {"choices":[]}\n\n'
    for chunks in ([good, b"data: {oops\n\n"], [good, b"data: {oo", b"ps\n\n"], [good, b"<html>\n\n"]):
        relay = StreamRelay(Call("r", Endpoint.CHAT, {}, {}), [Recorder()], lambda exc: b"<error>")
        out = b"".join(emitted(relay(c)) for c in chunks)
        assert out == good + b"<error>" and relay.failed
        assert emitted(relay(good)) == b""  # nothing after the error
