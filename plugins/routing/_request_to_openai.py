"""An Anthropic Messages request body → an OpenAI Chat Completions request body (OpenAI itself,
Ollama's /v1 API, or any OpenAI-compatible server).

Top-level parameters follow `_params_to_openai` (translated, dropped and reported, or refused);
content blocks are translated here. `cache_control` marks anywhere in the body are dropped and
reported once; signed thinking blocks of earlier turns are left out (they mean nothing elsewhere).
"""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import BadRequest
from plugins.routing import _params_to_openai as params
from plugins.routing._wire import obj, refuse


def target_name(provider_kind: str) -> str:
    return "Ollama" if provider_kind == "ollama" else "OpenAI"


def to_openai(body: dict[str, Any], upstream_model: str, provider_kind: str,
              dropped: list[str] | None = None, max_output: int | None = None) -> dict[str, Any]:
    dropped = [] if dropped is None else dropped
    target = target_name(provider_kind)
    params.check(body, target, dropped)
    converter = _Converter(target)
    messages = converter.system(body.get("system")) + converter.messages(body["messages"])
    out: dict[str, Any] = {"model": upstream_model, "messages": messages}
    params.apply(body, out, upstream_model, provider_kind, dropped, max_output)
    if body.get("tools"):
        tools = [converter.tool(t, f"tools[{i}]") for i, t in enumerate(body["tools"])]
        out["tools"] = tools
        _tool_choice(body.get("tool_choice"), out, target)
    if body.get("stream"):
        # Without include_usage an OpenAI stream reports no usage at all.
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    dropped.extend(sorted(converter.dropped - set(dropped)))
    return out


# --- messages ----------------------------------------------------------------------------------

class _Converter:
    """Content blocks → Chat Completions messages, noting what it drops on the way."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.dropped: set[str] = set()

    def _note(self, block: dict[str, Any]) -> None:
        if block.get("cache_control") is not None:
            self.dropped.add("cache_control")

    def system(self, system: Any) -> list[dict[str, Any]]:
        if not system:
            return []
        if isinstance(system, str):
            return [{"role": "system", "content": system}]
        if not isinstance(system, list):
            raise BadRequest("'system' must be a string or an array of text blocks")
        texts = []
        for i, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise BadRequest(f"'system[{i}]' must be a text block")
            self._note(block)
            texts.append(block.get("text") or "")
        return [{"role": "system", "content": "\n\n".join(texts)}]

    def messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, message in enumerate(messages):
            where, role = f"messages[{i}]", message["role"]
            content = message.get("content")
            if role == "user":
                out.extend(self._user(content, where))
            elif role == "assistant":
                out.append(self._assistant(content, where))
            elif role == "system":
                out.extend(self.system(content))
            else:
                raise BadRequest(f"'{where}.role' must be user, assistant or system, got {role!r}")
        return out

    def _blocks(self, content: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
        """Content as (where, block) pairs; a plain string is one text block."""
        if isinstance(content, str):
            return [(f"{where}.content", {"type": "text", "text": content})]
        if not isinstance(content, list):
            raise BadRequest(f"'{where}.content' must be a string or an array of content blocks")
        pairs = []
        for j, block in enumerate(content):
            if not isinstance(block, dict):
                raise BadRequest(f"'{where}.content[{j}]' must be an object")
            self._note(block)
            pairs.append((f"{where}.content[{j}]", block))
        return pairs

    def _user(self, content: Any, where: str) -> list[dict[str, Any]]:
        """Tool results become `tool` messages, which OpenAI wants right after the assistant's
        tool calls, so they go first; the rest of the turn follows as one user message (images a
        tool returned too: a tool message holds text only)."""
        if isinstance(content, str):
            return [{"role": "user", "content": content}]
        tools, parts = [], []
        for at, block in self._blocks(content, where):
            kind = block.get("type")
            if kind == "tool_result":
                message, images = self._tool_message(block, at)
                tools.append(message)
                parts.extend(images)
            elif kind == "text":
                parts.append({"type": "text", "text": block.get("text") or ""})
            elif kind == "image":
                parts.append(self._image(block.get("source"), at))
            elif kind == "document":
                parts.append(self._document(block, at))
            else:
                raise refuse(f"{at}.type", self.target, f"{kind!r} blocks are not supported")
        if not parts:
            return tools
        if len(parts) == 1 and parts[0]["type"] == "text":
            return tools + [{"role": "user", "content": parts[0]["text"]}]
        return tools + [{"role": "user", "content": parts}]

    def _image(self, source: Any, where: str) -> dict[str, Any]:
        source = source if isinstance(source, dict) else {}
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        elif source.get("type") == "url" and isinstance(source.get("url"), str):
            url = source["url"]
        else:
            raise refuse(f"{where}.source.type", self.target,
                         f"image sources must be base64 or url, got {source.get('type')!r}")
        return {"type": "image_url", "image_url": {"url": url}}

    def _document(self, block: dict[str, Any], where: str) -> dict[str, Any]:
        source = obj(block.get("source"))
        if source.get("type") == "text" and isinstance(source.get("data"), str):
            return {"type": "text", "text": source["data"]}
        if source.get("type") == "base64" and source.get("media_type") == "application/pdf":
            name = block.get("title") if isinstance(block.get("title"), str) else "document.pdf"
            data = f"data:application/pdf;base64,{source.get('data')}"
            return {"type": "file", "file": {"filename": name, "file_data": data}}
        raise refuse(f"{where}.source.type", self.target,
                     "documents must be a base64 PDF or plain text to be passed on")

    def _tool_message(self, block: dict[str, Any], where: str
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(the `tool` message, image parts that follow it in a user message)."""
        if not isinstance(block.get("tool_use_id"), str):
            raise BadRequest(f"'{where}.tool_use_id' must be a string")
        content = block.get("content")
        texts: list[str] = []
        images: list[dict[str, Any]] = []
        if isinstance(content, str):
            texts.append(content)
        elif content is not None:
            for at, part in self._blocks(content, where):
                if part.get("type") == "text":
                    texts.append(part.get("text") or "")
                elif part.get("type") == "image":
                    images.append(self._image(part.get("source"), at))
                elif part.get("type") == "document":
                    texts.append(self._document(part, at).get("text") or "")
                else:
                    raise refuse(f"{at}.type", self.target,
                                 f"tool results can hold text, images and documents, "
                                 f"got {part.get('type')!r}")
        text = "\n".join(texts)
        if images:
            text += f"\n[{len(images)} image(s) from this tool result follow in the next message]"
            images.insert(0, {"type": "text", "text": f"Images returned by tool call "
                                                      f"{block['tool_use_id']}:"})
        if block.get("is_error"):
            # OpenAI tool messages have no error flag; say it in the content the model reads.
            text = f"Error: {text}"
        return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": text}, images

    def _assistant(self, content: Any, where: str) -> dict[str, Any]:
        texts, calls = [], []
        for at, block in self._blocks(content, where):
            kind = block.get("type")
            if kind == "text":
                texts.append(block.get("text") or "")
            elif kind == "tool_use":
                calls.append(_tool_call(block, at))
            elif kind in ("thinking", "redacted_thinking"):
                continue  # signed reasoning of an earlier Anthropic turn; meaningless elsewhere
            else:
                raise refuse(f"{at}.type", self.target, f"{kind!r} blocks are not supported")
        message: dict[str, Any] = {"role": "assistant",
                                   "content": "\n".join(texts) if texts else None}
        if calls:
            message["tool_calls"] = calls
        elif message["content"] is None:
            message["content"] = ""
        return message

    def tool(self, tool: Any, where: str) -> dict[str, Any]:
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise refuse(f"{where}.type", self.target,
                         f"server tools like {kind!r} run only at Anthropic")
        if not isinstance(tool.get("name"), str):
            raise BadRequest(f"'{where}.name' must be a string")
        self._note(tool)
        if tool.get("defer_loading") is not None:
            self.dropped.add("tools.defer_loading")
        function: dict[str, Any] = {"name": tool["name"],
                                    "parameters": tool.get("input_schema") or {"type": "object"}}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        if isinstance(tool.get("strict"), bool):
            function["strict"] = tool["strict"]
        return {"type": "function", "function": function}


def _tool_call(block: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
        raise BadRequest(f"'{where}' needs an 'id' and a 'name'")
    arguments = json.dumps(block.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
    return {"id": block["id"], "type": "function",
            "function": {"name": block["name"], "arguments": arguments}}


def _tool_choice(choice: Any, out: dict[str, Any], target: str) -> None:
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
        raise refuse("tool_choice", target, f"{choice!r} cannot be expressed")
    if choice.get("disable_parallel_tool_use") and kind != "none":
        out["parallel_tool_calls"] = False
