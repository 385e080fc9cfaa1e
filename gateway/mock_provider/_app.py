"""The aiohttp application: routes, plus one middleware that records each API request and applies
its switches before the API handler runs, so handlers only build answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.mock_provider import _anthropic, _control, _ollama, _openai, _responses
from gateway.mock_provider._context import STATE, Context, attach
from gateway.mock_provider._errors import ANTHROPIC, BadRequest, error_response, flavour_of
from gateway.mock_provider._sse import StreamAborted
from gateway.mock_provider._state import MockState
from gateway.mock_provider._switches import Switches, read_switches, stall

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_GARBAGE = "<html><body>502 mock garbage: this is not JSON {{{"
_GARBAGE_EVENTS = b'data: this is not json {{{\n\ndata: {"truncated": \n\n: mock garbage\n\n'


def create_app(state: MockState | None = None) -> web.Application:
    app = web.Application(middlewares=[_mock_middleware], client_max_size=64 * 1024 * 1024)
    app[STATE] = state if state is not None else MockState()
    router = app.router
    router.add_post("/v1/chat/completions", _openai.chat_completions)
    router.add_post("/v1/embeddings", _openai.embeddings)
    router.add_post("/v1/responses", _responses.create)
    router.add_post("/v1/messages", _anthropic.messages)
    router.add_post("/v1/messages/count_tokens", _anthropic.count_tokens)
    router.add_get("/v1/models", _models)
    router.add_get("/api/tags", _ollama.tags)
    router.add_get("/api/version", _ollama.version)
    router.add_post("/api/chat", _ollama.chat)
    router.add_post("/api/generate", _ollama.generate)
    router.add_post("/api/embed", _ollama.embed)
    _control.add_routes(app)
    app.on_startup.append(_arm_stalls)
    app.on_shutdown.append(_release_stalls)
    return app


async def _models(request: web.Request) -> web.Response:
    if flavour_of(request) == ANTHROPIC:
        return web.json_response(_anthropic.models_list())
    return web.json_response(_openai.models_list())


async def _arm_stalls(app: web.Application) -> None:
    # A state may outlive one server and be served again.
    app[STATE].closing = False


async def _release_stalls(app: web.Application) -> None:
    app[STATE].closing = True


@web.middleware
async def _mock_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_mock/"):
        return await handler(request)
    state = request.app[STATE]
    flavour = flavour_of(request)
    raw = await request.read()
    body = _parse(raw)
    state.record(_entry(request, body))
    switches = read_switches(request, body, state)
    await _before_headers(request, switches, state)
    if switches.fail_status:
        return error_response(flavour, switches.fail_status)
    if switches.garbage:
        return await _garbage(request, body)
    if body is None:
        return error_response(flavour, 400, "request body must be a JSON object")
    ctx = Context(body, raw, switches, state)
    attach(request, ctx)
    return await _answer(request, handler, flavour, ctx)


async def _answer(
    request: web.Request, handler: Handler, flavour: str, ctx: Context
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except BadRequest as exc:
        return error_response(flavour, 400, str(exc))
    except StreamAborted as exc:
        return exc.response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(flavour, exc.status, f"{exc.reason}: {request.method} {request.path}")
    if ctx.switches.stall == "body" and isinstance(response, web.Response):
        return await _send_half_then_stall(request, response, ctx.state)
    return response


def _parse(raw: bytes) -> dict[str, Any] | None:
    """The JSON object body; {} when there is no body; None when it is not a JSON object."""
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _entry(request: web.Request, body: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "headers": {name.lower(): value for name, value in request.headers.items()},
        "body": body,
    }


async def _before_headers(request: web.Request, switches: Switches, state: MockState) -> None:
    if switches.delay_ms:
        await asyncio.sleep(switches.delay_ms / 1000)
    if switches.stall == "headers":
        await stall(request, state)


async def _send_half_then_stall(
    request: web.Request, answer: web.Response, state: MockState
) -> web.StreamResponse:
    """The non-streaming form of `X-Mock-Stall: body`: headers and half the promised body, then
    nothing, so a client's read timeout (not its connect timeout) has to fire."""
    body = answer.body if isinstance(answer.body, bytes) else b""
    response = web.StreamResponse(status=answer.status, headers={"Content-Type": answer.content_type})
    response.content_length = len(body)
    await response.prepare(request)
    try:
        await response.write(body[: len(body) // 2])
    except ConnectionError:
        return response
    await stall(request, state)
    return response


async def _garbage(request: web.Request, body: dict[str, Any] | None) -> web.StreamResponse:
    if not (body or {}).get("stream"):
        return web.Response(status=200, text=_GARBAGE, content_type="application/json")
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_GARBAGE_EVENTS)
    return response
