"""Where a request's texts are: every string the provider would read, per client format.

System prompts, message contents (string and content-block forms), tool definitions' descriptions,
tool results, tool-call arguments, the Responses API's instructions and input, embeddings input.
Tool-call arguments are JSON text: they are parsed and their strings redacted one by one (so a
value with newlines, such as a PEM block, is found whole), then written back as JSON.

Adjacent text parts of one content list (`text`, `input_text`, `output_text` blocks) are one text
to the model, so they are scanned as one (a `Run`): a value split across two parts is still found.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gateway.call import Endpoint


class JsonBox:
    """A JSON-text field (tool-call arguments) opened for redaction."""

    __slots__ = ("holder", "key", "value", "changed")

    def __init__(self, holder: Any, key: Any, value: Any) -> None:
        self.holder, self.key, self.value, self.changed = holder, key, {"v": value}, False

    def write_back(self) -> None:
        if self.changed:
            self.holder[self.key] = json.dumps(self.value["v"], ensure_ascii=False)


TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


class Run:
    """Two or more adjacent text blocks of one content list, scanned as their concatenation."""

    __slots__ = ("container", "blocks")

    def __init__(self, container: list[Any], blocks: list[dict[str, Any]]) -> None:
        self.container, self.blocks = container, blocks

    def texts(self) -> list[str]:
        return [block["text"] for block in self.blocks]

    def write(self, texts: list[str]) -> list[dict[str, Any]]:
        """Store the redacted texts; the blocks a value's tail used up entirely (now empty,
        which Anthropic refuses) are returned for `drop`."""
        emptied = []
        for block, old, new in zip(self.blocks, self.texts(), texts):
            if new is not old:
                block["text"] = new
                if old and not new:
                    emptied.append(block)
        return emptied

    def drop(self, emptied: list[dict[str, Any]]) -> None:
        """Remove emptied blocks; their other fields (a `cache_control` breakpoint) move to the
        block before them, which holds the placeholder of the value they ended."""
        gone = {id(block) for block in emptied}
        kept: dict[str, Any] | None = None
        for block in self.blocks:
            if id(block) not in gone:
                kept = block
            elif kept is not None:
                for k, v in block.items():
                    if k not in ("type", "text"):
                        kept.setdefault(k, v)
        self.container[:] = [b for b in self.container if id(b) not in gone]


Item = tuple[Any, Any, JsonBox | None] | Run


class Slots:
    """The texts to scan: (holder, key, box) for a string value, or a `Run` of text blocks."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.boxes: list[JsonBox] = []

    def texts(self) -> list[str]:
        out: list[str] = []
        for item in self.items:
            if isinstance(item, Run):
                out.extend(item.texts())
            else:
                out.append(item[0][item[1]])
        return out

    def text(self, holder: Any, key: Any, box: JsonBox | None = None) -> None:
        value = holder.get(key) if isinstance(holder, dict) else holder[key]
        if isinstance(value, str) and value:
            self.items.append((holder, key, box))

    def strings(self, holder: Any, key: Any, box: JsonBox | None = None) -> None:
        """Every string value under holder[key], at any depth (object keys are left alone)."""
        value = holder[key]
        if isinstance(value, str):
            self.text(holder, key, box)
        elif isinstance(value, dict):
            for k in value:
                self.strings(value, k, box)
        elif isinstance(value, list):
            for i in range(len(value)):
                self.strings(value, i, box)

    def json_text(self, holder: Any, key: Any) -> None:
        raw = holder.get(key) if isinstance(holder, dict) else None
        if not isinstance(raw, str):
            return
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, (dict, list)):
            self.text(holder, key)  # not JSON after all: scan it as text
            return
        box = JsonBox(holder, key, parsed)
        self.boxes.append(box)
        self.strings(box.value, "v", box)

    def content(self, holder: Any, key: Any) -> None:
        """A message content: a string, or a list of blocks (text, tool results, tool uses)."""
        value = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(value, str):
            self.text(holder, key)
        elif isinstance(value, list):
            run: list[dict[str, Any]] = []
            for i, block in enumerate(value):
                if _is_text_part(block):
                    run.append(block)
                    continue
                self._run(value, run)
                run = []
                if isinstance(block, dict):
                    self._block(block)
                elif isinstance(block, str):
                    self.text(value, i)
            self._run(value, run)

    def _run(self, container: list[Any], blocks: list[dict[str, Any]]) -> None:
        if len(blocks) == 1:
            self._block(blocks[0])
        elif blocks:
            self.items.append(Run(container, blocks))

    def _block(self, block: dict[str, Any]) -> None:
        kind = block.get("type")
        if isinstance(block.get("text"), str):
            self.text(block, "text")
        if "content" in block:  # Anthropic tool_result
            self.content(block, "content")
        if kind == "tool_use" and "input" in block:
            self.strings(block, "input")
        if kind == "document" and isinstance(block.get("source"), dict):
            source = block["source"]
            if source.get("type") == "text":
                self.text(source, "data")
        if isinstance(block.get("output"), str):
            self.text(block, "output")

    def tools(self, tools: Any) -> None:
        for tool in tools if isinstance(tools, list) else ():
            if not isinstance(tool, dict):
                continue
            spec: dict[str, Any] = (tool["function"] if isinstance(tool.get("function"), dict)
                                    else tool)
            if "description" in spec:
                self.text(spec, "description")
            for schema_key in ("parameters", "input_schema"):
                self._descriptions(spec.get(schema_key))

    def _descriptions(self, schema: Any) -> None:
        """`description` strings anywhere in a JSON schema (property names are structure)."""
        if isinstance(schema, dict):
            for k, v in schema.items():
                if k == "description" and isinstance(v, str):
                    self.text(schema, k)
                else:
                    self._descriptions(v)
        elif isinstance(schema, list):
            for v in schema:
                self._descriptions(v)


def _is_text_part(block: Any) -> bool:
    return (isinstance(block, dict) and block.get("type") in TEXT_PARTS
            and isinstance(block.get("text"), str))


def _chat(slots: Slots, body: dict[str, Any]) -> None:
    for msg in body.get("messages") or ():
        if not isinstance(msg, dict):
            continue
        slots.content(msg, "content")
        for call in msg.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                slots.json_text(call["function"], "arguments")
        if isinstance(msg.get("function_call"), dict):
            slots.json_text(msg["function_call"], "arguments")
    slots.tools(body.get("tools"))
    slots.tools(body.get("functions"))


def _responses(slots: Slots, body: dict[str, Any]) -> None:
    if "instructions" in body:
        slots.text(body, "instructions")
    items = body.get("input")
    if isinstance(items, str):
        slots.text(body, "input")
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        slots.content(item, "content")
        if item.get("type") in ("function_call", "custom_tool_call"):
            slots.json_text(item, "arguments")
            if "input" in item:
                slots.text(item, "input")
        if "output" in item:
            slots.content(item, "output")
    slots.tools(body.get("tools"))


def _embeddings(slots: Slots, body: dict[str, Any]) -> None:
    value = body.get("input")
    if isinstance(value, str):
        slots.text(body, "input")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                slots.text(value, i)


def _messages(slots: Slots, body: dict[str, Any]) -> None:
    slots.content(body, "system")
    for msg in body.get("messages") or ():
        if isinstance(msg, dict):
            slots.content(msg, "content")
    slots.tools(body.get("tools"))


def _ollama_chat(slots: Slots, body: dict[str, Any]) -> None:
    for msg in body.get("messages") or ():
        if isinstance(msg, dict):
            slots.content(msg, "content")
            for call in msg.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), dict):
                    slots.strings(function, "arguments")  # Ollama sends arguments as objects
    slots.tools(body.get("tools"))


def _ollama_generate(slots: Slots, body: dict[str, Any]) -> None:
    for key in ("prompt", "system"):
        if isinstance(body.get(key), str):
            slots.text(body, key)


COLLECTORS: dict[Endpoint, Callable[[Slots, dict[str, Any]], None]] = {
    Endpoint.OLLAMA_CHAT: _ollama_chat,
    Endpoint.OLLAMA_GENERATE: _ollama_generate,
    Endpoint.OLLAMA_EMBED: _embeddings,
    Endpoint.CHAT: _chat,
    Endpoint.RESPONSES: _responses,
    Endpoint.EMBEDDINGS: _embeddings,
    Endpoint.MESSAGES: _messages,
    Endpoint.COUNT_TOKENS: _messages,
}


def collect(endpoint: Endpoint, body: dict[str, Any]) -> Slots:
    slots = Slots()
    COLLECTORS[endpoint](slots, body)
    return slots


def redact_slots(slots: Slots, reserve: Callable[[str], None], redact: Callable[[str], str],
                 check_time: Callable[[], None],
                 redact_parts: Callable[[list[str]], list[str]] | None = None) -> None:
    """Reserve the client's own placeholder-like tokens everywhere first, then redact.
    `redact_parts` redacts a run of texts as one (without it, each part alone)."""
    for text in slots.texts():
        reserve(text)
    emptied: list[tuple[Run, list[dict[str, Any]]]] = []
    for item in slots.items:
        if isinstance(item, Run):
            old_parts = item.texts()
            parts = (redact_parts(old_parts) if redact_parts is not None
                     else [redact(t) for t in old_parts])
            gone = item.write(parts)
            if gone:
                emptied.append((item, gone))
        else:
            holder, key, box = item
            old = holder[key]
            new = redact(old)
            if new is not old:
                holder[key] = new
                if box is not None:
                    box.changed = True
        check_time()
    for box in slots.boxes:
        box.write_back()
    for run, gone in emptied:  # last: a removal shifts the indices of list-held strings
        run.drop(gone)
