"""Translation between the client's API and the provider's: the request of an attempt, and the
answer as a response filter (whole JSON or stream events, translated as they come).

Routes that need it:
- Chat Completions → an Anthropic model: `to_anthropic`; answers by `ToOpenAI`.
- Messages → an OpenAI-format model (OpenAI, Ollama, any OpenAI-compatible server): `to_openai`;
  answers by `ToAnthropic`.
- Responses → an Anthropic model: Responses → Chat Completions (`to_chat`) → `to_anthropic`;
  answers Anthropic → chat chunks → Responses events (`ToResponses` around `ToOpenAI`'s stream).
- Responses → an Ollama model: Responses → Chat Completions; answers chat → Responses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from gateway.call import ApiFormat, Attempt, Call, Endpoint, ResponseFilter, SSEEvent, Usage
from gateway.errors import BadRequest
from gateway.providers import upstream_path
from plugins.routing._chat_to_responses import ChatToResponsesStream, completion_to_response
from plugins.routing._request_to_anthropic import to_anthropic
from plugins.routing._request_to_openai import target_name, to_openai
from plugins.routing._responses_to_chat import to_chat, tool_map
from plugins.routing._stream_to_anthropic import OpenAIToAnthropicStream
from plugins.routing._stream_to_openai import AnthropicToOpenAIStream
from plugins.routing._translate_response import completion_to_message, message_to_completion
from plugins.routing._wire import usage_from_anthropic, usage_from_openai


def _keepalive() -> SSEEvent:
    """An SSE comment, sent for a provider event that has no counterpart in the client's format
    (pings, block stops, thinking). Clients ignore it; it keeps an idle stream visibly alive, and
    the stream layer must never get an empty answer for a chunk: mitmproxy sends that as the
    zero-length chunk that ends a chunked HTTP/1.1 body."""
    return SSEEvent("", raw=b":\n\n")


def needs_translation(call: Call, attempt: Attempt) -> bool:
    provider = attempt.provider
    if call.endpoint is Endpoint.RESPONSES and provider.kind == "ollama":
        return True  # Ollama's own /v1/responses is partial and recent; Chat is its mainstay
    return not provider.speaks(call.api_format)


def prepare(call: Call, attempt: Attempt, max_output: int | None = None) -> None:
    """Rewrite `attempt` (a same-format copy of the client's body) into the provider's format."""
    provider = attempt.provider
    model = attempt.route.upstream_model
    dropped = attempt.dropped_params
    dropped.clear()
    if call.api_format is ApiFormat.OLLAMA:
        raise BadRequest(f"{call.endpoint.value} is the Ollama native API, served by Ollama "
                         f"providers only, not by {attempt.route.model!r}; use "
                         f"/v1/chat/completions for that model")
    body = attempt.body
    if call.endpoint is Endpoint.RESPONSES:
        target = "Anthropic" if provider.wire_format is ApiFormat.ANTHROPIC else \
            target_name(provider.kind)
        body = to_chat(body, target, dropped)
    elif provider.wire_format is not ApiFormat.ANTHROPIC and call.endpoint is not Endpoint.MESSAGES:
        raise BadRequest(f"{call.endpoint.value} cannot be served by {attempt.route.model!r}: "
                         f"the {target_name(provider.kind)} API has no token-counting endpoint")
    if provider.wire_format is ApiFormat.ANTHROPIC:
        if call.endpoint not in (Endpoint.CHAT, Endpoint.RESPONSES):
            raise BadRequest(f"{call.endpoint.value} cannot be served by {attempt.route.model!r}: "
                             f"the Anthropic API has no equivalent; use /v1/chat/completions")
        attempt.body = to_anthropic(body, model, dropped)
        attempt.path = upstream_path(provider, Endpoint.MESSAGES)
    elif call.endpoint is Endpoint.RESPONSES:
        if body.pop("reasoning_effort", None) is not None:
            dropped.append("reasoning.effort")  # Ollama refuses it for models that do not think
        body["model"] = model
        attempt.body = body
        attempt.path = upstream_path(provider, Endpoint.CHAT)
    else:
        attempt.body = to_openai(body, model, provider.kind, dropped, max_output)
        attempt.path = upstream_path(provider, Endpoint.CHAT)
    attempt.wire_format = provider.wire_format


def response_filter(call: Call, attempt: Attempt) -> ResponseFilter:
    if call.endpoint is Endpoint.RESPONSES:
        anthropic = attempt.provider.wire_format is ApiFormat.ANTHROPIC
        return ToResponses(call, ToOpenAI(call, include_usage=True) if anthropic else None)
    if call.api_format is ApiFormat.OPENAI:
        return ToOpenAI(call)
    return ToAnthropic(call)


class ToOpenAI(ResponseFilter):
    """Anthropic answers for an OpenAI client."""

    def __init__(self, call: Call, include_usage: bool | None = None) -> None:
        self.call = call
        if include_usage is None:
            options = call.body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.stream = AnthropicToOpenAIStream(include_usage=include_usage)

    def on_json(self, body: Any) -> Any:
        if not isinstance(body, dict) or body.get("type") != "message":
            return body
        _record(self.call, usage_from_anthropic(body.get("usage")))
        return message_to_completion(body)

    def on_event(self, event: SSEEvent) -> Iterable[SSEEvent]:
        out = self.stream.feed(event.json)
        if self.stream.done:
            _record(self.call, self.stream.usage)
        return out or (_keepalive(),)

    def on_end(self, complete: bool) -> Iterable[SSEEvent]:
        return self.stream.end(complete)


class ToAnthropic(ResponseFilter):
    """OpenAI (or Ollama) answers for an Anthropic client."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.stream = OpenAIToAnthropicStream()

    def on_json(self, body: Any) -> Any:
        if not isinstance(body, dict) or "choices" not in body:
            return body
        _record(self.call, usage_from_openai(body.get("usage")), bool(body.get("usage")))
        return completion_to_message(body)

    def on_event(self, event: SSEEvent) -> Iterable[SSEEvent]:
        out = self.stream.feed(event)
        if self.stream.done:
            _record(self.call, self.stream.usage, self.stream.usage_seen)
        return out or (_keepalive(),)

    def on_end(self, complete: bool) -> Iterable[SSEEvent]:
        out = self.stream.end(complete)
        if self.stream.done:
            _record(self.call, self.stream.usage, self.stream.usage_seen)
        return out


class ToResponses(ResponseFilter):
    """Chat Completions answers for a Responses client; with `inner`, the provider's answers are
    first turned into Chat Completions by it (an Anthropic model)."""

    def __init__(self, call: Call, inner: ResponseFilter | None = None) -> None:
        self.call = call
        self.inner = inner
        self.tools = tool_map(call.body)
        self.stream = ChatToResponsesStream(call.body, self.tools)

    def on_json(self, body: Any) -> Any:
        if self.inner is not None:
            body = self.inner.on_json(body)
        if not isinstance(body, dict) or "choices" not in body:
            return body
        if self.inner is None:
            _record(self.call, usage_from_openai(body.get("usage")), bool(body.get("usage")))
        return completion_to_response(body, self.call.body, self.tools)

    def on_event(self, event: SSEEvent) -> Iterable[SSEEvent]:
        chunks = self.inner.on_event(event) if self.inner is not None else (event,)
        out = self._feed(chunks)
        return out or (_keepalive(),)

    def on_end(self, complete: bool) -> Iterable[SSEEvent]:
        chunks = list(self.inner.on_end(complete)) if self.inner is not None else []
        return self._feed(chunks) + self.stream.end(complete)

    def _feed(self, chunks: Iterable[SSEEvent]) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        for chunk in chunks:
            if chunk.data:  # keep-alive comments of the inner filter carry no data
                out.extend(self.stream.feed(chunk))
        if self.stream.done and self.inner is None:
            _record(self.call, self.stream.usage, self.stream.usage_seen)
        return out


def _record(call: Call, usage: Usage, reported: bool = True) -> None:
    """The exact provider usage, before metering reads the translated answer: a stream without
    `include_usage` carries no usage in the client's format at all. A provider that reported
    none leaves the usage unknown (metering estimates it and marks it estimated)."""
    if not reported:
        call.provider_usage_missing = True
        return
    call.provider_usage = usage
    call.usage = replace(usage)
