"""OpenAI Chat Completions, Embeddings and Models (also what Ollama serves under /v1)."""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from typing import Any

from aiohttp import web

from gateway.mock_provider._context import context
from gateway.mock_provider._echo import (
    Reply,
    Turn,
    choose_tool,
    content_text,
    count_tokens,
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

FINGERPRINT = "fp_mock"
MODELS = ("mock-model", "gpt-4o-mini", "gpt-4o", "text-embedding-3-small")
_EMBED_DIMS = 8
NO_USAGE = "mock-no-usage"


async def chat_completions(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    reply = plan(_turn(ctx.body), ctx.raw, "call_")
    # `mock-no-usage` in the model name: an OpenAI-compatible server that never reports usage.
    silent = NO_USAGE in ctx.model
    if not ctx.stream:
        completion = _completion(reply, ctx.model)
        if silent:
            del completion["usage"]
        return web.json_response(completion)
    events = ctx.event_stream(request)
    await events.open()
    options = ctx.body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True and not silent
    for chunk in _chunks(reply, ctx.model, include_usage):
        await events.send(chunk)
    await events.send("[DONE]")
    return await events.close()


def _turn(body: dict[str, Any]) -> Turn:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise BadRequest("'messages' must be a non-empty array of objects")
    last = last_turn(messages)
    role = last.get("role")
    # Tool results answer the assistant's last turn; a user message may follow them (images a
    # tool returned, which tool messages cannot hold).
    results = _results_since_assistant(messages)
    is_tool_result = bool(results)
    if is_tool_result:
        text = "\n".join(content_text(m.get("content")) for m in results)
        role = "tool"
    else:
        text = last_user_text(messages)
    limit = positive_int(body.get("max_completion_tokens")) or positive_int(body.get("max_tokens"))
    tool_name, arguments = choose_tool(body.get("tools"), text) if role == "user" else (None, None)
    return Turn(text, is_tool_result, tool_name, limit, input_tokens(body, ("messages", "tools")),
                arguments)



def _results_since_assistant(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") == "assistant":
            break
        if message.get("role") in ("tool", "function"):
            results.insert(0, message)
    return results


def _finish_reason(reply: Reply) -> str:
    return "tool_calls" if reply.tool else "length" if reply.truncated else "stop"


def usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _completion(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text or None,
        "refusal": None,
        "annotations": [],
    }
    if reply.tool:
        call = reply.tool
        function = {"name": call.name, "arguments": call.arguments}
        message["tool_calls"] = [{"id": call.id, "type": "function", "function": function}]
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish_reason(reply)}
    return {**_envelope("chat.completion", model), "choices": [choice], "usage": usage(reply)}


def _envelope(kind: str, model: str) -> dict[str, Any]:
    return {
        "id": new_id("chatcmpl-"),
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def _chunks(reply: Reply, model: str, include_usage: bool) -> list[dict[str, Any]]:
    """Every chunk shares id and created; with include_usage each carries `usage: null` until a last
    chunk with no choices carries the totals, as OpenAI sends them."""
    base = _envelope("chat.completion.chunk", model)
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    chunks = [chunk(d) for d in _deltas(reply)]
    chunks.append(chunk({}, _finish_reason(reply)))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": usage(reply)})
    return chunks


def _deltas(reply: Reply) -> list[dict[str, Any]]:
    if not reply.tool:
        first: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        return [first] + [{"content": piece} for piece in words(reply.text)]
    call = reply.tool
    opening = {
        "index": 0,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }
    first = {"role": "assistant", "content": None, "tool_calls": [opening], "refusal": None}
    rest = [
        {"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in fragments(call.arguments)
    ]
    return [first] + rest


async def embeddings(request: web.Request) -> web.Response:
    ctx = context(request)
    inputs = _embedding_inputs(ctx.body.get("input"))
    dims = positive_int(ctx.body.get("dimensions")) or _EMBED_DIMS
    as_base64 = ctx.body.get("encoding_format") == "base64"
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(item, dims, as_base64)}
        for i, item in enumerate(inputs)
    ]
    tokens = sum(count_tokens(item) if isinstance(item, str) else len(item) for item in inputs)
    body = {
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return web.json_response(body)


def _embedding_inputs(value: Any) -> list[str | list[int]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) for v in value):
            return [value]
        if all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(t, int) for t in v))
            for v in value
        ):
            return value
    raise BadRequest("'input' must be a string, an array of strings, or an array of token arrays")


def _vector(item: str | list[int], dims: int, as_base64: bool) -> list[float] | str:
    """Deterministic floats in [-1, 1) from a hash of the input, so equal inputs embed equally."""
    seed = item.encode() if isinstance(item, str) else ",".join(map(str, item)).encode()
    raw = b""
    block = 0
    while len(raw) < dims:
        raw += hashlib.sha256(seed + block.to_bytes(4, "little")).digest()
        block += 1
    floats = [(b - 128) / 128 for b in raw[:dims]]
    if as_base64:
        return base64.b64encode(struct.pack(f"<{dims}f", *floats)).decode()
    return floats


def models_list() -> dict[str, Any]:
    data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "mock"} for m in MODELS]
    return {"object": "list", "data": data}
