"""What the middleware works out once per request and hands to the API handlers."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.mock_provider._sse import EventStream
from gateway.mock_provider._state import MockState
from gateway.mock_provider._switches import Switches

STATE = web.AppKey("mock_state", MockState)
# aiohttp runs each request in its own task, so a context variable is per request, and needs no
# request-storage key type (which changed across aiohttp versions).
_CURRENT: ContextVar[Context] = ContextVar("mock_provider_context")


@dataclass(frozen=True, slots=True)
class Context:
    body: dict[str, Any]  # empty for requests without a JSON body
    raw: bytes
    switches: Switches
    state: MockState

    @property
    def model(self) -> str:
        model = self.body.get("model")
        return model if isinstance(model, str) else "mock-model"

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    def event_stream(self, request: web.Request) -> EventStream:
        return EventStream(request, self.switches, self.state)


def context(request: web.Request) -> Context:
    return _CURRENT.get()


def attach(request: web.Request, ctx: Context) -> None:
    _CURRENT.set(ctx)
