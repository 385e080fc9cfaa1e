"""Chat Completions answers → OpenAI Responses answers: a whole `chat.completion` → a `response`
object, and `chat.completion.chunk` events → the Responses event sequence that the OpenAI SDK and
Codex parse: `response.created`, `response.in_progress`, per output item
`response.output_item.added` … deltas … `response.output_item.done`, then `response.completed`
(or `response.incomplete` when the length limit cut the answer, `response.failed` on an error).

Codex builds its history from `response.output_item.done` items and needs `response.completed`
with the response id and usage, so every item is closed and the stream always ends with one.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from gateway.call import SSEEvent, Usage
from plugins.routing._chat_chunks import ChatChunkStream
from plugins.routing._responses_to_chat import ToolMap
from plugins.routing._wire import obj, usage_from_openai


def _id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


def responses_usage(usage: Usage, reasoning_tokens: int = 0) -> dict[str, Any]:
    """`Usage` (input excludes cache reads and writes) in the Responses shape."""
    total_in = usage.input_tokens + usage.cached_input_tokens + usage.cache_write_tokens
    return {"input_tokens": total_in,
            "input_tokens_details": {"cached_tokens": usage.cached_input_tokens},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": total_in + usage.output_tokens}


def _reasoning_tokens(raw: Any) -> int:
    details = raw.get("completion_tokens_details") if isinstance(raw, dict) else None
    value = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return value if isinstance(value, int) else 0


def response_object(request: dict[str, Any], rid: str, status: str, output: list[dict[str, Any]],
                    usage: dict[str, Any] | None, model: str) -> dict[str, Any]:
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    return {"id": rid, "object": "response", "created_at": int(time.time()), "status": status,
            "background": False, "error": None, "incomplete_details": incomplete,
            "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"), "model": model,
            "output": output, "parallel_tool_calls": request.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "reasoning": {"effort": (request.get("reasoning") or {}).get("effort"),
                          "summary": None},
            "store": False, "temperature": request.get("temperature"),
            "text": request.get("text") or {"format": {"type": "text"}},
            "tool_choice": request.get("tool_choice", "auto"), "tools": request.get("tools") or [],
            "top_p": request.get("top_p"), "truncation": "disabled", "usage": usage,
            "user": None, "metadata": request.get("metadata") or {}}


def message_item(text: str, status: str = "completed") -> dict[str, Any]:
    return {"id": _id("msg_"), "type": "message", "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def call_item(tools: ToolMap, call_id: str, flat_name: str, arguments: str,
              status: str = "completed") -> dict[str, Any]:
    name, namespace, custom = tools.client_call(flat_name)
    if custom:
        return {"id": _id("ctc_"), "type": "custom_tool_call", "status": status,
                "call_id": call_id, "name": name, "input": custom_input(arguments)}
    item = {"id": _id("fc_"), "type": "function_call", "status": status, "call_id": call_id,
            "name": name, "arguments": arguments}
    if namespace:
        item["namespace"] = namespace
    return item


def custom_input(arguments: str) -> str:
    """The raw text of a freeform tool call the model made as `{"input": "…"}`."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return arguments
    return value.get("input", arguments) if isinstance(value, dict) else arguments


def completion_to_response(completion: dict[str, Any], request: dict[str, Any],
                           tools: ToolMap) -> dict[str, Any]:
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    reply = obj(choice.get("message"))
    output: list[dict[str, Any]] = []
    text = reply.get("content") or reply.get("refusal")
    if isinstance(text, str) and text:
        output.append(message_item(text))
    for call in reply.get("tool_calls") or ():
        function = call.get("function") or {} if isinstance(call, dict) else {}
        output.append(call_item(tools, str(call.get("id") or _id("call_")),
                                str(function.get("name") or ""),
                                str(function.get("arguments") or "")))
    status = "incomplete" if choice.get("finish_reason") == "length" else "completed"
    raw = completion.get("usage")
    usage = responses_usage(usage_from_openai(raw), _reasoning_tokens(raw))
    return response_object(request, _id("resp_"), status, output, usage,
                           completion.get("model") or request.get("model") or "")


class ChatToResponsesStream(ChatChunkStream):
    """Feed chat chunk events; get Responses events. Output items are numbered in the order they
    open; a message item closes when a tool call opens, tool calls close at the end."""

    def __init__(self, request: dict[str, Any], tools: ToolMap) -> None:
        super().__init__()
        self.request = request
        self.tools = tools
        self.rid = _id("resp_")
        self.model = str(request.get("model") or "")
        self.seq = 0
        self.items = 0  # output items opened so far
        self.output: list[tuple[int, dict[str, Any]]] = []  # finished items with their index
        self.text: _Open | None = None
        self.calls: dict[int, _Open] = {}  # open tool-call items by chat tool_calls index
        self.finish: str | None = None

    def _event(self, kind: str, **fields: Any) -> SSEEvent:
        data = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return SSEEvent.from_json(data, kind)

    # -- pieces ---------------------------------------------------------------------------------

    def _start(self, chunk: dict[str, Any]) -> list[SSEEvent]:
        self.started = True
        self.model = str(chunk.get("model") or self.model)
        opening = response_object(self.request, self.rid, "in_progress", [], None, self.model)
        return [self._event("response.created", response=opening),
                self._event("response.in_progress", response=opening)]

    def _choice(self, choice: dict[str, Any]) -> list[SSEEvent]:
        delta = obj(choice.get("delta"))
        out: list[SSEEvent] = []
        for key in ("content", "refusal"):
            if isinstance(delta.get(key), str) and delta[key]:
                out.extend(self._text(delta[key]))
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                out.extend(self._call(call))
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
        return out

    def _open(self, item: dict[str, Any]) -> tuple[_Open, SSEEvent]:
        opened = _Open(item, self.items)
        self.items += 1
        return opened, self._event("response.output_item.added", output_index=opened.index,
                                   item=item)

    def _text(self, text: str) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if self.text is None:
            item = message_item("", "in_progress")
            item["content"] = []
            self.text, added = self._open(item)
            out.append(added)
            out.append(self._event("response.content_part.added", item_id=item["id"],
                                   output_index=self.text.index, content_index=0,
                                   part={"type": "output_text", "text": "", "annotations": []}))
        self.text.parts.append(text)
        out.append(self._event("response.output_text.delta", item_id=self.text.item["id"],
                               output_index=self.text.index, content_index=0, delta=text,
                               logprobs=[]))
        return out

    def _call(self, call: dict[str, Any]) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        position = call.get("index", 0)
        function = obj(call.get("function"))
        opened = self.calls.get(position)
        if opened is None:
            out.extend(self._close_text())
            flat = str(function.get("name") or "")
            item = call_item(self.tools, str(call.get("id") or _id("call_")), flat, "",
                             "in_progress")
            opened, added = self._open(item)
            opened.flat = flat
            self.calls[position] = opened
            out.append(added)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            opened.parts.append(arguments)
            kind = ("response.custom_tool_call_input.delta"
                    if opened.item["type"] == "custom_tool_call"
                    else "response.function_call_arguments.delta")
            out.append(self._event(kind, item_id=opened.item["id"], output_index=opened.index,
                                   delta=arguments))
        return out

    def _close_text(self) -> list[SSEEvent]:
        opened, self.text = self.text, None
        if opened is None:
            return []
        text = "".join(opened.parts)
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        item = {**opened.item, "status": "completed", "content": [part]}
        self.output.append((opened.index, item))
        where = {"item_id": item["id"], "output_index": opened.index, "content_index": 0}
        return [self._event("response.output_text.done", **where, text=text, logprobs=[]),
                self._event("response.content_part.done", **where, part=part),
                self._event("response.output_item.done", output_index=opened.index, item=item)]

    def _close_calls(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        for position in sorted(self.calls):
            opened = self.calls[position]
            arguments = "".join(opened.parts)
            item = call_item(self.tools, opened.item["call_id"], opened.flat, arguments)
            item["id"] = opened.item["id"]
            if item["type"] == "function_call":
                out.append(self._event("response.function_call_arguments.done",
                                       item_id=item["id"], output_index=opened.index,
                                       name=item["name"], arguments=arguments))
            self.output.append((opened.index, item))
            out.append(self._event("response.output_item.done", output_index=opened.index,
                                   item=item))
        self.calls = {}
        return out

    def _finished(self) -> list[dict[str, Any]]:
        return [item for _, item in sorted(self.output, key=lambda pair: pair[0])]

    def _close(self) -> list[SSEEvent]:
        if self.done or not self.started:
            return []
        out = self._close_text() + self._close_calls()
        self.done = True
        status = "incomplete" if self.finish == "length" else "completed"
        usage = responses_usage(self.usage, _reasoning_tokens(self.raw_usage))
        final = response_object(self.request, self.rid, status, self._finished(), usage,
                                self.model)
        return out + [self._event(f"response.{status}", response=final)]

    def _fail(self, chunk: dict[str, Any], started: list[SSEEvent]) -> list[SSEEvent]:
        error = chunk["error"] if isinstance(chunk["error"], dict) else \
            {"message": str(chunk["error"])}
        failed = response_object(self.request, self.rid, "failed", self._finished(), None,
                                 self.model)
        failed["error"] = {"code": str(error.get("code") or error.get("type") or "server_error"),
                           "message": str(error.get("message") or "provider error")}
        return started + [self._event("response.failed", response=failed)]


class _Open:
    """An output item being streamed: its index and the text or argument pieces so far."""

    __slots__ = ("item", "index", "parts", "flat")

    def __init__(self, item: dict[str, Any], index: int) -> None:
        self.item, self.index = item, index
        self.parts: list[str] = []
        self.flat = ""
