"""Whole (non-streamed) answers: an Anthropic `message` ⇄ an OpenAI `chat.completion`."""

from __future__ import annotations

import json
import time
from typing import Any

from plugins.routing._wire import (
    anthropic_usage,
    finish_reason,
    obj,
    openai_usage,
    stop_reason,
    usage_from_anthropic,
    usage_from_openai,
)


def message_to_completion(message: dict[str, Any]) -> dict[str, Any]:
    """Text blocks join into `content`, tool_use blocks become `tool_calls` in order; thinking
    blocks have no Chat Completions field and are left out."""
    texts, calls = [], []
    for block in message.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False,
                                   separators=(",", ":"))
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": arguments}})
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None,
                             "refusal": None, "annotations": []}
    if calls:
        reply["tool_calls"] = calls
    choice = {"index": 0, "message": reply, "logprobs": None,
              "finish_reason": finish_reason(message.get("stop_reason"))}
    return {"id": message.get("id") or "", "object": "chat.completion", "created": int(time.time()),
            "model": message.get("model") or "", "choices": [choice],
            "usage": openai_usage(usage_from_anthropic(message.get("usage")))}


def completion_to_message(completion: dict[str, Any]) -> dict[str, Any]:
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    reply = obj(choice.get("message"))
    content: list[dict[str, Any]] = []
    text = reply.get("content") or reply.get("refusal")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in reply.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                        "input": tool_input(function.get("arguments"))})
    reason = "refusal" if reply.get("refusal") and not reply.get("content") else \
        stop_reason(choice.get("finish_reason"))
    return {"id": completion.get("id") or "", "type": "message", "role": "assistant",
            "model": completion.get("model") or "", "content": content, "stop_reason": reason,
            "stop_sequence": None,
            "usage": anthropic_usage(usage_from_openai(completion.get("usage")))}


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's JSON arguments as the object Anthropic's `input` must be. A model that
    produced invalid JSON keeps its text under `_raw`, so nothing is lost."""
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_raw": arguments}
