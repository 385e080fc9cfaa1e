"""Ollama's native API (listing, chat, generate, embed); its OpenAI-compatible API is served by
`_openai` under /v1."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from gateway.mock_provider._context import Context, context
from gateway.mock_provider._echo import count_tokens, last_user_text, text_length, words
from gateway.mock_provider._errors import BadRequest

_TAGS = (
    ("llama3.2:latest", "llama", "3.2B", 2019393189),
    ("qwen2.5:0.5b", "qwen2", "494.03M", 397821319),
)


async def tags(request: web.Request) -> web.Response:
    return web.json_response({"models": [_tag(*entry) for entry in _TAGS]})


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": "0.6.0"})


def _tag(name: str, family: str, params: str, size: int) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-01-01T00:00:00.000000000Z",
        "size": size,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": params,
            "quantization_level": "Q4_K_M",
        },
    }


# -- the native API: /api/chat, /api/generate (NDJSON streams by default), /api/embed ----------

_CREATED = "2025-01-01T00:00:00.000000000Z"


async def chat(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    messages = ctx.body.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("messages must be an array")
    text = "echo: " + last_user_text(messages)
    prompt = text_length(messages)
    return await _answer(request, ctx, text, prompt,
                         lambda piece: {"message": {"role": "assistant", "content": piece}})


async def generate(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    prompt = ctx.body.get("prompt") or ""
    text = "echo: " + (prompt if isinstance(prompt, str) else "")
    return await _answer(request, ctx, text, len(str(prompt)), lambda piece: {"response": piece})


async def embed(request: web.Request) -> web.Response:
    ctx = context(request)
    items = ctx.body.get("input")
    items = [items] if isinstance(items, str) else items if isinstance(items, list) else []
    vectors = [[b / 255 for b in hashlib.sha256(str(i).encode()).digest()[:8]] for i in items]
    return web.json_response({"model": ctx.model, "embeddings": vectors,
                              "prompt_eval_count": max(1, sum(len(str(i)) for i in items) // 4)})


async def _answer(
    request: web.Request, ctx: Context, text: str, prompt_chars: int,
    shape: Callable[[str], dict[str, Any]],
) -> web.StreamResponse:
    final = {"done": True, "done_reason": "stop", "total_duration": 1000,
             "prompt_eval_count": max(1, prompt_chars // 4), "eval_count": count_tokens(text)}
    if ctx.body.get("stream", True) is False:  # Ollama streams unless told not to
        return web.json_response({"model": ctx.model, "created_at": _CREATED, **shape(text), **final})
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    delay = ctx.switches.chunk_delay_ms / 1000
    for piece in words(text):
        line = {"model": ctx.model, "created_at": _CREATED, **shape(piece), "done": False}
        await response.write(json.dumps(line).encode() + b"\n")
        if delay:
            await asyncio.sleep(delay)
    last = {"model": ctx.model, "created_at": _CREATED, **shape(""), **final}
    await response.write(json.dumps(last).encode() + b"\n")
    await response.write_eof()
    return response
