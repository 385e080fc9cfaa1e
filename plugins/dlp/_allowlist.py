"""Per-scope allow-lists: values and regex patterns an admin declared not sensitive (a support
address, a test card, a public demo key). An allow-listed find is left in the text and never
becomes an event.

Stored in the gateway's `settings` table under `dlp.allowlist.<global|org|app>.<id>` as
`{"values": [...], "patterns": [...]}`: a plugin-owned key rather than a new table, so the
allow-list needs no migration. A scope's list is the gateway-wide list plus its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KEY_PREFIX = "dlp.allowlist."
MAX_ENTRIES = 500  # per scope: the list is checked for every find of every protected call
MAX_PATTERN = 300


def setting_key(kind: str, scope_id: int) -> str:
    return f"{KEY_PREFIX}{kind}.{scope_id}"


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A pattern must match a whole value (fullmatch), so `.*@example\\.com` allows addresses at
    that domain and never a text that merely contains one."""
    if not pattern or len(pattern) > MAX_PATTERN:
        raise ValueError(f"allow-list pattern {pattern[:40]!r} must be 1 to {MAX_PATTERN} characters")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"allow-list pattern {pattern!r} is not a valid regex: {exc}") from None


def normalize(doc: Any) -> dict[str, list[str]]:
    """The stored document, tolerant of a hand-edited or missing row."""
    doc = doc if isinstance(doc, dict) else {}
    return {k: sorted({v for v in doc.get(k, ()) if isinstance(v, str) and v})
            for k in ("values", "patterns")}


@dataclass(frozen=True)
class AllowList:
    values: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def build(cls, docs: Iterable[Any]) -> AllowList:
        values: set[str] = set()
        patterns: dict[str, re.Pattern[str]] = {}
        for doc in docs:
            doc = normalize(doc)
            values.update(doc["values"])
            for p in doc["patterns"]:
                try:
                    patterns.setdefault(p, compile_pattern(p))
                except ValueError:
                    continue  # validated on write; a bad hand-edited row must not stop DLP
        return cls(frozenset(values), tuple(patterns.values()))

    def __bool__(self) -> bool:
        return bool(self.values or self.patterns)

    def allows(self, value: str) -> bool:
        return value in self.values or any(p.fullmatch(value) for p in self.patterns)

    @property
    def fingerprint(self) -> str:
        """Part of the cache marker: another allow-list is another view of the request."""
        if not self:
            return ""
        text = "\n".join(sorted(self.values)) + "\0" + "\n".join(p.pattern for p in self.patterns)
        return "-a" + hashlib.sha256(text.encode()).hexdigest()[:10]
