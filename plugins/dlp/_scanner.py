"""All detectors in one place, and the scanner that runs the enabled ones over a text.

Each rule runs its own precompiled regex (most start with a literal or are skipped by a substring
pre-check, which measured faster than one combined alternation in CPython's `re`); overlapping
finds are resolved in favour of the longest value, so a mask always covers the whole value.
Texts are scanned without their invisible format characters (see `_invisible`).
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections.abc import Iterable
from typing import NamedTuple

from plugins.dlp import _detect_contact, _detect_financial, _detect_network, _detect_optin, _detect_secrets
from plugins.dlp._invisible import format_chars, visible
from plugins.dlp._rule import DEADLINE, Rule, ScanTimeout

ALL_RULES: dict[str, Rule] = {
    rule.name: rule
    for module in (_detect_secrets, _detect_financial, _detect_contact, _detect_network,
                   _detect_optin)
    for rule in module.RULES
}
DEFAULT_RULES = frozenset(name for name, rule in ALL_RULES.items() if rule.default)
DETECTOR_VERSION = "3"  # bump when a detector changes what it finds (part of the cache marker)


class Found(NamedTuple):
    start: int
    end: int
    rule: Rule


class Scanner:
    """The enabled rules of one scope. Immutable; shared by every call of that scope."""

    def __init__(self, names: Iterable[str]) -> None:
        unknown = set(names) - ALL_RULES.keys()
        if unknown:
            raise ValueError(f"unknown DLP rule(s): {', '.join(sorted(unknown))}")
        self.names = frozenset(names)
        self.rules = tuple(sorted((ALL_RULES[n] for n in self.names), key=lambda r: r.priority))
        digest = hashlib.sha256(",".join(sorted(self.names)).encode()).hexdigest()[:12]
        self.fingerprint = f"v{DETECTOR_VERSION}-{digest}"
        format_chars()  # now, not in the first call that needs it

    def scan(self, text: str, deadline: float | None = None) -> list[Found]:
        """Non-overlapping finds in `text`, in order. Raises ScanTimeout past `deadline`
        (a `time.perf_counter()` value), checked after every rule and, inside a rule, every
        few dozen candidates. A value with invisible characters in it is found whole."""
        view = visible(text)
        if view is None:
            return self._scan(text, deadline)
        return [Found(view.start(f.start), view.end(f.end), f.rule)
                for f in self._scan(view.text, deadline)]

    def _scan(self, text: str, deadline: float | None) -> list[Found]:
        found: list[Found] = []
        low: list[str] = []

        def lowered() -> str:
            if not low:
                low.append(text.lower())
            return low[0]

        token = DEADLINE.set(deadline)
        try:
            for rule in self.rules:
                if rule.applies(text, lowered):
                    found.extend(Found(s, e, rule) for s, e in rule.find(text) if e > s)
                if deadline is not None and time.perf_counter() > deadline:
                    raise ScanTimeout(rule.name)
        finally:
            DEADLINE.reset(token)
        return resolve(found) if len(found) > 1 else found


def resolve(found: list[Found]) -> list[Found]:
    """Keep the longest of overlapping finds (the lower priority number on a tie)."""
    found.sort(key=lambda f: (f.start - f.end, f.rule.priority, f.start))
    starts: list[int] = []
    kept: list[Found] = []
    for f in found:
        i = bisect.bisect_right(starts, f.start)
        if i and kept[i - 1].end > f.start:
            continue
        if i < len(kept) and kept[i].start < f.end:
            continue
        starts.insert(i, f.start)
        kept.insert(i, f)
    return kept
