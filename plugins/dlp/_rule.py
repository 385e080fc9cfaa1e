"""What a detector is: a named rule that finds whole sensitive values in a text.

Every detector module exposes `RULES`, a tuple of `Rule`. A rule's `find(text)` yields the
(start, end) spans of whole values only (never a part of one: a mask always covers the whole value)
and has already applied its validation (checksums, library checks), so a span is a verdict, not a
candidate.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass

Finder = Callable[[str], Iterable[tuple[int, int]]]
# Validates a candidate: check(value, text, start, end); False drops it.
Check = Callable[[str, str, int, int], bool]
# The running scan's deadline (a time.perf_counter() value), so finders with many candidates can
# give up in the middle of a long text instead of blocking the event loop past the budget.
DEADLINE: ContextVar[float | None] = ContextVar("dlp_deadline", default=None)
CHECK_EVERY = 64  # candidates between two deadline checks
DIGIT = re.compile(r"\d")


class ScanTimeout(Exception):
    """Scanning went past its time budget."""


def count_digits(text: str, cap: int) -> int:
    """The number of digits in `text`, counted up to `cap` (all a pre-check needs to know)."""
    n = 0
    if cap:
        for _ in DIGIT.finditer(text):
            n += 1
            if n >= cap:
                break
    return n


def check_deadline() -> None:
    deadline = DEADLINE.get()
    if deadline is not None and time.perf_counter() > deadline:
        raise ScanTimeout("deadline")


@dataclass(frozen=True)
class Rule:
    name: str  # what admins enable and disable (`dlp rules --enable email`)
    label: str  # the placeholder's type: [EMAIL_1]
    family: str  # the detector module it lives in
    find: Finder
    description: str
    # Cheap pre-checks: skip the regex when none of these substrings is in the text. `triggers`
    # are case-sensitive, `itriggers` are matched against the lower-cased text.
    triggers: tuple[str, ...] = ()
    itriggers: tuple[str, ...] = ()
    default: bool = True  # on unless a scope turns it off (names and addresses are opt-in)
    priority: int = 50  # on two equally long overlapping values the lower number wins
    # Another cheap pre-check: no value of this rule has fewer digits (`\d`, any script).
    min_digits: int = 0

    def applies(self, text: str, lowered: Callable[[], str]) -> bool:
        """Whether `find` can find anything in `text`, by the pre-checks alone. The definition:
        the scanner decides the same for all its rules at once (`Scanner.candidates`)."""
        if count_digits(text, self.min_digits) < self.min_digits:
            return False
        if not self.triggers and not self.itriggers:
            return True
        if any(t in text for t in self.triggers):
            return True
        if self.itriggers:
            low = lowered()
            return any(t in low for t in self.itriggers)
        return False


def spans(pattern: re.Pattern[str], text: str, group: int = 0, check: Check | None = None,
          not_after: str | None = None) -> Iterable[tuple[int, int]]:
    """The spans of `pattern`'s `group` in `text` whose value passes `check` (if given).

    `not_after`: a match right after a word character or one of these characters is part of
    something longer and skipped. (Checked here rather than by a lookbehind at the start of the
    pattern, which would stop CPython's `re` from skipping ahead quickly: measured 1.5x slower.)
    """
    for n, m in enumerate(pattern.finditer(text), 1):
        if n % CHECK_EVERY == 0:
            check_deadline()
        if not_after is not None and m.start():
            before = text[m.start() - 1]
            if before.isalnum() or before == "_" or before in not_after:
                continue
        start, end = m.span(group)
        if start < 0:
            continue
        if check is None or check(text[start:end], text, start, end):
            yield start, end


def keyword_spans(keywords: re.Pattern[str], pattern: re.Pattern[str], text: str, group: int = 0,
                  check: Check | None = None) -> Iterable[tuple[int, int]]:
    """Like `spans` for a case-insensitive `pattern` that starts with one of `keywords` (a
    lower-case regex): find the keywords in the lower-cased text, then match `pattern` there.
    Much cheaper than letting an IGNORECASE pattern try every position."""
    low = text.lower()
    if len(low) != len(text):  # a case mapping changed lengths (rare non-ASCII): scan plainly
        yield from spans(pattern, text, group, check)
        return
    done = 0
    for n, k in enumerate(keywords.finditer(low), 1):
        if n % CHECK_EVERY == 0:
            check_deadline()
        if k.start() < done:
            continue
        m = pattern.match(text, k.start())
        if m is None:
            continue
        done = m.end()
        start, end = m.span(group)
        if start >= 0 and (check is None or check(text[start:end], text, start, end)):
            yield start, end
