"""Compact JSON for what the gateway writes on every call (the upstream request, a rewritten
answer, a stream event, a spool line): one encoder built once per process. `json.dumps` with
any non-default argument builds a new `JSONEncoder` on each call, which cost a quarter of
encoding a short body (0.8 of 3.1 µs), and `JSONEncoder.encode` builds its C encoder on each
call (see `_encoder`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import (  # type: ignore[attr-defined]  # the C accelerator json uses
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from json.scanner import make_scanner
from typing import Any

_Encode = Callable[[Any], str]


def _encoder(*, ensure_ascii: bool = True, sort_keys: bool = False,
             default: Callable[[Any], Any] | None = None) -> _Encode:
    """`json.JSONEncoder(separators=(",", ":"), ...).encode`, with the C encoder built once.
    `encode` builds one (and a dict for circular-reference checks) on every call: 1.2 of 6.5 µs
    for a spool line. Without the checks a value that contains itself fails with RecursionError
    instead of ValueError (the gateway only encodes what it parsed from JSON or built itself)."""
    python = json.JSONEncoder(separators=(",", ":"), ensure_ascii=ensure_ascii, sort_keys=sort_keys,
                              default=default)
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return python.encode
    chunks = c_make_encoder(None, python.default,
                            encode_basestring_ascii if ensure_ascii else encode_basestring,
                            None, ":", ",", sort_keys, False, True)
    join = "".join
    return lambda value: join(chunks(value, 0))


_COMPACT = _encoder(ensure_ascii=False)
_COMPACT_ASCII_STR = _encoder(default=str)
_COMPACT_SORTED = _encoder(ensure_ascii=False, sort_keys=True)
# The C scanner `json.loads` ends up in (typeshed types its argument as the scanner itself).
_SCAN: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def compact(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False)`."""
    return _COMPACT(value)


def compact_bytes(value: Any) -> bytes:
    return _COMPACT(value).encode()


def compact_ascii(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), default=str)`: ASCII only, and what JSON has no
    type for (Decimal, datetime) as its string."""
    return _COMPACT_ASCII_STR(value)


def compact_sorted(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)`: the same
    value always gives the same text (JSON stored in the database)."""
    return _COMPACT_SORTED(value)


def loads(text: str) -> Any:
    """`json.loads(text)` for a `str`, with the same results and errors: a text that is one JSON
    value with nothing around it goes straight to the C scanner, past `loads`, `decode` and
    `raw_decode` and their two whitespace matches (a third of parsing a short stream event);
    anything else (leading or trailing whitespace, a BOM, an error) is left to `json.loads`."""
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value
