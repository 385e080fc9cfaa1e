"""An Anthropic Messages request body → an OpenAI Chat Completions request body (OpenAI itself,
Ollama's /v1 API, or any OpenAI-compatible server).

Every parameter is either translated, ignored because it cannot change the answer (listed in
`_HARMLESS`), or refused with a 400 naming it: a silent drop would change behaviour.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import BadRequest
from plugins.routing._wire import refuse

TARGET = "OpenAI"
# Prompt-caching hints and the service tier: OpenAI caches by itself; neither changes the answer.
_HARMLESS = frozenset({"cache_control", "service_tier"})
_HANDLED = frozenset({"model", "messages", "system", "max_tokens", "stop_sequences",
                      "temperature", "top_p", "tools", "tool_choice", "stream", "metadata",
                      "thinking"})


def to_openai(body: dict[str, Any], upstream_model: str, provider_kind: str) -> dict[str, Any]:
    _check_parameters(body)
    messages = _system(body.get("system")) + convert_messages(body["messages"])
    out: dict[str, Any] = {"model": upstream_model, "messages": messages}
    # OpenAI's reasoning models refuse `max_tokens`; Ollama knows only `max_tokens`.
    limit_name = "max_tokens" if provider_kind == "ollama" else "max_completion_tokens"
    out[limit_name] = body["max_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    if body.get("tools"):
        out["tools"] = [_tool(t, f"tools[{i}]") for i, t in enumerate(body["tools"])]
        _tool_choice(body.get("tool_choice"), out)
    user = (body.get("metadata") or {}).get("user_id")
    if isinstance(user, str) and user:
        out["user"] = user
    if body.get("stream"):
        # Without include_usage an OpenAI stream reports no usage at all.
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _check_parameters(body: dict[str, Any]) -> None:
    for name, value in body.items():
        if value is None or name in _HANDLED or name in _HARMLESS:
            continue
        raise refuse(name, TARGET)
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") != "disabled":
        raise refuse("thinking", TARGET, "extended thinking has no Chat Completions equivalent")
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and set(metadata) - {"user_id"}:
        raise BadRequest(f"'metadata' accepts only 'user_id', got {sorted(metadata)}")


def _system(system: Any) -> list[dict[str, Any]]:
    if not system:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    texts = []
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise BadRequest(f"'system[{i}]' must be a text block")
        texts.append(block.get("text") or "")
    return [{"role": "system", "content": "\n\n".join(texts)}]


# --- messages ----------------------------------------------------------------------------------

def convert_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where, role = f"messages[{i}]", message["role"]
        content = message.get("content")
        if role == "user":
            out.extend(_user(content, where))
        elif role == "assistant":
            out.append(_assistant(content, where))
        elif role == "system":
            out.extend(_system(content))
        else:
            raise BadRequest(f"'{where}.role' must be user, assistant or system, got {role!r}")
    return out


def _blocks(content: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """Content as (where, block) pairs; a plain string is one text block."""
    if isinstance(content, str):
        return [(f"{where}.content", {"type": "text", "text": content})]
    if not isinstance(content, list):
        raise BadRequest(f"'{where}.content' must be a string or an array of content blocks")
    pairs = []
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            raise BadRequest(f"'{where}.content[{j}]' must be an object")
        pairs.append((f"{where}.content[{j}]", block))
    return pairs


def _user(content: Any, where: str) -> list[dict[str, Any]]:
    """Tool results become `tool` messages, which OpenAI wants right after the assistant's tool
    calls, so they go first; the rest of the turn follows as one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tools, parts = [], []
    for at, block in _blocks(content, where):
        kind = block.get("type")
        if kind == "tool_result":
            tools.append(_tool_message(block, at))
        elif kind == "text":
            parts.append({"type": "text", "text": block.get("text") or ""})
        elif kind == "image":
            parts.append(_image(block.get("source"), at))
        elif kind == "document":
            parts.append(_document(block, at))
        else:
            raise refuse(f"{at}.type", TARGET, f"{kind!r} blocks are not supported")
    if not parts:
        return tools
    if len(parts) == 1 and parts[0]["type"] == "text":
        return tools + [{"role": "user", "content": parts[0]["text"]}]
    return tools + [{"role": "user", "content": parts}]


def _image(source: Any, where: str) -> dict[str, Any]:
    source = source if isinstance(source, dict) else {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise refuse(f"{where}.source.type", TARGET,
                     f"image sources must be base64 or url, got {source.get('type')!r}")
    return {"type": "image_url", "image_url": {"url": url}}


def _document(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    if source.get("type") == "base64" and source.get("media_type") == "application/pdf":
        name = block.get("title") if isinstance(block.get("title"), str) else "document.pdf"
        data = f"data:application/pdf;base64,{source.get('data')}"
        return {"type": "file", "file": {"filename": name, "file_data": data}}
    raise refuse(f"{where}.source.type", TARGET,
                 "documents must be a base64 PDF or plain text to be passed on")


def _tool_message(block: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(block.get("tool_use_id"), str):
        raise BadRequest(f"'{where}.tool_use_id' must be a string")
    content = block.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        texts = []
        for at, part in _blocks(content, f"{where}"):
            if part.get("type") != "text":
                raise refuse(f"{at}.type", TARGET,
                             f"tool results can hold only text there, got {part.get('type')!r}")
            texts.append(part.get("text") or "")
        text = "\n".join(texts)
    if block.get("is_error"):
        # OpenAI tool messages have no error flag; say it in the content the model reads.
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": text}


def _assistant(content: Any, where: str) -> dict[str, Any]:
    texts, calls = [], []
    for at, block in _blocks(content, where):
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            calls.append(_tool_call(block, at))
        elif kind in ("thinking", "redacted_thinking"):
            continue  # signed reasoning of an earlier Anthropic turn; meaningless elsewhere
        else:
            raise refuse(f"{at}.type", TARGET, f"{kind!r} blocks are not supported")
    message: dict[str, Any] = {"role": "assistant", "content": "\n".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def _tool_call(block: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
        raise BadRequest(f"'{where}' needs an 'id' and a 'name'")
    arguments = json.dumps(block.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
    return {"id": block["id"], "type": "function",
            "function": {"name": block["name"], "arguments": arguments}}


# --- tools -------------------------------------------------------------------------------------

def _tool(tool: Any, where: str) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise refuse(f"{where}.type", TARGET, f"server tools like {kind!r} run only at Anthropic")
    if not isinstance(tool.get("name"), str):
        raise BadRequest(f"'{where}.name' must be a string")
    function: dict[str, Any] = {"name": tool["name"],
                                "parameters": tool.get("input_schema") or {"type": "object"}}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, out: dict[str, Any]) -> None:
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in ("auto", "none"):
        out["tool_choice"] = kind
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise refuse("tool_choice", TARGET, f"{choice!r} cannot be expressed")
    if choice.get("disable_parallel_tool_use") and kind != "none":
        out["parallel_tool_calls"] = False
