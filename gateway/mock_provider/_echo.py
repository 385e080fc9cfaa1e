"""The mock's one behaviour, shared by every API: echo the last user text (or tool result), or call
the first offered tool, with deterministic token counts that tests can predict:
input = max(1, characters of input text // 4), output = max(1, len(answer) // 4).

A user text holding `[[mock-tool NAME {"json": "arguments"}]]` makes the mock call the offered tool
NAME with those arguments instead (coding agents validate arguments against their own schemas, so
an end-to-end tool round trip needs real ones)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

CACHE_MARKER = b"CACHE_HIT"
_STRUCTURAL = frozenset({"role", "type", "id", "tool_call_id", "tool_use_id", "call_id", "cache_control"})
_WORD = re.compile(r"\S+\s*|\s+")
_DIRECTIVE = re.compile(r"\[\[mock-tool ([\w.:-]+) (\{.*?\})\]\]", re.S)


@dataclass(frozen=True, slots=True)
class Turn:
    """What an API module extracted from a request body."""

    text: str  # the last user text, or the tool result content when `is_tool_result`
    is_tool_result: bool
    tool_name: str | None  # first tool offered, only when the last message is the user's own
    limit: int | None  # max_tokens and its per-API spellings
    input_tokens: int
    tool_arguments: str | None = None  # JSON text from a `[[mock-tool …]]` directive


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass(frozen=True, slots=True)
class Reply:
    text: str  # empty when `tool` is set
    tool: ToolCall | None
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    truncated: bool


def plan(turn: Turn, raw_body: bytes, tool_id_prefix: str) -> Reply:
    cached = turn.input_tokens // 2 if CACHE_MARKER in raw_body else 0
    if turn.tool_name and not turn.is_tool_result:
        args = turn.tool_arguments or json.dumps({"echo": turn.text})
        tool = ToolCall(new_id(tool_id_prefix), turn.tool_name, args)
        return Reply("", tool, turn.input_tokens, cached, count_tokens(args), False)
    text = "echo: " + turn.text
    output = count_tokens(text)
    limit = turn.limit
    if limit is not None and 0 < limit < output:
        return Reply(text[: limit * 4], None, turn.input_tokens, cached, limit, True)
    return Reply(text, None, turn.input_tokens, cached, output, False)


def count_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def text_length(value: Any) -> int:
    """Characters in every string inside `value`, leaving out keys and the structural fields (roles,
    block types, ids) so the count depends on what was said, not on how the API frames it."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(text_length(v) for k, v in value.items() if k not in _STRUCTURAL)
    if isinstance(value, list):
        return sum(text_length(v) for v in value)
    return 0


def input_tokens(body: dict[str, Any], fields: tuple[str, ...]) -> int:
    return max(1, sum(text_length(body.get(name)) for name in fields) // 4)


def content_text(content: Any) -> str:
    """Text of a message content: a plain string, or the text of its blocks joined by newlines.
    Tool-result blocks count with their own nested content."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif "content" in block:
            parts.append(content_text(block["content"]))
        elif isinstance(block.get("output"), str):
            parts.append(block["output"])
    return "\n".join(parts)


def last_user_text(items: list[dict[str, Any]]) -> str:
    """Text of the newest item with role `user`: messages in Chat and Messages, input items in
    Responses."""
    for item in reversed(items):
        if item.get("role") == "user":
            return content_text(item.get("content"))
    return ""


def last_turn(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest message that is not a system or developer note (agents append those after the
    user's turn)."""
    for item in items[::-1]:
        if item.get("role") not in ("system", "developer"):
            return item
    return items[-1]


def positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def words(text: str) -> list[str]:
    """Stream pieces: one per word, trailing spaces kept, so joining them gives back `text`."""
    return _WORD.findall(text) or [text]


def fragments(text: str, pieces: int = 4) -> list[str]:
    """Tool arguments cut into a few pieces, as providers stream partial JSON."""
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def new_id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


def tool_names(tools: Any) -> list[str]:
    """Names of the offered tools in any API's shape (Chat's `function.name`, the others' `name`;
    a Responses `namespace` tool contributes its members)."""
    names: list[str] = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "namespace":
            names.extend(tool_names(tool.get("tools")))
            continue
        function = tool.get("function")
        name = function.get("name") if isinstance(function, dict) else tool.get("name")
        if isinstance(name, str):
            names.append(name)
    return names


def choose_tool(tools: Any, text: str) -> tuple[str | None, str | None]:
    """(tool to call, its JSON arguments or None): the directive's tool when it is offered, else
    the first offered tool."""
    names = tool_names(tools)
    for match in reversed(list(_DIRECTIVE.finditer(text))):
        if match.group(1) in names:
            return match.group(1), match.group(2)
    return (names[0] if names else None), None
