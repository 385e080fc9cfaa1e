"""Invisible characters inside a value: Unicode format characters (category Cf: zero-width space
and joiners, word joiner, soft hyphen, BOM, bidi marks) render as nothing, so
`jane\u200b.doe@example.com` reads as an address while no detector's pattern matches it.

The scanner looks at a view of the text without them, and maps what it finds back to the original
text: a span runs from the value's first visible character to its last, so the placeholder
replaces the invisible characters inside the value too.
"""

from __future__ import annotations

import bisect
import functools
import re
import sys
import unicodedata
from typing import NamedTuple


class FormatChars(NamedTuple):
    chars: frozenset[str]
    runs: re.Pattern[str]


@functools.cache
def format_chars() -> FormatChars:
    """The category Cf characters of this Python's Unicode database (built once, about 0.1 s;
    the scanner builds it at start). The regex class is written as ranges: with one escape per
    character CPython's `re` searched 64 KB of non-ASCII text 5x slower."""
    ranges: list[list[int]] = []
    for c in range(sys.maxunicode + 1):
        if unicodedata.category(chr(c)) == "Cf":
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
    chars = frozenset(chr(c) for a, b in ranges for c in range(a, b + 1))
    span = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)
    return FormatChars(chars, re.compile(f"[{span}]+"))


class Visible(NamedTuple):
    """`text` without format characters, and where each run of them was cut."""

    text: str
    cuts: list[int]  # index in `text` where a run was removed, ascending
    shifts: list[int]  # characters removed up to and including that run

    def start(self, i: int) -> int:
        """Original index of the character at `i` of the view."""
        k = bisect.bisect_right(self.cuts, i)
        return i + (self.shifts[k - 1] if k else 0)

    def end(self, i: int) -> int:
        """Original index just past the character before `i` of the view."""
        return self.start(i - 1) + 1


def visible(text: str) -> Visible | None:
    """The view without format characters, or None when `text` has none (most texts: ASCII
    texts are ruled out without a search)."""
    found = format_chars()
    if text.isascii() or found.chars.isdisjoint(text):
        return None
    pieces: list[str] = []
    cuts: list[int] = []
    shifts: list[int] = []
    pos = removed = 0
    for m in found.runs.finditer(text):
        pieces.append(text[pos:m.start()])
        removed += m.end() - m.start()
        cuts.append(m.start() - (removed - (m.end() - m.start())))
        shifts.append(removed)
        pos = m.end()
    pieces.append(text[pos:])
    return Visible("".join(pieces), cuts, shifts)


def strip(value: str) -> str:
    """`value` as it reads: what the allow-list and the event hashes compare."""
    view = visible(value)
    return value if view is None else view.text
