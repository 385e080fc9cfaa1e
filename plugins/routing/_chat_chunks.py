"""Reading an OpenAI `chat.completion.chunk` stream, for the translators that turn one into
another API's events (`_stream_to_anthropic`, `_chat_to_responses`): `[DONE]`, in-stream errors,
the usage chunk and the deltas of choice 0, in one place."""

from __future__ import annotations

from typing import Any

from gateway.call import SSEEvent, Usage
from plugins.routing._wire import usage_from_openai


class ChatChunkStream:
    """Feed chunk events, get the target API's events. Subclasses say what the first chunk, a
    choice's delta, an error and the end become."""

    def __init__(self) -> None:
        self.started = False
        self.done = False
        self.usage = Usage()
        self.usage_seen = False  # some OpenAI-compatible servers never report usage
        self.raw_usage: dict[str, Any] = {}

    def feed(self, event: SSEEvent) -> list[SSEEvent]:
        if self.done:
            return []
        if event.data.strip() == "[DONE]":
            return self._close()
        data = event.json
        if not isinstance(data, dict):
            return []
        out = [] if self.started else self._start(data)
        if data.get("error"):
            self.done = True
            return self._fail(data, out)
        if data.get("usage"):
            self.usage, self.usage_seen = usage_from_openai(data["usage"]), True
            self.raw_usage = data["usage"] if isinstance(data["usage"], dict) else {}
        for choice in data.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out.extend(self._choice(choice))
        return out

    def end(self, complete: bool) -> list[SSEEvent]:
        # Some OpenAI-compatible servers end the stream without [DONE]; a stream cut short gets
        # the core's own error event instead.
        return self._close() if complete and self.started else []

    def _start(self, chunk: dict[str, Any]) -> list[SSEEvent]:
        raise NotImplementedError

    def _choice(self, choice: dict[str, Any]) -> list[SSEEvent]:
        raise NotImplementedError

    def _fail(self, chunk: dict[str, Any], started: list[SSEEvent]) -> list[SSEEvent]:
        raise NotImplementedError

    def _close(self) -> list[SSEEvent]:
        raise NotImplementedError
