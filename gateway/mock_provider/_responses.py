"""OpenAI Responses API: `POST /v1/responses`, plain and streamed as typed `response.*` events."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from gateway.mock_provider._context import Context, context
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


async def create(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    reply = plan(_turn(ctx.body), ctx.raw, "call_")
    item = _output_item(reply)
    if not ctx.stream:
        return web.json_response(_response(ctx, new_id("resp_"), _status(reply), [item], _usage(reply)))
    events = ctx.event_stream(request)
    await events.open()
    for number, event in enumerate(_events(ctx, reply, item)):
        event["sequence_number"] = number
        await events.send(event, event["type"])
    return await events.close()


def _turn(body: dict[str, Any]) -> Turn:
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise BadRequest("'input' must be a string or a non-empty array of input items")
    last = last_turn(items)
    is_tool_result = last.get("type") == "function_call_output"
    if is_tool_result:
        text = content_text(last.get("output"))
    else:
        text = last_user_text(items)
    offered = body.get("tools")
    tool_name, arguments = choose_tool(offered, text) if last.get("role") == "user" else (None, None)
    limit = positive_int(body.get("max_output_tokens"))
    return Turn(
        text, is_tool_result, tool_name, limit,
        input_tokens(body, ("input", "instructions", "tools")), arguments,
    )



def _status(reply: Reply) -> str:
    return "incomplete" if reply.truncated else "completed"


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": reply.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _output_item(reply: Reply) -> dict[str, Any]:
    if reply.tool:
        call = reply.tool
        return {
            "id": new_id("fc_"),
            "type": "function_call",
            "status": "completed",
            "arguments": call.arguments,
            "call_id": call.id,
            "name": call.name,
        }
    return {
        "id": new_id("msg_"),
        "type": "message",
        "status": _status(reply),
        "role": "assistant",
        "content": [_text_part(reply.text)],
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _response(
    ctx: Context, rid: str, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None
) -> dict[str, Any]:
    body = ctx.body
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    return {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": ctx.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def _events(ctx: Context, reply: Reply, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The event sequence OpenAI sends for one output item, framed by created/in_progress and
    completed (or incomplete when max_output_tokens cut the text)."""
    rid = new_id("resp_")
    started = _response(ctx, rid, "in_progress", [], None)
    body = _call_events(item) if reply.tool else _text_events(item)
    status = _status(reply)
    final = _response(ctx, rid, status, [item], _usage(reply))
    return [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {"type": "response.output_item.added", "output_index": 0, "item": _opening(item)},
        *body,
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": f"response.{status}", "response": final},
    ]


def _opening(item: dict[str, Any]) -> dict[str, Any]:
    empty: dict[str, Any] = {"arguments": ""} if item["type"] == "function_call" else {"content": []}
    return {**item, "status": "in_progress", **empty}


def _text_events(item: dict[str, Any]) -> list[dict[str, Any]]:
    text = item["content"][0]["text"]
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    deltas = [
        {"type": "response.output_text.delta", **where, "delta": w, "logprobs": []} for w in words(text)
    ]
    return [
        {"type": "response.content_part.added", **where, "part": _text_part("")},
        *deltas,
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": _text_part(text)},
    ]


def _call_events(item: dict[str, Any]) -> list[dict[str, Any]]:
    where = {"item_id": item["id"], "output_index": 0}
    args = item["arguments"]
    deltas = [
        {"type": "response.function_call_arguments.delta", **where, "delta": p} for p in fragments(args)
    ]
    done = {
        "type": "response.function_call_arguments.done",
        **where,
        "name": item["name"],
        "arguments": args,
    }
    return [*deltas, done]
