"""Translation between the client's API and the provider's: the request of an attempt, and the
answer as a response filter (whole JSON or stream events, translated as they come)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from gateway.call import ApiFormat, Attempt, Call, Endpoint, ResponseFilter, SSEEvent
from gateway.errors import BadRequest
from gateway.providers import upstream_path
from plugins.routing._request_to_anthropic import to_anthropic
from plugins.routing._request_to_openai import to_openai
from plugins.routing._stream_to_anthropic import OpenAIToAnthropicStream
from plugins.routing._stream_to_openai import AnthropicToOpenAIStream
from plugins.routing._translate_response import completion_to_message, message_to_completion
from plugins.routing._wire import usage_from_anthropic, usage_from_openai

# The provider's own usage (Anthropic accounting), for metering: OpenAI's usage shape has no
# exact place for every Anthropic count.
UPSTREAM_USAGE = "routing.upstream_usage"


def _keepalive() -> SSEEvent:
    """An SSE comment, sent for a provider event that has no counterpart in the client's format
    (pings, block stops, thinking). Clients ignore it; it keeps an idle stream visibly alive, and
    the stream layer must never get an empty answer for a chunk: mitmproxy sends that as the
    zero-length chunk that ends a chunked HTTP/1.1 body."""
    return SSEEvent("", raw=b":\n\n")


def needs_translation(call: Call, attempt: Attempt) -> bool:
    return not attempt.provider.speaks(call.api_format)


def prepare(call: Call, attempt: Attempt) -> None:
    """Rewrite `attempt` (a same-format copy of the client's body) into the provider's format."""
    provider = attempt.provider
    model = attempt.route.upstream_model
    if call.api_format is ApiFormat.OLLAMA:
        raise BadRequest(f"{call.endpoint.value} is the Ollama native API, served by Ollama "
                         f"providers only, not by {attempt.route.model!r}; use "
                         f"/v1/chat/completions for that model")
    if provider.wire_format is ApiFormat.ANTHROPIC:
        if call.endpoint is not Endpoint.CHAT:
            raise BadRequest(f"{call.endpoint.value} cannot be served by {attempt.route.model!r}: "
                             f"the Anthropic API has no equivalent; use /v1/chat/completions")
        attempt.body = to_anthropic(attempt.body, model)
        attempt.path = upstream_path(provider, Endpoint.MESSAGES)
    else:
        if call.endpoint is not Endpoint.MESSAGES:
            raise BadRequest(f"{call.endpoint.value} cannot be served by {attempt.route.model!r}: "
                             f"the OpenAI API has no token-counting endpoint")
        attempt.body = to_openai(attempt.body, model, provider.kind)
        attempt.path = upstream_path(provider, Endpoint.CHAT)
    attempt.wire_format = provider.wire_format


def response_filter(call: Call) -> ResponseFilter:
    if call.api_format is ApiFormat.OPENAI:
        return ToOpenAI(call)
    return ToAnthropic(call)


class ToOpenAI(ResponseFilter):
    """Anthropic answers for an OpenAI client."""

    def __init__(self, call: Call) -> None:
        self.call = call
        options = call.body.get("stream_options")
        include = isinstance(options, dict) and options.get("include_usage") is True
        self.stream = AnthropicToOpenAIStream(include_usage=include)

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
        _record(self.call, usage_from_openai(body.get("usage")))
        return completion_to_message(body)

    def on_event(self, event: SSEEvent) -> Iterable[SSEEvent]:
        out = self.stream.feed(event)
        if self.stream.done:
            _record(self.call, self.stream.usage)
        return out or (_keepalive(),)

    def on_end(self, complete: bool) -> Iterable[SSEEvent]:
        out = self.stream.end(complete)
        if self.stream.done:
            _record(self.call, self.stream.usage)
        return out


def _record(call: Call, usage) -> None:
    """The exact provider usage, before metering reads the translated answer: a stream without
    `include_usage` carries no usage in the client's format at all."""
    call.scratch[UPSTREAM_USAGE] = usage
    call.usage = replace(usage)
