"""Anthropic Messages API: `POST /v1/messages` (plain and streamed), token counting and models.

Cache hits follow Anthropic's accounting: `input_tokens` excludes the tokens reported in
`cache_read_input_tokens`, so the two add up to the request's whole input estimate."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.mock_provider._context import context
from gateway.mock_provider._echo import (
    Reply,
    Turn,
    choose_tool,
    content_text,
    fragments,
    input_tokens,
    last_turn,
    last_user_text,
    new_id,
    plan,
    positive_int,
    words,
)
from gateway.mock_provider._errors import BadRequest

MODELS = (("claude-sonnet-4-5", "Claude Sonnet 4.5"), ("claude-haiku-4-5", "Claude Haiku 4.5"))
_INPUT_FIELDS = ("system", "messages", "tools")


async def messages(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    if positive_int(ctx.body.get("max_tokens")) is None:
        raise BadRequest("max_tokens: Field required")
    reply = plan(_turn(ctx.body), ctx.raw, "toolu_")
    thinking = _thinking_block(ctx.body, reply)
    message = {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": [*thinking, _block(reply)],
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": _usage(reply, reply.output_tokens),
    }
    if not ctx.stream:
        return web.json_response(message)
    events = ctx.event_stream(request)
    await events.open()
    for event in _events(message, reply):
        await events.send(event, event["type"])
    return await events.close()


async def count_tokens(request: web.Request) -> web.Response:
    body = context(request).body
    _messages(body)
    return web.json_response({"input_tokens": input_tokens(body, _INPUT_FIELDS)})


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
        raise BadRequest("messages: must be a non-empty array of message objects")
    return msgs


def _turn(body: dict[str, Any]) -> Turn:
    msgs = _messages(body)
    last = last_turn(msgs)
    content = last.get("content")
    results = (
        [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if isinstance(content, list)
        else []
    )
    if results:
        text = content_text(results)
    else:
        text = last_user_text(msgs)
    offered = body.get("tools")
    tool_name, arguments = choose_tool(offered, text) if last.get("role") == "user" else (None, None)
    limit = positive_int(body.get("max_tokens"))
    return Turn(text, bool(results), tool_name, limit, input_tokens(body, _INPUT_FIELDS), arguments)



def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool else "max_tokens" if reply.truncated else "end_turn"


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens - reply.cached_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": reply.cached_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _block(reply: Reply) -> dict[str, Any]:
    if reply.tool:
        call = reply.tool
        return {
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": json.loads(call.arguments),
        }
    return {"type": "text", "text": reply.text}


def _thinking_block(body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    """With extended thinking on, a signed thinking block comes first (its text left out when the
    request asks for `display: omitted`, as Claude Code does)."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return []
    text = "" if thinking.get("display") == "omitted" else f"The user wants: {reply.text[:40]}"
    return [{"type": "thinking", "thinking": text, "signature": "mock-sig-" + new_id("")[:16]}]


def _thinking_events(block: dict[str, Any]) -> list[dict[str, Any]]:
    deltas = [{"type": "thinking_delta", "thinking": w} for w in words(block["thinking"])
              if block["thinking"]]
    return [
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": d} for d in deltas),
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "signature_delta", "signature": block["signature"]}},
        {"type": "content_block_stop", "index": 0},
    ]


def _events(message: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    """message_start carries the input usage and one output token, as Anthropic sends it; the final
    output count arrives in message_delta."""
    start = {**message, "content": [], "stop_reason": None, "usage": _usage(reply, 1)}
    block = message["content"][-1]
    index = len(message["content"]) - 1
    thinking = _thinking_events(message["content"][0]) if index else []
    if reply.tool:
        opening = {**block, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in fragments(reply.tool.arguments)]
    else:
        opening = {**block, "text": ""}
        deltas = [{"type": "text_delta", "text": w} for w in words(reply.text)]
    return [
        {"type": "message_start", "message": start},
        *thinking,
        {"type": "content_block_start", "index": index, "content_block": opening},
        {"type": "ping"},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
        {"type": "message_stop"},
    ]


def models_list() -> dict[str, Any]:
    data = [
        {"type": "model", "id": mid, "display_name": name, "created_at": "2025-09-29T00:00:00Z"}
        for mid, name in MODELS
    ]
    return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
