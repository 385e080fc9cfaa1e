"""What the OpenAI Chat Completions and Anthropic Messages wire formats share, mapped both ways:
finish/stop reasons, usage (including cached tokens), in-stream errors and data URLs.

Field names follow the official SDKs' type definitions (openai/types/chat, anthropic/types).
Usage differs in meaning, not only in names: OpenAI's `prompt_tokens` counts every input token
(cached ones included, reported again in `prompt_tokens_details.cached_tokens`); Anthropic's
`input_tokens` excludes the tokens in `cache_read_input_tokens` and
`cache_creation_input_tokens`.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.call import Usage
from gateway.errors import BadRequest

FINISH_FROM_STOP = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_use": "tool_calls", "refusal": "content_filter",
}
STOP_FROM_FINISH = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
    "function_call": "tool_use", "content_filter": "refusal",
}
ANTHROPIC_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)(?:;[^,;]*?)*;base64,(.*)$", re.S)
# Anthropic's error types; an OpenAI error's `type` passes through when it is one of them.
_ANTHROPIC_ERROR_TYPES = {"invalid_request_error", "authentication_error", "permission_error",
                          "not_found_error", "rate_limit_error", "api_error", "overloaded_error"}


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_FROM_STOP.get(stop_reason or "end_turn", "stop")


def stop_reason(finish: str | None) -> str:
    return STOP_FROM_FINISH.get(finish or "stop", "end_turn")


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (a client or provider may send anything)."""
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_anthropic(raw: Any) -> Usage:
    raw = raw if isinstance(raw, dict) else {}
    return Usage(input_tokens=_int(raw.get("input_tokens")),
                 output_tokens=_int(raw.get("output_tokens")),
                 cached_input_tokens=_int(raw.get("cache_read_input_tokens")),
                 cache_write_tokens=_int(raw.get("cache_creation_input_tokens")))


def usage_from_openai(raw: Any) -> Usage:
    raw = raw if isinstance(raw, dict) else {}
    details = raw.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached, written = _int(details.get("cached_tokens")), _int(details.get("cache_write_tokens"))
    return Usage(input_tokens=max(0, _int(raw.get("prompt_tokens")) - cached - written),
                 output_tokens=_int(raw.get("completion_tokens")),
                 cached_input_tokens=cached, cache_write_tokens=written)


def openai_usage(usage: Usage) -> dict[str, Any]:
    """`Usage` (Anthropic accounting: input excludes cache reads and writes) in OpenAI's shape."""
    prompt = usage.input_tokens + usage.cached_input_tokens + usage.cache_write_tokens
    details: dict[str, Any] = {"cached_tokens": usage.cached_input_tokens}
    if usage.cache_write_tokens:
        details["cache_write_tokens"] = usage.cache_write_tokens
    return {"prompt_tokens": prompt, "completion_tokens": usage.output_tokens,
            "total_tokens": prompt + usage.output_tokens, "prompt_tokens_details": details}


def anthropic_usage(usage: Usage) -> dict[str, Any]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
            "cache_read_input_tokens": usage.cached_input_tokens}


def openai_error(anthropic_body: Any) -> dict[str, Any]:
    """An Anthropic `error` event's data as the `{"error": …}` object the OpenAI SDK raises on."""
    err = anthropic_body.get("error") if isinstance(anthropic_body, dict) else None
    err = err if isinstance(err, dict) else {}
    return {"error": {"message": str(err.get("message") or "provider error"),
                      "type": str(err.get("type") or "api_error"), "param": None, "code": None}}


def anthropic_error(openai_body: Any) -> dict[str, Any]:
    err = openai_body.get("error") if isinstance(openai_body, dict) else None
    if isinstance(err, str):
        err = {"message": err}
    err = err if isinstance(err, dict) else {}
    etype = err.get("type") if err.get("type") in _ANTHROPIC_ERROR_TYPES else "api_error"
    return {"type": "error", "error": {"type": etype,
                                       "message": str(err.get("message") or "provider error")}}


def parse_data_url(url: str) -> tuple[str, str] | None:
    """`data:<media type>;base64,<data>` → (media type, data); None for any other URL."""
    match = _DATA_URL.match(url)
    return (match.group(1).lower(), match.group(2)) if match else None


def refuse(param: str, target: str, why: str = "") -> BadRequest:
    """The 400 for a parameter the target API cannot honour (dropping it would change the
    answer)."""
    tail = f": {why}" if why else ""
    return BadRequest(f"parameter '{param}' is not supported when the model is served by the "
                      f"{target} API{tail}")
