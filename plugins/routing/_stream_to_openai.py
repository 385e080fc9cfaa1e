"""An Anthropic Messages event stream → OpenAI `chat.completion.chunk` events, event by event.

Nothing is held back except what has no OpenAI counterpart (pings, block stops, thinking):
`message_start` → the role chunk, text deltas → content chunks, a tool_use block start → the
tool call's opening chunk (id, name), input_json deltas → argument chunks (parallel tool calls
get consecutive `index` values), `message_delta` → the finish chunk (and the usage chunk when the
client asked for `stream_options.include_usage`), `message_stop` → `[DONE]`.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.call import SSEEvent, Usage
from plugins.routing._wire import finish_reason, openai_error, openai_usage, usage_from_anthropic


class AnthropicToOpenAIStream:
    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.id = ""
        self.model = ""
        self.created = int(time.time())
        self.usage = Usage()
        self.tool_index: dict[int, int] = {}  # Anthropic block index → OpenAI tool_calls index
        self.done = False

    def feed(self, data: Any) -> list[SSEEvent]:
        if not isinstance(data, dict):
            return []
        handler = getattr(self, "_on_" + str(data.get("type")), None)
        return handler(data) if handler else []

    def end(self, complete: bool) -> list[SSEEvent]:
        # A provider stream that ended without message_stop: close it for the client, unless it
        # was cut short (the core then appends an error event itself).
        if complete and self.id and not self.done:
            self.done = True
            return [SSEEvent("[DONE]")]
        return []

    # -- events ---------------------------------------------------------------------------------

    def _on_message_start(self, data: dict[str, Any]) -> list[SSEEvent]:
        message = data.get("message") or {}
        self.id = message.get("id") or "msg"
        self.model = message.get("model") or ""
        self._take_usage(message.get("usage"))
        return [self._chunk({"role": "assistant", "content": ""})]

    def _on_content_block_start(self, data: dict[str, Any]) -> list[SSEEvent]:
        block = data.get("content_block") or {}
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if block.get("type") != "tool_use":
            return []
        index = len(self.tool_index)
        self.tool_index[data.get("index", 0)] = index
        opening = {"index": index, "id": block.get("id"), "type": "function",
                   "function": {"name": block.get("name"), "arguments": ""}}
        return [self._chunk({"tool_calls": [opening]})]

    def _on_content_block_delta(self, data: dict[str, Any]) -> list[SSEEvent]:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            return [self._chunk({"content": delta.get("text") or ""})]
        if kind == "input_json_delta" and data.get("index") in self.tool_index:
            part = {"index": self.tool_index[data["index"]],
                    "function": {"arguments": delta.get("partial_json") or ""}}
            return [self._chunk({"tool_calls": [part]})]
        return []  # thinking, signature and citation deltas have no Chat Completions field

    def _on_message_delta(self, data: dict[str, Any]) -> list[SSEEvent]:
        self._take_usage(data.get("usage"))
        reason = finish_reason((data.get("delta") or {}).get("stop_reason"))
        events = [self._chunk({}, reason)]
        if self.include_usage:
            events.append(self._envelope([], openai_usage(self.usage)))
        return events

    def _on_message_stop(self, data: dict[str, Any]) -> list[SSEEvent]:
        self.done = True
        return [SSEEvent("[DONE]")]

    def _on_error(self, data: dict[str, Any]) -> list[SSEEvent]:
        self.done = True
        return [SSEEvent.from_json(openai_error(data))]

    # -- helpers --------------------------------------------------------------------------------

    def _take_usage(self, raw: Any) -> None:
        """Anthropic usage counts are running totals; a field absent from an event keeps its
        earlier value (message_delta usually carries only output_tokens)."""
        if not isinstance(raw, dict):
            return
        new = usage_from_anthropic(raw)
        for name, key in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                          ("cached_input_tokens", "cache_read_input_tokens"),
                          ("cache_write_tokens", "cache_creation_input_tokens")):
            if raw.get(key) is not None:
                setattr(self.usage, name, getattr(new, name))

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> SSEEvent:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._envelope([choice], None)

    def _envelope(self, choices: list[dict[str, Any]], usage: Any) -> SSEEvent:
        chunk: dict[str, Any] = {"id": self.id, "object": "chat.completion.chunk",
                                 "created": self.created, "model": self.model, "choices": choices}
        if self.include_usage:
            chunk["usage"] = usage
        return SSEEvent.from_json(chunk)
