"""All detectors in one place, and the scanner that runs the enabled ones over a text.

Each rule runs its own precompiled regex (most start with a literal or are skipped by a substring
pre-check, which measured faster than one combined alternation in CPython's `re`); overlapping
finds are resolved in favour of the longest value, so a mask always covers the whole value.
The pre-checks of all rules are decided together (`candidates`): one pass for the trigger words
over the text, one over its lower-cased form, one digit count; before, each rule ran its own,
and the pre-checks cost as much as the regexes on a short prompt.
Texts are scanned without their invisible format characters (see `_invisible`).

Each scanner remembers what it found in the texts it scanned last (`CACHE_ENTRIES` of them),
keyed by a keyed BLAKE2b digest of the text, never the text itself. Coding agents send the whole
conversation again on every turn: only the new messages are scanned, the history is a look-up.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

from plugins.dlp import _detect_contact, _detect_financial, _detect_network, _detect_optin, _detect_secrets
from plugins.dlp._invisible import format_chars, visible
from plugins.dlp._literals import Literals
from plugins.dlp._rule import DEADLINE, Rule, ScanTimeout, count_digits

ALL_RULES: dict[str, Rule] = {
    rule.name: rule
    for module in (_detect_secrets, _detect_financial, _detect_contact, _detect_network,
                   _detect_optin)
    for rule in module.RULES
}
DEFAULT_RULES = frozenset(name for name, rule in ALL_RULES.items() if rule.default)
DETECTOR_VERSION = "3"  # bump when a detector changes what it finds (part of the cache marker)
CACHE_ENTRIES = 4096
_CACHE_KEY = os.urandom(32)  # per process: a digest says nothing outside it


class Found(NamedTuple):
    start: int
    end: int
    rule: Rule


class Scanner:
    """The enabled rules of one scope. Immutable; shared by every call of that scope."""

    def __init__(self, names: Iterable[str], cache_entries: int = CACHE_ENTRIES) -> None:
        unknown = set(names) - ALL_RULES.keys()
        if unknown:
            raise ValueError(f"unknown DLP rule(s): {', '.join(sorted(unknown))}")
        self.names = frozenset(names)
        self.rules = tuple(sorted((ALL_RULES[n] for n in self.names), key=lambda r: r.priority))
        digest = hashlib.sha256(",".join(sorted(self.names)).encode()).hexdigest()[:12]
        self.fingerprint = f"v{DETECTOR_VERSION}-{digest}"
        format_chars()  # now, not in the first call that needs it
        # digest → finds as flat (start, end, rule index) ints, oldest first: tuples of ints are
        # no work for the cycle collector, tuples of `Found` (which hold a Rule) would be.
        self._seen: OrderedDict[bytes, tuple[int, ...]] = OrderedDict()
        self._index = {rule.name: i for i, rule in enumerate(self.rules)}
        self._cache_entries = cache_entries
        self._lock = threading.Lock()
        # The rules' pre-checks, for all rules in one pass each (see `Rule.applies`).
        self._gates = [(i, rule.min_digits, frozenset(rule.triggers), frozenset(rule.itriggers))
                       for i, rule in enumerate(self.rules)]
        self._triggers = Literals(t for rule in self.rules for t in rule.triggers)
        self._itriggers = Literals(t for rule in self.rules for t in rule.itriggers)
        self._digits_needed = max((r.min_digits for r in self.rules), default=0)

    def scan(self, text: str, deadline: float | None = None) -> list[Found]:
        """Non-overlapping finds in `text`, in order. Raises ScanTimeout past `deadline`
        (a `time.perf_counter()` value), checked after every rule and, inside a rule, every
        few dozen candidates. A value with invisible characters in it is found whole. A text
        this scanner saw recently is not scanned again."""
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=32,
                              key=_CACHE_KEY).digest()
        known = self._seen.get(key)
        if known is not None:
            rules = self.rules
            return [Found(known[i], known[i + 1], rules[known[i + 2]])
                    for i in range(0, len(known), 3)]
        found = self._scan_visible(text, deadline)
        if self._cache_entries:
            index = self._index
            entry = tuple(n for f in found for n in (f.start, f.end, index[f.rule.name]))
            with self._lock:
                self._seen[key] = entry
                if len(self._seen) > self._cache_entries:
                    # A dict's oldest key sits behind the slots its evictions left empty, so
                    # `next(iter(...))` walks further every time: 2.4 against 0.7 µs an insert.
                    self._seen.popitem(last=False)
        return found

    def _scan_visible(self, text: str, deadline: float | None) -> list[Found]:
        view = visible(text)
        if view is None:
            return self._scan(text, deadline)
        return [Found(view.start(f.start), view.end(f.end), f.rule)
                for f in self._scan(view.text, deadline)]

    def candidates(self, text: str) -> list[Rule]:
        """The rules whose pre-checks pass on `text` (each `Rule.applies`), decided for all of
        them with one pass per kind of pre-check instead of one per rule."""
        present = self._triggers.present(text)
        ipresent = self._itriggers.present(text.lower()) if self._itriggers.words else set()
        digits = count_digits(text, self._digits_needed)
        rules = self.rules
        return [rules[i] for i, min_digits, triggers, itriggers in self._gates
                if min_digits <= digits
                and (not (triggers or itriggers) or not present.isdisjoint(triggers)
                     or not ipresent.isdisjoint(itriggers))]

    def _scan(self, text: str, deadline: float | None) -> list[Found]:
        found: list[Found] = []
        token = DEADLINE.set(deadline)
        try:
            for rule in self.candidates(text):
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
