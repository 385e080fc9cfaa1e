"""Prices: the cost of a call from the catalog (Decimal, USD per million tokens) and the worst case
a call may cost, which is what admission reserves against the caps.

`Usage.input_tokens` counts every input token, cached reads and cache writes included (OpenAI's
`prompt_tokens`; Anthropic's three input figures added up), so one formula serves both APIs:
uncached × input + cached × cached_input + cache writes × cache_write + output × output.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gateway.call import Call, Route, Usage
from gateway.config import ModelConfig, ModelEntry

MILLION = Decimal(1_000_000)
CENT_FRACTION = Decimal("0.00000001")  # the precision of the cost columns
ZERO = Decimal(0)
# Bytes of request JSON per token when guessing the worst case: low on purpose (JSON framing and
# non-Latin text both make real tokens denser than the usual 4 characters).
BYTES_PER_TOKEN = 3
_MAX_KEYS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def entry_for(config: ModelConfig, model: str | None) -> ModelEntry | None:
    return config.models.get(model) if model else None


def cost_of(entry: ModelEntry | None, usage: Usage) -> Decimal:
    """USD for `usage` at `entry`'s prices, rounded to the cost columns' 8 places. Unpriced: 0."""
    if entry is None or entry.input is None or entry.output is None:  # unpriced
        return ZERO
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    written = min(usage.cache_write_tokens, usage.input_tokens - cached)
    uncached = usage.input_tokens - cached - written
    total = (uncached * entry.input
             + cached * _or(entry.cached_input, entry.input)
             + written * _or(entry.cache_write, entry.input)
             + usage.output_tokens * entry.output)
    return (total / MILLION).quantize(CENT_FRACTION, rounding=ROUND_HALF_UP)


def _or(price: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if price is None else price


def max_output_tokens(body: dict[str, Any], default: int) -> int:
    for key in _MAX_KEYS:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def choices(body: dict[str, Any]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 128 else 1


def input_token_bound(call: Call) -> int:
    """A generous guess of the input tokens from the request's size (no tokenizer on the hot
    path): the declared Content-Length, or the JSON re-encoded when there is none."""
    raw = call.headers.get("content-length") if call.headers is not None else None
    size = int(raw) if raw and raw.isdigit() else len(json.dumps(call.body, ensure_ascii=False))
    return max(1, math.ceil(size / BYTES_PER_TOKEN))


def worst_case(entry: ModelEntry, input_tokens: int, output_tokens: int) -> Decimal:
    """The most a call can cost at `entry`: every input token at the dearest input price."""
    if entry.output is None:
        raise ValueError(f"model {entry.name!r} has no output price: its worst case is unknown")
    dearest_input = max(p for p in (entry.input, entry.cached_input, entry.cache_write)
                        if p is not None)
    total = input_tokens * dearest_input + output_tokens * entry.output
    return (total / MILLION).quantize(CENT_FRACTION, rounding=ROUND_HALF_UP)


def unpriced(config: ModelConfig, routes: Iterable[Route]) -> list[str]:
    return [r.model for r in routes if not (e := config.models.get(r.model)) or not e.priced]


def reservation_for(call: Call, config: ModelConfig, default_max_output: int) -> Decimal:
    """The worst case over every candidate the call may end up on (fallbacks included)."""
    routes = call.candidates or ([call.route] if call.route else [])
    out = max_output_tokens(call.body, default_max_output) * choices(call.body)
    tokens_in = input_token_bound(call)
    return max((worst_case(config.models[r.model], tokens_in, out) for r in routes), default=ZERO)
