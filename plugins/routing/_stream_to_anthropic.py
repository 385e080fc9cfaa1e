"""OpenAI `chat.completion.chunk` events → an Anthropic Messages event stream, event by event.

The first chunk opens the message (`message_start`); content opens a text block, each new tool
call index opens a tool_use block (the previous block is stopped first, as Anthropic streams one
block at a time), argument fragments become `input_json_delta`s. The finish reason and usage
arrive in separate OpenAI chunks (usage last, with `stream_options.include_usage`), so
`message_delta` + `message_stop` are sent at `[DONE]`, when both are known. Nothing else waits.
"""

from __future__ import annotations

from typing import Any

from gateway.call import SSEEvent
from plugins.routing._chat_chunks import ChatChunkStream
from plugins.routing._wire import anthropic_error, anthropic_usage, obj, stop_reason


def _event(data: dict[str, Any]) -> SSEEvent:
    return SSEEvent.from_json(data, data["type"])


class OpenAIToAnthropicStream(ChatChunkStream):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = 0  # Anthropic content blocks opened so far
        self.open: int | None = None  # index of the block now open
        self.text_block: int | None = None
        self.tool_block: dict[int, int] = {}  # OpenAI tool_calls index → Anthropic block index
        self.finish: str | None = None
        self.refused = False

    # -- pieces ---------------------------------------------------------------------------------

    def _start(self, chunk: dict[str, Any]) -> list[SSEEvent]:
        self.started = True
        message: dict[str, Any] = {"id": chunk.get("id") or "msg", "type": "message", "role": "assistant",
                   "model": chunk.get("model") or "", "content": [], "stop_reason": None,
                   "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}
        return [_event({"type": "message_start", "message": message})]

    def _fail(self, chunk: dict[str, Any], started: list[SSEEvent]) -> list[SSEEvent]:
        return [_event(anthropic_error(chunk))]

    def _choice(self, choice: dict[str, Any]) -> list[SSEEvent]:
        delta = obj(choice.get("delta"))
        out: list[SSEEvent] = []
        for key in ("content", "refusal"):
            if isinstance(delta.get(key), str) and delta[key]:
                self.refused = self.refused or key == "refusal"
                out.extend(self._text(delta[key]))
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                out.extend(self._tool(call))
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
            out.extend(self._stop_open())
        return out

    def _text(self, text: str) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if self.text_block is None or self.open != self.text_block:
            out.extend(self._stop_open())
            self.text_block = self._open({"type": "text", "text": ""}, out)
        out.append(_event({"type": "content_block_delta", "index": self.text_block,
                           "delta": {"type": "text_delta", "text": text}}))
        return out

    def _tool(self, call: dict[str, Any]) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        position = call.get("index", 0)
        function = obj(call.get("function"))
        if position not in self.tool_block:
            out.extend(self._stop_open())
            block: dict[str, Any] = {"type": "tool_use",
                                     "id": call.get("id") or f"toolu_{self.blocks}",
                     "name": function.get("name") or "", "input": {}}
            self.tool_block[position] = self._open(block, out)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            # A fragment for a tool call whose block was already stopped still names its own
            # index; the SDKs accumulate by index, so nothing is lost.
            out.append(_event({"type": "content_block_delta", "index": self.tool_block[position],
                               "delta": {"type": "input_json_delta", "partial_json": arguments}}))
        return out

    def _open(self, block: dict[str, Any], out: list[SSEEvent]) -> int:
        index = self.blocks
        self.blocks += 1
        self.open = index
        out.append(_event({"type": "content_block_start", "index": index, "content_block": block}))
        return index

    def _stop_open(self) -> list[SSEEvent]:
        if self.open is None:
            return []
        index, self.open = self.open, None
        return [_event({"type": "content_block_stop", "index": index})]

    def _close(self) -> list[SSEEvent]:
        if self.done or not self.started:
            return []
        self.done = True
        reason = "refusal" if self.refused and self.finish in (None, "stop") else \
            stop_reason(self.finish)
        delta = {"type": "message_delta",
                 "delta": {"stop_reason": reason, "stop_sequence": None},
                 "usage": anthropic_usage(self.usage)}
        return [*self._stop_open(), _event(delta), _event({"type": "message_stop"})]
