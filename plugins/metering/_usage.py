"""Reading token usage out of answers in the client's format (after any translation)."""

from __future__ import annotations

from typing import Any, Iterable

from gateway.call import ApiFormat, Call, ResponseFilter, SSEEvent, Usage


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_openai(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or raw.get("input_tokens_details") or {}
    inp = _int(raw.get("prompt_tokens", raw.get("input_tokens")))
    out = _int(raw.get("completion_tokens", raw.get("output_tokens")))
    return Usage(input_tokens=inp, output_tokens=out,
                 cached_input_tokens=_int(details.get("cached_tokens")) if isinstance(details, dict) else 0)


def usage_from_anthropic(raw: Any, into: Usage | None = None) -> Usage | None:
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


class UsageReader(ResponseFilter):
    def __init__(self, call: Call) -> None:
        self.call = call
        self.anthropic = call.api_format is ApiFormat.ANTHROPIC

    def on_json(self, body: Any) -> Any:
        if isinstance(body, dict):
            usage = (usage_from_anthropic(body.get("usage")) if self.anthropic
                     else usage_from_openai(body.get("usage")))
            if usage is not None:
                self.call.usage = usage
        return body

    def on_event(self, event: SSEEvent) -> Iterable[SSEEvent]:
        data = event.json
        if isinstance(data, dict):
            if self.anthropic:
                if data.get("type") == "message_start":
                    usage_from_anthropic((data.get("message") or {}).get("usage"), self.call.usage)
                elif data.get("type") == "message_delta":
                    usage_from_anthropic(data.get("usage"), self.call.usage)
            elif data.get("usage"):
                usage = usage_from_openai(data["usage"])
                if usage is not None:
                    self.call.usage = usage
            elif isinstance(data.get("response"), dict) and data["response"].get("usage"):
                usage = usage_from_openai(data["response"]["usage"])
                if usage is not None:
                    self.call.usage = usage
        return (event,)
