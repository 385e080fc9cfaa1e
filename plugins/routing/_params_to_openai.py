"""The top-level parameters of an Anthropic Messages request, for an OpenAI-format model (OpenAI,
Ollama's /v1 API or any OpenAI-compatible server): what is translated, what is dropped, what is
refused.

The rule: a parameter is translated where Chat Completions has an equivalent; it is dropped (and
named in `X-Gateway-Dropped-Params`) when it only tunes Anthropic's own service or the model's
effort, so losing it changes no answer's meaning; it is refused with a 400 naming it when dropping
it would change what the answer means (server tools, MCP servers, an unknown parameter).
"""

from __future__ import annotations

import re
from typing import Any

from gateway.errors import BadRequest
from plugins.routing._wire import obj, refuse

# Translated by `apply` (or by the message converter).
TRANSLATED = frozenset({"model", "messages", "system", "max_tokens", "stop_sequences",
                        "temperature", "top_p", "tools", "tool_choice", "stream", "metadata",
                        "thinking", "output_config", "output_format"})
# Only tune Anthropic's service (prompt caching, context editing, routing, speed) or sampling
# breadth: dropped and reported.
DROPPED = frozenset({"context_management", "service_tier", "top_k", "inference_geo", "speed",
                     "cache_control"})
# OpenAI's reasoning models take `reasoning_effort`; the others refuse it.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5|gpt-6|gpt-oss|codex)", re.I)
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "high", "xhigh": "high",
            "minimal": "minimal", "none": "minimal"}


def is_reasoning_model(upstream_model: str) -> bool:
    return bool(_REASONING_MODEL.match(upstream_model.rsplit("/", 1)[-1]))


def check(body: dict[str, Any], target: str, dropped: list[str]) -> None:
    """Refuse what cannot be dropped; note what is dropped."""
    for name, value in body.items():
        if value is None or name in TRANSLATED:
            continue
        if name in DROPPED:
            dropped.append(name)
        elif name == "mcp_servers" and not value:
            continue
        elif name == "container":
            raise refuse(name, target, "containers hold Anthropic's code-execution sessions")
        else:
            raise refuse(name, target)
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest("'metadata' must be an object")
    if isinstance(metadata, dict) and set(metadata) - {"user_id"}:
        dropped.append("metadata")


def apply(body: dict[str, Any], out: dict[str, Any], upstream_model: str, provider_kind: str,
          dropped: list[str], max_output: int | None) -> None:
    """Sampling, limits, user, reasoning effort and output format, into `out`."""
    _limit(body, out, provider_kind, dropped, max_output)
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    user = (body.get("metadata") or {}).get("user_id")
    if isinstance(user, str) and user:
        out["user"] = user[:256]
    _effort(body, out, upstream_model, provider_kind, dropped)
    _format(body, out, "Ollama" if provider_kind == "ollama" else "OpenAI")


def _limit(body: dict[str, Any], out: dict[str, Any], provider_kind: str, dropped: list[str],
           max_output: int | None) -> None:
    # OpenAI's reasoning models refuse `max_tokens`; Ollama knows only `max_tokens`.
    name = "max_tokens" if provider_kind == "ollama" else "max_completion_tokens"
    limit = body["max_tokens"]
    if max_output is not None and limit > max_output:
        # Agents ask for the most an Anthropic model can write; OpenAI refuses a larger limit
        # than the model's own with a 400. The answer is the same unless it would be longer.
        limit = max_output
        dropped.append(f"max_tokens>{max_output}")
    out[name] = limit


def _effort(body: dict[str, Any], out: dict[str, Any], upstream_model: str, provider_kind: str,
            dropped: list[str]) -> None:
    """`output_config.effort`, else `thinking`, as `reasoning_effort` on a reasoning model."""
    thinking = body.get("thinking")
    config = obj(body.get("output_config"))
    if thinking is not None and not isinstance(thinking, dict):
        raise BadRequest("'thinking' must be an object")
    wants = isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled")
    effort = config.get("effort")
    if effort is None and not wants:
        return
    if provider_kind == "ollama" or not is_reasoning_model(upstream_model):
        dropped.extend(n for n, on in (("thinking", wants), ("output_config.effort", effort))
                       if on)
        return
    if effort is not None:
        if effort not in _EFFORTS:
            raise BadRequest(f"'output_config.effort' must be one of {', '.join(_EFFORTS)}")
        out["reasoning_effort"] = _EFFORTS[effort]
    else:
        out["reasoning_effort"] = _budget_effort(obj(thinking))  # an object: `wants` is true


def _budget_effort(thinking: dict[str, Any]) -> str:
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or thinking.get("type") == "adaptive":
        return "medium"
    return "low" if budget <= 4096 else "medium" if budget <= 16384 else "high"


def _format(body: dict[str, Any], out: dict[str, Any], target: str) -> None:
    """Structured output: `output_config.format` (or the older `output_format`) → json_schema."""
    config = obj(body.get("output_config"))
    fmt = config.get("format") or body.get("output_format")
    extra = sorted(set(config) - {"effort", "format"})
    if extra:
        raise refuse(f"output_config.{extra[0]}", target)
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" \
            or not isinstance(fmt.get("schema"), dict):
        raise BadRequest("'output_config.format' must be {\"type\": \"json_schema\", \"schema\": {…}}")
    out["response_format"] = {"type": "json_schema", "json_schema": {
        "name": "output", "schema": fmt["schema"], "strict": True}}
