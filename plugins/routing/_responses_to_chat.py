"""An OpenAI Responses request body → a Chat Completions request body: the pivot through which
`/v1/responses` reaches Anthropic models (then `to_anthropic`) and Ollama models.

Input items become messages (consecutive `function_call` items share one assistant message),
function tools stay function tools, a `namespace` tool's members become functions named
`<namespace>__<name>`, a freeform `custom` tool becomes a function with one string argument
`input`. Built-in tools the target lacks (web search, file search, …) are dropped and reported
when only offered, and refused with a 400 naming them when `tool_choice` requires them.
Reasoning items of earlier turns carry encrypted reasoning that only OpenAI can read: left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import BadRequest
from plugins.routing._wire import obj, refuse

NAMESPACE_SEP = "__"
# Bookkeeping that changes no answer: dropped silently (the gateway never stores at the provider
# on these routes; caching and metadata are the provider's business).
_IGNORED = frozenset({"model", "stream", "store", "include", "prompt_cache_key",
                      "prompt_cache_retention", "client_metadata", "metadata", "user",
                      "safety_identifier", "service_tier", "stream_options", "truncation",
                      "generate"})
_HANDLED = frozenset({"input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
                      "max_output_tokens", "temperature", "top_p", "reasoning", "text",
                      "previous_response_id", "background", "top_logprobs", "max_tool_calls"})
_SKIPPED_ITEMS = frozenset({"reasoning", "web_search_call", "file_search_call",
                            "image_generation_call", "tool_search_call", "tool_search_output",
                            "compaction", "additional_tools"})


@dataclass
class ToolMap:
    """How the client's tools were named for the model, to name its calls back."""

    custom: set[str] = field(default_factory=set)  # freeform tools, called with {"input": …}
    namespaced: dict[str, tuple[str, str]] = field(default_factory=dict)  # flat → (ns, name)

    def client_call(self, flat: str) -> tuple[str, str | None, bool]:
        """(name, namespace, is_custom) of the model's call of `flat`."""
        if flat in self.namespaced:
            namespace, name = self.namespaced[flat]
            return name, namespace, False
        return flat, None, flat in self.custom


def tool_map(body: dict[str, Any]) -> ToolMap:
    tools = ToolMap()
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "custom" and isinstance(tool.get("name"), str):
            tools.custom.add(tool["name"])
        elif tool.get("type") == "namespace" and isinstance(tool.get("name"), str):
            for member in tool.get("tools") or ():
                if isinstance(member, dict) and isinstance(member.get("name"), str):
                    flat = f"{tool['name']}{NAMESPACE_SEP}{member['name']}"
                    tools.namespaced[flat] = (tool["name"], member["name"])
    return tools


def to_chat(body: dict[str, Any], target: str, dropped: list[str]) -> dict[str, Any]:
    """The Chat Completions body for `body`; `target` names the API in errors."""
    _check(body, target, dropped)
    messages = _Items(target).convert(body.get("input"))
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.insert(0, {"role": "system", "content": instructions})
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p", "parallel_tool_calls"):
        if body.get(name) is not None:
            out[name] = body[name]
    tools, builtins = _tools(body.get("tools"), target)
    if tools:
        out["tools"] = tools
    dropped.extend(f"tools[{kind}]" for kind in builtins)
    _tool_choice(body.get("tool_choice"), out, builtins, target)
    _text(body.get("text"), out, dropped)
    effort = (body.get("reasoning") or {}).get("effort")
    if effort not in (None, "none"):
        out["reasoning_effort"] = effort
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _check(body: dict[str, Any], target: str, dropped: list[str]) -> None:
    for name, value in body.items():
        if value is None or name in _IGNORED or name in _HANDLED:
            continue
        raise refuse(name, target)
    if body.get("previous_response_id"):
        raise BadRequest(
            "'previous_response_id' cannot be used when the model is served by the "
            f"{target} API: the gateway keeps no copy of earlier responses on translated "
            "routes; send the whole conversation in 'input' (with 'store': false)")
    if body.get("background"):
        raise refuse("background", target, "background responses are kept by OpenAI only")
    if body.get("max_tool_calls") is not None:
        dropped.append("max_tool_calls")
    if body.get("top_logprobs"):
        raise refuse("top_logprobs", target)
    reasoning = body.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, dict):
        raise BadRequest("'reasoning' must be an object")
    if isinstance(reasoning, dict) and reasoning.get("summary"):
        dropped.append("reasoning.summary")


def _text(text: Any, out: dict[str, Any], dropped: list[str]) -> None:
    if text is None:
        return
    if not isinstance(text, dict):
        raise BadRequest("'text' must be an object")
    if text.get("verbosity") is not None:
        dropped.append("text.verbosity")
    fmt = text.get("format")
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return
    if fmt.get("type") == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif fmt.get("type") == "json_schema":
        schema = {"name": fmt.get("name") or "output", "schema": fmt.get("schema") or {}}
        if isinstance(fmt.get("strict"), bool):
            schema["strict"] = fmt["strict"]
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        raise BadRequest(f"'text.format.type' must be text, json_object or json_schema, "
                         f"got {fmt.get('type')!r}")


# --- tools -------------------------------------------------------------------------------------

def _tools(tools: Any, target: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(function tools for Chat Completions, kinds of the built-in tools left out)."""
    out: list[dict[str, Any]] = []
    builtins: list[str] = []
    for i, tool in enumerate(tools or ()):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            out.append(_function(tool, f"tools[{i}]", tool.get("name")))
        elif kind == "custom":
            out.append(_custom(tool, f"tools[{i}]"))
        elif kind == "namespace":
            for j, member in enumerate(tool.get("tools") or ()):
                if isinstance(member, dict) and member.get("type", "function") == "function":
                    flat = f"{tool.get('name')}{NAMESPACE_SEP}{member.get('name')}"
                    out.append(_function(member, f"tools[{i}].tools[{j}]", flat))
        elif isinstance(kind, str):
            builtins.append(kind)
        else:
            raise BadRequest(f"'tools[{i}].type' must be a string")
    return out, builtins


def _function(tool: dict[str, Any], where: str, name: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise BadRequest(f"'{where}.name' must be a string")
    function: dict[str, Any] = {"name": name,
                                "parameters": tool.get("parameters") or {"type": "object",
                                                                         "properties": {}}}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _custom(tool: dict[str, Any], where: str) -> dict[str, Any]:
    """A freeform tool (its input is raw text, e.g. a patch) as a one-argument function."""
    description = tool["description"] if isinstance(tool.get("description"), str) else ""
    fmt = obj(tool.get("format"))
    if isinstance(fmt.get("definition"), str):
        description += f"\n\nThe input follows this {fmt.get('syntax') or 'grammar'}:\n" \
                       f"{fmt['definition']}"
    schema = {"type": "object", "properties": {"input": {"type": "string"}},
              "required": ["input"], "additionalProperties": False}
    return _function({"description": description.strip(), "parameters": schema}, where,
                     tool.get("name"))


def _tool_choice(choice: Any, out: dict[str, Any], builtins: list[str], target: str) -> None:
    if choice is None:
        return
    if choice in ("auto", "none", "required"):
        out["tool_choice"] = choice
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in ("function", "custom") and isinstance(choice.get("name"), str):
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif kind in builtins or (isinstance(kind, str) and kind not in ("allowed_tools", "mcp")):
        raise refuse("tool_choice", target, f"the built-in tool {kind!r} exists only at OpenAI")
    else:
        raise refuse("tool_choice", target, f"{choice!r} cannot be expressed")


# --- input items -------------------------------------------------------------------------------

class _Items:
    def __init__(self, target: str) -> None:
        self.target = target
        self.out: list[dict[str, Any]] = []

    def convert(self, items: Any) -> list[dict[str, Any]]:
        if isinstance(items, str):
            return [{"role": "user", "content": items}]
        if items is None:
            raise BadRequest("missing required parameter 'input'")
        if not isinstance(items, list):
            raise BadRequest("'input' must be a string or an array of input items")
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise BadRequest(f"'input[{i}]' must be an object")
            self._item(item, f"input[{i}]")
        return self.out

    def _item(self, item: dict[str, Any], where: str) -> None:
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            self._message(item, where)
        elif kind in ("function_call", "custom_tool_call"):
            self._call(item, where, kind == "custom_tool_call")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self._output(item, where)
        elif kind in _SKIPPED_ITEMS:
            return
        elif kind == "item_reference":
            raise refuse(f"{where}.type", self.target, "item references need OpenAI's stored items")
        else:
            raise refuse(f"{where}.type", self.target, f"{kind!r} input items are not supported")

    def _message(self, item: dict[str, Any], where: str) -> None:
        role = item.get("role")
        if role == "developer":
            role = "system"
        if role not in ("user", "assistant", "system"):
            raise BadRequest(f"'{where}.role' must be user, assistant, system or developer, "
                             f"got {role!r}")
        content = _content(item.get("content"), where, self.target)
        if role == "assistant":
            text = "".join(p["text"] for p in content if p["type"] == "text")
            self.out.append({"role": "assistant", "content": text})
        elif role == "system":
            self.out.append({"role": "system",
                             "content": "\n\n".join(p["text"] for p in content
                                                    if p["type"] == "text")})
        elif len(content) == 1 and content[0]["type"] == "text":
            self.out.append({"role": "user", "content": content[0]["text"]})
        else:
            self.out.append({"role": "user", "content": content})

    def _call(self, item: dict[str, Any], where: str, custom: bool) -> None:
        name, call_id = item.get("name"), item.get("call_id")
        if not isinstance(name, str) or not isinstance(call_id, str):
            raise BadRequest(f"'{where}' needs a 'call_id' and a 'name'")
        if isinstance(item.get("namespace"), str):
            name = f"{item['namespace']}{NAMESPACE_SEP}{name}"
        if custom:
            arguments = json.dumps({"input": item.get("input") or ""}, ensure_ascii=False)
        else:
            arguments = item["arguments"] if isinstance(item.get("arguments"), str) else "{}"
        call = {"id": call_id, "type": "function",
                "function": {"name": name, "arguments": arguments or "{}"}}
        last = self.out[-1] if self.out else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
            last["content"] = last.get("content") or None
        else:
            self.out.append({"role": "assistant", "content": None, "tool_calls": [call]})

    def _output(self, item: dict[str, Any], where: str) -> None:
        if not isinstance(item.get("call_id"), str):
            raise BadRequest(f"'{where}.call_id' must be a string")
        output = item.get("output")
        if isinstance(output, list):
            output = "\n".join(p["text"] for p in _content(output, where, self.target)
                               if p["type"] == "text")
        elif not isinstance(output, str):
            output = "" if output is None else json.dumps(output, ensure_ascii=False)
        self.out.append({"role": "tool", "tool_call_id": item["call_id"], "content": output})


def _content(content: Any, where: str, target: str) -> list[dict[str, Any]]:
    """Responses content parts → Chat Completions content parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise BadRequest(f"'{where}.content' must be a string or an array of content parts")
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        at = f"{where}.content[{j}]"
        if kind in ("input_text", "output_text", "text", "refusal", "summary_text"):
            text = part.get("text") if kind != "refusal" else part.get("refusal")
            parts.append({"type": "text", "text": text if isinstance(text, str) else ""})
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str) or not url:
                raise refuse(f"{at}.file_id", target, "images must be given by URL or data URL")
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif kind == "input_file" and isinstance(part.get("file_data"), str):
            parts.append({"type": "file", "file": {"filename": part.get("filename") or "file",
                                                   "file_data": part["file_data"]}})
        else:
            raise refuse(f"{at}.type", target, f"{kind!r} content is not supported")
    return parts
