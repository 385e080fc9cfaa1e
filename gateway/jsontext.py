"""Compact JSON for what the gateway writes on every call (the upstream request, a rewritten
answer, a stream event, a spool line): one encoder built once per process. `json.dumps` with
any non-default argument builds a new `JSONEncoder` on each call, which cost a quarter of
encoding a short body (0.8 of 3.1 µs)."""

from __future__ import annotations

import json
from typing import Any

_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_COMPACT_ASCII_STR = json.JSONEncoder(separators=(",", ":"), default=str)
_COMPACT_SORTED = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def compact(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False)`."""
    return _COMPACT.encode(value)


def compact_bytes(value: Any) -> bytes:
    return _COMPACT.encode(value).encode()


def compact_ascii(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), default=str)`: ASCII only, and what JSON has no
    type for (Decimal, datetime) as its string."""
    return _COMPACT_ASCII_STR.encode(value)


def compact_sorted(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)`: the same
    value always gives the same text (JSON stored in the database)."""
    return _COMPACT_SORTED.encode(value)
