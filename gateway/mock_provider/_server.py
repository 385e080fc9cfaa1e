"""Ways to serve the app: forever from the CLI, or on a background thread inside a test."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from aiohttp import web

from gateway.mock_provider._app import create_app
from gateway.mock_provider._state import MockState

# Stalled handlers let go on shutdown (MockState.closing), so shutdown need not wait long.
_SHUTDOWN_TIMEOUT = 2.0


async def start_server(
    state: MockState, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, int]:
    """Start serving on the running loop; returns the runner (call `cleanup()` to stop) and the port
    actually bound, which matters when `port` is 0."""
    runner = web.AppRunner(
        create_app(state), access_log=None, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    return runner, runner.addresses[0][1]


def run(host: str = "127.0.0.1", port: int = 9999) -> None:
    """Serve until killed (the `llm-gateway mock-provider` command)."""
    web.run_app(
        create_app(),
        host=host,
        port=port,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=_SHUTDOWN_TIMEOUT,
        print=lambda _msg: print(f"mock provider listening on http://{host}:{port}", flush=True),
    )


@dataclass
class RunningMock:
    """A mock provider on its own thread and loop. `url` has no trailing slash: OpenAI clients use
    `url + "/v1"`, Anthropic clients use `url`."""

    state: MockState
    port: int
    url: str
    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread
    _runner: web.AppRunner

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> RunningMock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve_in_thread(state: MockState | None = None, host: str = "127.0.0.1", port: int = 0) -> RunningMock:
    state = state if state is not None else MockState()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="mock-provider", daemon=True)
    thread.start()
    runner, bound = asyncio.run_coroutine_threadsafe(start_server(state, host, port), loop).result(
        timeout=30
    )
    return RunningMock(state, bound, f"http://{host}:{bound}", loop, thread, runner)
