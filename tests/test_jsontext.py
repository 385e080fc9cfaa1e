"""`gateway.jsontext`'s encoders give exactly what `json.dumps` gives, errors included."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway import jsontext

VALUES = [
    {"model": "gpt-4o", "messages": [{"role": "user", "content": "héllo \u2028 \x00 \"q\" \\ 😀"}]},
    {"b": 1, "a": [1.5, -0.0, 1e300, 3, True, False, None], "c": {"z": {}, "y": []}},
    {1: "int key", False: "bool key", None: "none key", 2.5: "float key"},
    "a plain string", 42, 1.0, None, [], {}, [[[["deep"]]]],
    {"s": "\ud800 lone surrogate"},
]


@pytest.mark.parametrize("value", VALUES)
def test_the_encoders_match_json_dumps(value):
    assert jsontext.compact(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        expected_bytes = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate is not UTF-8, whichever encodes it
        with pytest.raises(UnicodeEncodeError):
            jsontext.compact_bytes(value)
    else:
        assert jsontext.compact_bytes(value) == expected_bytes
    assert jsontext.compact_ascii(value) == json.dumps(value, separators=(",", ":"), default=str)
    try:
        expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    except TypeError as exc:  # keys of mixed types cannot be sorted
        with pytest.raises(TypeError, match=str(exc)):
            jsontext.compact_sorted(value)
    else:
        assert jsontext.compact_sorted(value) == expected


def test_what_json_has_no_type_for():
    row = {"cost": Decimal("0.0000081"), "at": datetime(2026, 12, 7, tzinfo=UTC), "n": math.inf}
    assert jsontext.compact_ascii(row) == json.dumps(row, separators=(",", ":"), default=str)
    for encode, sort in ((jsontext.compact, False), (jsontext.compact_sorted, True)):
        with pytest.raises(TypeError) as expected:
            json.dumps(row, ensure_ascii=False, sort_keys=sort)
        with pytest.raises(TypeError, match=str(expected.value)):
            encode(row)
    with pytest.raises(TypeError, match="keys must be str, int, float, bool or None"):
        jsontext.compact({(1, 2): "tuple key"})
