"""Putting the original values back into the answer the client gets (client format, after any
translation filter).

Whole answers: every string is restored; strings under `arguments`/`partial_json` are JSON text,
so values are JSON-escaped there. Streams: each content stream (per choice, per tool call, per
content block) keeps back only the tail that could still grow into an issued placeholder and
releases it when the placeholder completes, when the text proves not to be one, or when the stream
ends. Restoring `a` then `b` gives exactly what restoring `a + b` gives (see
`Placeholders.pending_start`), so the streamed text is byte-identical to a whole-answer restore for
any chunking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gateway.call import ResponseFilter, SSEEvent
from plugins.dlp._placeholders import Placeholders

JSON_TEXT_KEYS = frozenset({"arguments", "partial_json"})


def restore_tree(value: Any, ph: Placeholders, escape: bool = False,
                 changed: list[bool] | None = None) -> Any:
    """Restore every string inside `value` (in place for containers); returns the new value.
    `changed` (if given) gets a True appended for every string that was changed."""
    if isinstance(value, str):
        restored = ph.restore(value, escape)
        if changed is not None and restored is not value:
            changed.append(True)
        return restored
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (str, dict, list)):
                value[k] = restore_tree(v, ph, escape or k in JSON_TEXT_KEYS, changed)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, (str, dict, list)):
                value[i] = restore_tree(v, ph, escape, changed)
    return value


class _Stream:
    __slots__ = ("held", "escape", "make")

    def __init__(self, escape: bool) -> None:
        self.held = ""
        self.escape = escape
        self.make: Callable[[str], SSEEvent] | None = None  # builds a delta event for a flush


class RestoreFilter(ResponseFilter):
    def __init__(self, placeholders: Placeholders) -> None:
        self.ph = placeholders
        self.streams: dict[tuple[Any, ...], _Stream] = {}

    # -- whole answers --------------------------------------------------------------------------

    def on_bytes(self, raw: bytes) -> bytes | None:
        # Most answers quote none of the values, or only values JSON keeps as they are (e-mail
        # addresses, numbers, keys): restored in the bytes, the answer is neither walked nor
        # serialised again. None: `on_json` walks it.
        return self.ph.restore_bytes(raw)

    def on_json(self, body: Any) -> Any:
        # Most answers quote none of the values: then the answer is not serialised again.
        changed: list[bool] = []
        body = restore_tree(body, self.ph, changed=changed)
        self.modifies = bool(changed)
        return body

    # -- streams --------------------------------------------------------------------------------

    def feed(self, key: tuple[Any, ...], text: str, escape: bool,
             make: Callable[[str], SSEEvent] | None = None) -> str:
        """The part of this stream's text that can go out now, restored."""
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = _Stream(escape)
        if make is not None:
            stream.make = make
        buf = stream.held + text
        cut = self.ph.pending_start(buf)
        stream.held = buf[cut:]
        return self.ph.restore(buf[:cut], stream.escape) if cut else ""

    def take(self, key: tuple[Any, ...]) -> str:
        """What a finished stream still holds (it never completed a placeholder: verbatim)."""
        stream = self.streams.get(key)
        if stream is None or not stream.held:
            return ""
        held, stream.held = stream.held, ""
        return held

    def flush_events(self, keys: Iterable[tuple[Any, ...]] | None = None) -> list[SSEEvent]:
        out = []
        for key in list(self.streams if keys is None else keys):
            stream = self.streams.get(key)
            if stream is not None and stream.held and stream.make is not None:
                out.append(stream.make(self.take(key)))
        return out

    def on_event(self, event: SSEEvent) -> Iterable[SSEEvent]:
        if event.data == "[DONE]":
            return [*self.flush_events(), event]
        data = event.json
        if not isinstance(data, dict):
            return (event,)
        if isinstance(data.get("choices"), list):
            return _chat_chunk(self, event, data)
        kind = data.get("type")
        if isinstance(kind, str):
            if kind.startswith("response."):
                return _responses_event(self, event, data, kind)
            return _anthropic_event(self, event, data, kind)
        if "done" in data and ("message" in data or "response" in data):
            return _ollama_line(self, event, data)
        return _whole(self, event, data)

    def on_end(self, complete: bool) -> Iterable[SSEEvent]:
        return self.flush_events()


def _whole(f: RestoreFilter, event: SSEEvent, data: dict[str, Any]) -> Iterable[SSEEvent]:
    if f.ph.max_len and "[" in event.data:
        restore_tree(data, f.ph)
        event.touch()
    return (event,)


# -- Ollama's native NDJSON lines ----------------------------------------------------------------

def _ollama_line(f: RestoreFilter, event: SSEEvent, data: dict[str, Any]) -> Iterable[SSEEvent]:
    chat = isinstance(data.get("message"), dict)
    holder, key = (data["message"], "content") if chat else (data, "response")
    if not isinstance(holder.get(key), str):
        return _whole(f, event, data)
    envelope = {k: v for k, v in data.items() if k in ("model", "created_at")}

    def make(text: str) -> SSEEvent:
        part = {"message": {"role": "assistant", "content": text}} if chat else {"response": text}
        return SSEEvent.from_json({**envelope, **part, "done": False})

    text = f.feed(("ollama",), holder[key], False, make)
    if data.get("done"):
        text += f.take(("ollama",))
    if text != holder[key]:
        holder[key] = text
        event.touch()
    return (event,)


# -- OpenAI chat.completion.chunk ----------------------------------------------------------------

def _passes(f: RestoreFilter, choices: list[Any]) -> bool:
    """The usual chunk, one choice's plain text delta with no "[" while no stream holds text back:
    nothing in it can be or complete a placeholder, so it passes as it is."""
    if len(choices) != 1 or not isinstance(choice := choices[0], dict) or choice.get("finish_reason"):
        return False
    delta = choice.get("delta")
    if not isinstance(delta, dict) or "tool_calls" in delta:
        return False
    text = delta.get("content")
    return (text is None or isinstance(text, str) and "[" not in text) \
        and not any(stream.held for stream in f.streams.values())


def _chat_chunk(f: RestoreFilter, event: SSEEvent, data: dict[str, Any]) -> Iterable[SSEEvent]:
    if _passes(f, data["choices"]):
        return (event,)
    envelope = {k: v for k, v in data.items() if k not in ("choices", "usage")}
    changed = False
    for choice in data["choices"]:
        if not isinstance(choice, dict):
            continue
        idx = choice.get("index", 0)
        delta = choice.get("delta")
        if isinstance(delta, dict):
            changed |= _chat_delta(f, envelope, idx, delta)
        if choice.get("finish_reason"):
            if not isinstance(delta, dict):
                delta = choice["delta"] = {}
            changed |= _chat_fold(f, idx, delta)
    if changed:
        event.touch()
    return (event,)


def _chat_delta(f: RestoreFilter, envelope: dict[str, Any], idx: int, delta: dict[str, Any]) -> bool:
    changed = False
    if isinstance(delta.get("content"), str):
        text = delta["content"]
        delta["content"] = f.feed(("c", idx), text, False,
                                  _chat_maker(envelope, idx, lambda t: {"content": t}))
        changed = delta["content"] != text
    for call in delta.get("tool_calls") or ():
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            k, text = call.get("index", 0), fn["arguments"]
            make = _chat_maker(envelope, idx, _tool_call_delta(k))
            fn["arguments"] = f.feed(("t", idx, k), text, True, make)
            changed |= fn["arguments"] != text
    return changed


def _chat_fold(f: RestoreFilter, idx: int, delta: dict[str, Any]) -> bool:
    """The choice finished: what its streams still hold goes into this same chunk's delta."""
    changed = False
    held = f.take(("c", idx))
    if held:
        delta["content"] = (delta.get("content") or "") + held
        changed = True
    for key in [k for k in f.streams if k[0] == "t" and k[1] == idx]:
        held = f.take(key)
        if not held:
            continue
        calls = delta.setdefault("tool_calls", [])
        entry = next((c for c in calls if isinstance(c, dict) and c.get("index", 0) == key[2]), None)
        if entry is None:
            calls.append({"index": key[2], "function": {"arguments": held}})
        else:
            fn = entry.setdefault("function", {})
            fn["arguments"] = (fn.get("arguments") or "") + held
        changed = True
    return changed


def _tool_call_delta(k: Any) -> Callable[[str], dict[str, Any]]:
    return lambda t: {"tool_calls": [{"index": k, "function": {"arguments": t}}]}


def _chat_maker(envelope: dict[str, Any], idx: int,
                delta_of: Callable[[str], dict[str, Any]]) -> Callable[[str], SSEEvent]:
    def make(text: str) -> SSEEvent:
        choice = {"index": idx, "delta": delta_of(text), "logprobs": None, "finish_reason": None}
        return SSEEvent.from_json({**envelope, "choices": [choice]})
    return make


# -- Anthropic messages --------------------------------------------------------------------------

_ANTHROPIC_DELTAS = {"text_delta": ("text", False), "input_json_delta": ("partial_json", True),
                     "thinking_delta": ("thinking", False)}


def _anthropic_event(f: RestoreFilter, event: SSEEvent, data: dict[str, Any],
                     kind: str) -> Iterable[SSEEvent]:
    if kind == "content_block_delta" and isinstance(data.get("delta"), dict):
        delta = data["delta"]
        spec = _ANTHROPIC_DELTAS.get(delta.get("type"))
        if spec is None or not isinstance(delta.get(spec[0]), str):
            return (event,)
        field, escape = spec
        idx, text = data.get("index", 0), delta[field]

        def make(t: str, idx: Any = idx, dtype: Any = delta["type"], field: str = field) -> SSEEvent:
            body = {"type": "content_block_delta", "index": idx, "delta": {"type": dtype, field: t}}
            return SSEEvent.from_json(body, event="content_block_delta")

        delta[field] = f.feed(("b", idx), text, escape, make)
        if delta[field] != text:
            event.touch()
        return (event,)
    if kind == "content_block_stop":
        return [*f.flush_events([("b", data.get("index", 0))]), event]
    if kind in ("message_delta", "message_stop", "error"):
        return [*f.flush_events(), *_whole(f, event, data)]
    return _whole(f, event, data)


# -- OpenAI Responses ----------------------------------------------------------------------------

def _responses_key(data: dict[str, Any], kind: str) -> tuple[Any, ...]:
    base = kind.rsplit(".", 1)[0]
    return ("r", base, data.get("output_index", 0), data.get("content_index", 0),
            data.get("summary_index", 0))


def _responses_event(f: RestoreFilter, event: SSEEvent, data: dict[str, Any],
                     kind: str) -> Iterable[SSEEvent]:
    if kind.endswith(".delta") and isinstance(data.get("delta"), str):
        text, template = data["delta"], dict(data)

        def make(t: str) -> SSEEvent:
            return SSEEvent.from_json({**template, "delta": t}, event=event.event or kind)

        data["delta"] = f.feed(_responses_key(data, kind), text, "arguments" in kind, make)
        if data["delta"] != text:
            event.touch()
        return (event,)
    if kind.endswith(".done"):
        return [*f.flush_events([_responses_key(data, kind)]), *_whole(f, event, data)]
    if kind in ("response.completed", "response.incomplete", "response.failed", "error"):
        return [*f.flush_events(), *_whole(f, event, data)]
    return _whole(f, event, data)
