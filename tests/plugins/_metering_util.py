"""Helpers shared by the metering tests: wait for the log writer, read rows, predict the mock
provider's token counts (gateway/mock_provider/_echo.py: input = chars // 4, output = answer // 4,
CACHE_HIT in the prompt reports half the input as cached)."""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from gateway.db.models import RequestLog

EIGHT_PLACES = Decimal("0.00000001")


def state(gw):
    return gw.ctx.extensions["metering"]


def logs(gw, count: int = 1, timeout: float = 10.0) -> list[RequestLog]:
    """The request-log rows, oldest first, once at least `count` were written."""
    deadline = time.monotonic() + timeout
    while True:
        state(gw).flush()
        with gw.ctx.sessions() as session:
            rows = list(session.scalars(select(RequestLog).order_by(RequestLog.id)))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def mock_tokens(text: str) -> tuple[int, int, int]:
    """(input, cached, output) the mock reports for one user message `text`."""
    prompt = max(1, len(text) // 4)
    cached = prompt // 2 if "CACHE_HIT" in text else 0
    return prompt, cached, max(1, len("echo: " + text) // 4)


def catalog_cost(prices: dict[str, str], inp: int, cached: int, out: int) -> Decimal:
    """Prices in USD per million tokens, as in model_config.yaml."""
    total = ((inp - cached) * Decimal(prices["input"]) + cached * Decimal(prices["cached_input"])
             + out * Decimal(prices["output"]))
    return (total / Decimal(1_000_000)).quantize(EIGHT_PLACES, rounding=ROUND_HALF_UP)
