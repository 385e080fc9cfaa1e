"""Per-request failure switches, read from `X-Mock-*` headers or from the model name.

The model name works even when a gateway in between drops unknown headers: `mock-fail-503`,
`mock-stall` (before headers), `mock-stall-body`, `mock-delay-200`, `mock-chunk-delay-50` and
`mock-garbage` may appear anywhere in it and combine, e.g. `gpt-4o-mock-delay-100-mock-fail-429`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.mock_provider._state import MockState

STALL_SECONDS = 3600.0
# How often a stalled handler looks for a vanished client; aiohttp does not cancel handlers itself.
_STALL_POLL = 0.05

_FAIL = re.compile(r"mock-fail-(\d{3})")
_STALL = re.compile(r"mock-stall(-body|-headers)?")
_DELAY = re.compile(r"mock-delay-(\d+)")
_CHUNK_DELAY = re.compile(r"mock-chunk-delay-(\d+)")


@dataclass(frozen=True, slots=True)
class Switches:
    fail_status: int | None = None
    stall: str | None = None  # "headers" or "body"
    delay_ms: int = 0
    chunk_delay_ms: int = 0
    garbage: bool = False


NONE = Switches()


def read_switches(request: web.Request, body: Any, state: MockState) -> Switches:
    """Headers win over the model name; the global config fills in what neither sets."""
    headers = request.headers
    model = body.get("model") if isinstance(body, dict) else None
    from_model = _from_model(model) if isinstance(model, str) and "mock-" in model else NONE
    if "X-Mock-Fail" not in headers and from_model.fail_status is None:
        global_fail = state.take_global_failure()
    else:
        global_fail = None
    cfg = state.config
    return Switches(
        fail_status=_error_status(headers.get("X-Mock-Fail")) or from_model.fail_status or global_fail,
        stall=_stall_kind(headers.get("X-Mock-Stall")) or from_model.stall,
        delay_ms=_int(headers.get("X-Mock-Delay-Ms")) or from_model.delay_ms or cfg.delay_ms,
        chunk_delay_ms=(
            _int(headers.get("X-Mock-Chunk-Delay-Ms")) or from_model.chunk_delay_ms or cfg.chunk_delay_ms
        ),
        garbage=_truthy(headers.get("X-Mock-Garbage")) or from_model.garbage,
    )


def _from_model(model: str) -> Switches:
    fail, stall = _FAIL.search(model), _STALL.search(model)
    delay, chunk_delay = _DELAY.search(model), _CHUNK_DELAY.search(model)
    return Switches(
        fail_status=_error_status(fail.group(1)) if fail else None,
        stall=(("body" if stall.group(1) == "-body" else "headers") if stall else None),
        delay_ms=int(delay.group(1)) if delay else 0,
        chunk_delay_ms=int(chunk_delay.group(1)) if chunk_delay else 0,
        garbage="mock-garbage" in model,
    )


def _int(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


def _error_status(value: str | None) -> int | None:
    """Only error statuses: anything else would turn a failure switch into a strange success."""
    status = _int(value)
    return status if 400 <= status <= 599 else None


def _truthy(value: str | None) -> bool:
    return bool(value and value.strip().lower() not in ("0", "false", "no", "off"))


def _stall_kind(value: str | None) -> str | None:
    if not value:
        return None
    return "body" if value.strip().lower() == "body" else "headers"


def peer_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def stall(request: web.Request, state: MockState, seconds: float = STALL_SECONDS) -> None:
    """Wait `seconds`, or less if the client hangs up or the app shuts down."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline and not state.closing and not peer_gone(request):
        await asyncio.sleep(_STALL_POLL)
