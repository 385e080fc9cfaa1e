"""Ollama's native listing endpoints; its OpenAI-compatible API is served by `_openai` under /v1."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

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
