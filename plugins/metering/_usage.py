"""Reading token usage out of answers in the client's format (after any translation).

`Usage.input_tokens` is normalised to count every input token: Anthropic reports cache reads and
cache writes apart from `input_tokens`, so they are added back (OpenAI's `prompt_tokens` already
includes its cached tokens). When the provider's usage is missing or incomplete (a stream cut
short, a provider that omits it), the reader estimates from the text it saw and marks the usage
estimated; an estimate is never 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from gateway.call import ApiFormat, Call, ResponseFilter, SSEEvent, Usage

CHARS_PER_TOKEN = 4
# Set by the routing plugin when it translated the answer: the provider's exact usage in
# Anthropic's accounting (input without cache reads and writes).
MAX_KEPT_TEXT = 256 * 1024  # characters of answer text kept for the stored conversation
_STRUCTURAL = frozenset({"model", "role", "type", "id", "tool_call_id", "tool_use_id", "call_id",
                         "cache_control", "stream", "stream_options", "temperature", "top_p",
                         "max_tokens", "max_completion_tokens", "max_output_tokens", "metadata"})


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_openai(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or raw.get("input_tokens_details") or {}
    inp = _int(raw.get("prompt_tokens", raw.get("input_tokens")))
    out = _int(raw.get("completion_tokens", raw.get("output_tokens")))
    details = details if isinstance(details, dict) else {}
    # cache_write_tokens: how a translating gateway (and the Responses API) report cache writes.
    return Usage(input_tokens=inp, output_tokens=out,
                 cached_input_tokens=_int(details.get("cached_tokens")),
                 cache_write_tokens=_int(details.get("cache_write_tokens")))


def usage_from_anthropic(raw: Any, into: Usage | None = None) -> Usage | None:
    """Anthropic's figures as reported (input_tokens without cache reads and writes); streamed
    events update the same object field by field."""
    if not isinstance(raw, dict):
        return into
    usage = into or Usage()
    if "input_tokens" in raw:
        usage.input_tokens = _int(raw.get("input_tokens"))
    if "output_tokens" in raw:
        usage.output_tokens = _int(raw.get("output_tokens"))
    if "cache_read_input_tokens" in raw:
        usage.cached_input_tokens = _int(raw.get("cache_read_input_tokens"))
    if "cache_creation_input_tokens" in raw:
        usage.cache_write_tokens = _int(raw.get("cache_creation_input_tokens"))
    return usage


def usage_from_ollama(raw: Any) -> Usage | None:
    """Ollama's native API: counts on the final (`done`) object."""
    if not isinstance(raw, dict) or not ("prompt_eval_count" in raw or "eval_count" in raw):
        return None
    return Usage(input_tokens=_int(raw.get("prompt_eval_count")),
                 output_tokens=_int(raw.get("eval_count")))


def normalised(usage: Usage, anthropic: bool) -> Usage:
    if not anthropic:
        return usage
    total = usage.input_tokens + usage.cached_input_tokens + usage.cache_write_tokens
    return Usage(total, usage.output_tokens, usage.cached_input_tokens, usage.cache_write_tokens,
                 usage.estimated)


def text_length(value: Any) -> int:
    """Characters of what was said in a request body, leaving out keys and structural fields."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(text_length(v) for k, v in value.items() if k not in _STRUCTURAL)
    if isinstance(value, list):
        return sum(text_length(v) for v in value)
    return 0


def estimate_tokens(chars: int) -> int:
    return max(1, chars // CHARS_PER_TOKEN)


class UsageReader(ResponseFilter):
    """Per call: the provider's usage, the amount of answer text seen (for estimates) and, when
    the conversation is stored, the answer text itself."""

    def __init__(self, call: Call, strip_usage_chunk: bool = False, keep_text: bool = False) -> None:
        self.call = call
        self.anthropic = call.api_format is ApiFormat.ANTHROPIC
        self.ollama = call.api_format is ApiFormat.OLLAMA
        self.strip_usage_chunk = strip_usage_chunk
        self.modifies = strip_usage_chunk  # else it only reads: the answer is not serialised again
        # A whole answer's usage (or, without one, its text's length for the estimate) is read as
        # the provider wrote it, before DLP puts values back; a kept answer is the client's.
        self.reads_provider_answer = not keep_text
        self.raw: Usage | None = None
        self.final = False  # the provider's closing usage arrived
        self.chars = 0
        self.parts: list[str] | None = [] if keep_text else None
        self.answer_json: Any = None

    # -- the filter ---------------------------------------------------------------------------

    def on_json(self, body: Any) -> Any:
        if isinstance(body, dict):
            raw = body.get("usage")
            usage = (usage_from_ollama(body) if self.ollama else usage_from_anthropic(raw)
                     if self.anthropic else usage_from_openai(raw))
            if usage is not None and not self.call.provider_usage_missing:
                self.raw, self.final = usage, True
                self.call.usage = normalised(usage, self.anthropic)
            else:  # no usage in the answer: measure its text for the estimate
                self.chars = text_length([body.get(k) for k in ("choices", "content", "output",
                                                                 "message", "response")])
            if self.parts is not None:
                self.answer_json = body
        return body

    def on_event(self, event: SSEEvent) -> Iterable[SSEEvent]:
        data = event.json
        if not isinstance(data, dict):
            return (event,)
        if self.anthropic:
            self._anthropic_event(data)
            return (event,)
        if self.ollama:
            self._ollama_line(data)
            return (event,)
        if data.get("usage"):
            self.raw, self.final = usage_from_openai(data["usage"]), True
            if self.strip_usage_chunk and not data.get("choices"):
                return ()  # the chunk we asked for on the client's behalf
        elif isinstance(data.get("response"), dict) and data["response"].get("usage"):
            self.raw, self.final = usage_from_openai(data["response"]["usage"]), True
        self._openai_text(data)
        return (event,)

    def on_end(self, complete: bool) -> Iterable[SSEEvent]:
        return ()

    # -- text seen ----------------------------------------------------------------------------

    def _seen(self, text: Any) -> None:
        if isinstance(text, str) and text:
            self.chars += len(text)
            if self.parts is not None and self.chars <= MAX_KEPT_TEXT:
                self.parts.append(text)

    def _anthropic_event(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind == "message_start":
            self.raw = usage_from_anthropic((data.get("message") or {}).get("usage"), self.raw)
        elif kind == "message_delta":
            self.raw = usage_from_anthropic(data.get("usage"), self.raw)
            self.final = self.raw is not None
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            self._seen(delta.get("text") or delta.get("partial_json") or delta.get("thinking"))

    def _ollama_line(self, data: dict[str, Any]) -> None:
        message = data.get("message")
        self._seen(message.get("content") if isinstance(message, dict) else data.get("response"))
        if data.get("done"):
            self.raw, self.final = usage_from_ollama(data), True

    def _openai_text(self, data: dict[str, Any]) -> None:
        for choice in data.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue
            self._seen(delta.get("content"))
            for tool in delta.get("tool_calls") or ():
                if isinstance(tool, dict):
                    self._seen((tool.get("function") or {}).get("arguments"))
        if isinstance(data.get("delta"), str):  # Responses API text and argument deltas
            self._seen(data["delta"])

    # -- results ------------------------------------------------------------------------------

    def result(self) -> Usage:
        """The call's usage: the provider's when it arrived whole, else an estimate (marked)."""
        if self.call.provider_usage_missing:  # the zeros in the translated answer mean "unknown"
            self.raw = None
        elif self.raw is not None and self.final:
            return normalised(self.raw, self.anthropic)
        upstream = self.call.provider_usage
        if upstream is not None:  # a translating plugin saw the provider's own figures
            return normalised(upstream, anthropic=True)
        out_estimate = estimate_tokens(self.chars)
        if self.raw is not None:  # partial: Anthropic's message_start gave the real input
            usage = normalised(self.raw, self.anthropic)
            usage.output_tokens = max(usage.output_tokens, out_estimate)
            usage.input_tokens = usage.input_tokens or estimate_tokens(text_length(self.call.body))
        else:
            usage = Usage(estimate_tokens(text_length(self.call.body)), out_estimate)
        usage.estimated = True
        return usage

    def answer_text(self) -> str | None:
        if self.parts is None:
            return None
        if self.answer_json is not None:
            return whole_answer_text(self.answer_json)[:MAX_KEPT_TEXT]
        return "".join(self.parts)


def whole_answer_text(body: dict[str, Any]) -> str:
    """The text (and tool-call arguments) of a whole answer in any of the three shapes."""
    parts: list[Any] = []
    for choice in body.get("choices") or ():  # Chat Completions
        message = choice.get("message") or {} if isinstance(choice, dict) else {}
        parts.append(message.get("content"))
        parts += [(t.get("function") or {}).get("arguments") for t in message.get("tool_calls") or ()]
    for block in body.get("content") or ():  # Messages
        if isinstance(block, dict):
            parts.append(block.get("text") if "text" in block else json.dumps(block.get("input")))
    for item in body.get("output") or ():  # Responses
        if isinstance(item, dict):
            parts += [c.get("text") for c in item.get("content") or () if isinstance(c, dict)]
            parts.append(item.get("arguments"))
    return "".join(p for p in parts if isinstance(p, str))
