"""`/_mock/*`: how a test arms global failures and reads back what the mock received."""

from __future__ import annotations

import json

from aiohttp import web

from gateway.mock_provider._context import STATE
from gateway.mock_provider._state import MockConfig


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].config.to_json())


async def set_config(request: web.Request) -> web.Response:
    """Replaces the whole config: keys left out go back to their defaults."""
    try:
        data = json.loads(await request.read() or b"{}")
        if not isinstance(data, dict):
            raise ValueError("mock config must be a JSON object")
        config = MockConfig.from_json(data)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    request.app[STATE].config = config
    return web.json_response(config.to_json())


async def list_requests(request: web.Request) -> web.Response:
    return web.json_response(list(request.app[STATE].requests))


async def clear_requests(request: web.Request) -> web.Response:
    state = request.app[STATE]
    cleared = len(state.requests)
    state.clear()
    return web.json_response({"cleared": cleared})


async def reset(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.clear()
    state.config = MockConfig()
    return web.json_response({"reset": True})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_mock/config", get_config)
    app.router.add_post("/_mock/config", set_config)
    app.router.add_get("/_mock/requests", list_requests)
    app.router.add_delete("/_mock/requests", clear_requests)
    app.router.add_post("/_mock/reset", reset)
