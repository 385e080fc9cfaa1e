"""An OpenAI Chat Completions request body → an Anthropic Messages request body.

Every parameter is either translated, ignored because it cannot change the answer (listed in
`_HARMLESS`), or refused with a 400 naming it: a silent drop would change behaviour.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import BadRequest
from plugins.routing._wire import ANTHROPIC_IMAGE_TYPES, obj, parse_data_url, refuse

TARGET = "Anthropic"
# OpenAI leaves max_tokens optional; Anthropic requires it. Large enough not to cut typical
# answers short; a cut answer still says so (finish_reason "length").
DEFAULT_MAX_TOKENS = 8192
# Bookkeeping parameters with no effect on the generated answer.
_HARMLESS = frozenset({"metadata", "store", "service_tier", "prompt_cache_key",
                       "prompt_cache_retention", "stream_options", "safety_identifier", "user"})
# Parameters without an Anthropic equivalent, accepted only at their neutral value.
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "n": (1,), "logprobs": (False,), "top_logprobs": (0,), "logit_bias": ({},),
    "presence_penalty": (0, 0.0), "frequency_penalty": (0, 0.0), "modalities": (["text"],),
    "response_format": ({"type": "text"},),
}
_HANDLED = frozenset({"model", "messages", "stream", "max_tokens", "max_completion_tokens",
                      "temperature", "top_p", "stop", "tools", "tool_choice",
                      "parallel_tool_calls", "reasoning_effort"})
# `reasoning_effort` as an extended-thinking budget (tokens); Anthropic wants at least 1024 and
# less than max_tokens, and no temperature or top_p beside it.
_THINKING_BUDGET = {"low": 2048, "medium": 8192, "high": 24576}
_MIN_BUDGET = 1024


def to_anthropic(body: dict[str, Any], upstream_model: str,
                 dropped: list[str] | None = None) -> dict[str, Any]:
    dropped = [] if dropped is None else dropped
    _check_parameters(body)
    system, messages = convert_messages(body["messages"])
    out: dict[str, Any] = {"model": upstream_model, "messages": messages}
    if system:
        out["system"] = system
    out["max_tokens"] = body.get("max_completion_tokens") or body.get("max_tokens") \
        or DEFAULT_MAX_TOKENS
    _sampling(body, out)
    if body.get("tools"):
        out["tools"] = [_tool(t, f"tools[{i}]") for i, t in enumerate(body["tools"])]
    choice = _tool_choice(body)
    if choice:
        out["tool_choice"] = choice
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    _thinking(body.get("reasoning_effort"), out, dropped)
    if body.get("stream"):
        out["stream"] = True
    return out


def _thinking(effort: Any, out: dict[str, Any], dropped: list[str]) -> None:
    if effort in (None, "none", "minimal"):
        return
    if effort not in _THINKING_BUDGET:
        raise BadRequest(f"'reasoning_effort' must be one of minimal, low, medium, high, "
                         f"got {effort!r}")
    budget = min(_THINKING_BUDGET[effort], out["max_tokens"] // 2)
    forced = (out.get("tool_choice") or {}).get("type") in ("any", "tool")
    if budget < _MIN_BUDGET or "temperature" in out or "top_p" in out or forced:
        # No room for thinking, sampling fixed by the client, or a forced tool call: Anthropic
        # refuses thinking beside each of them.
        dropped.append("reasoning_effort")
        return
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _check_parameters(body: dict[str, Any]) -> None:
    for name, value in body.items():
        if value is None or name in _HANDLED or name in _HARMLESS:
            continue
        if name in _NEUTRAL and value in _NEUTRAL[name]:
            continue
        if name in ("functions", "function_call"):
            raise refuse(name, TARGET, "it is deprecated; use 'tools' and 'tool_choice'")
        raise refuse(name, TARGET)


def _sampling(body: dict[str, Any], out: dict[str, Any]) -> None:
    temperature = body.get("temperature")
    if temperature is not None:
        if temperature > 1:
            raise refuse("temperature", TARGET, f"it accepts 0 to 1, got {temperature}")
        out["temperature"] = temperature
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        if not all(isinstance(s, str) for s in stop):
            raise BadRequest("'stop' must be a string or an array of strings")
        out["stop_sequences"] = list(stop)


# --- messages ----------------------------------------------------------------------------------

def convert_messages(messages: list[dict[str, Any]]
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """System and developer messages become the top-level `system` (Anthropic has no system
    role in `messages`); tool messages become `tool_result` blocks of a user turn; consecutive
    turns of one role merge, so parallel tool results share one user turn."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where, role = f"messages[{i}]", message["role"]
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content"), where))
        elif role == "user":
            _append(out, "user", _user_blocks(message.get("content"), where))
        elif role == "assistant":
            _append(out, "assistant", _assistant_blocks(message, where))
        elif role == "tool":
            _append(out, "user", [_tool_result(message, where)])
        elif role == "function":
            raise refuse(f"{where}.role", TARGET, "'function' messages are deprecated; use 'tool'")
        else:
            raise BadRequest(f"'{where}.role' must be system, developer, user, assistant or "
                             f"tool, got {role!r}")
    return system, out


def _append(out: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return  # Anthropic refuses empty turns; an empty OpenAI message says nothing
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def _cache(part: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    if isinstance(part.get("prompt_cache_breakpoint"), dict):
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _text_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"'{where}.content' must be a string or an array of content parts")
    blocks = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "refusal"):
            text = part.get(kind)
            if not isinstance(text, str):
                raise BadRequest(f"'{where}.content[{j}].{kind}' must be a string")
            if text:
                blocks.append(_cache(part, {"type": "text", "text": text}))
        else:
            raise refuse(f"{where}.content[{j}].type", TARGET,
                         f"a {kind!r} part is not allowed in this message")
    return blocks


def _user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return _text_blocks(content, where)
    blocks = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        at = f"{where}.content[{j}]"
        if kind == "image_url":
            blocks.append(_cache(part, _image(part.get("image_url"), at)))
        elif kind == "file":
            blocks.append(_cache(part, _document(part.get("file"), at)))
        elif kind == "text":
            blocks.extend(_text_blocks([part], where))
        else:
            raise refuse(f"{at}.type", TARGET, f"{kind!r} content is not supported")
    return blocks


def _image(image: Any, where: str) -> dict[str, Any]:
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str) or not url:
        raise BadRequest(f"'{where}.image_url.url' must be a non-empty string")
    data = parse_data_url(url)
    if data is None:
        if not url.startswith(("http://", "https://")):
            raise BadRequest(f"'{where}.image_url.url' must be an http(s) URL or a base64 data URL")
        return {"type": "image", "source": {"type": "url", "url": url}}
    media_type, payload = data
    if media_type not in ANTHROPIC_IMAGE_TYPES:
        raise refuse(f"{where}.image_url.url", TARGET,
                     f"images must be {', '.join(ANTHROPIC_IMAGE_TYPES)}, got {media_type}")
    return {"type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": payload}}


def _document(file: Any, where: str) -> dict[str, Any]:
    """A PDF given inline (`file_data`) is an Anthropic document block; uploaded file ids live
    in the OpenAI account and cannot be read from elsewhere."""
    data = file.get("file_data") if isinstance(file, dict) else None
    parsed = parse_data_url(data) if isinstance(data, str) else None
    if parsed is None or parsed[0] != "application/pdf":
        raise refuse(f"{where}.file", TARGET, "only PDF files given inline as a base64 data URL "
                     "in 'file_data' can be passed on")
    block: dict[str, Any] = {"type": "document", "source": {
        "type": "base64", "media_type": "application/pdf", "data": parsed[1]}}
    if isinstance(file.get("filename"), str):
        block["title"] = file["filename"]
    return block


def _assistant_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    if message.get("function_call") is not None:
        raise refuse(f"{where}.function_call", TARGET, "it is deprecated; use 'tool_calls'")
    if message.get("audio") is not None:
        raise refuse(f"{where}.audio", TARGET)
    blocks = _text_blocks(message.get("content"), where)
    if isinstance(message.get("refusal"), str) and message["refusal"] and not blocks:
        blocks.append({"type": "text", "text": message["refusal"]})
    for j, call in enumerate(message.get("tool_calls") or ()):
        blocks.append(_tool_use(call, f"{where}.tool_calls[{j}]"))
    return blocks


def _tool_use(call: Any, where: str) -> dict[str, Any]:
    if not isinstance(call, dict) or call.get("type", "function") != "function":
        raise refuse(f"{where}.type", TARGET, "only function tool calls can be passed on")
    function = obj(call.get("function"))
    name, arguments = function.get("name"), function.get("arguments") or "{}"
    if not isinstance(call.get("id"), str) or not isinstance(name, str):
        raise BadRequest(f"'{where}' needs an 'id' and a 'function.name'")
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadRequest(f"'{where}.function.arguments' must be a JSON object (Anthropic tool "
                         f"inputs are objects), got {arguments!r:.80}")
    return {"type": "tool_use", "id": call["id"], "name": name, "input": parsed}


def _tool_result(message: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(message.get("tool_call_id"), str):
        raise BadRequest(f"'{where}.tool_call_id' must be a string")
    content = message.get("content")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message["tool_call_id"]}
    if isinstance(content, str):
        result["content"] = content
    else:
        result["content"] = _text_blocks(content, where)
    return result


# --- tools -------------------------------------------------------------------------------------

def _tool(tool: Any, where: str) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise refuse(f"{where}.type", TARGET, f"only function tools can be passed on, got {kind!r}")
    function = tool.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise BadRequest(f"'{where}.function.name' must be a string")
    out: dict[str, Any] = {"name": function["name"],
                           "input_schema": function.get("parameters") or
                           {"type": "object", "properties": {}}}
    if isinstance(function.get("description"), str):
        out["description"] = function["description"]
    if isinstance(function.get("strict"), bool):
        out["strict"] = function["strict"]
    return out


def _tool_choice(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if choice is None:
        out = None
    elif choice in ("auto", "none"):
        out = {"type": choice}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function" \
            and isinstance((choice.get("function") or {}).get("name"), str):
        out = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise refuse("tool_choice", TARGET, f"{choice!r} cannot be expressed")
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        out = out or {"type": "auto"}
        if out["type"] != "none":
            out["disable_parallel_tool_use"] = True
    return out
