"""The gitleaks rule set (rulesets/gitleaks.toml, vendored as published) compiled for Python.

Each gitleaks rule keeps its keyword guard (the regex runs only where one of its keywords occurs,
in a window around the occurrence: gitleaks' `[\\w.-]{0,50}?keyword…` patterns would otherwise be
tried at every position of a 64 KB prompt), its Shannon-entropy threshold on the secret, its
secret group, and its allow-lists (regexes and stop words on the secret, the match or the line).
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from plugins.dlp._literals import Literals
from plugins.dlp._re2 import convert

log = logging.getLogger("gateway.dlp")
SOURCE = Path(__file__).resolve().parent / "rulesets" / "gitleaks.toml"
VERSION = "gitleaks v8.30.0-27-gb58d3f10"
# Rules left out, and why:
SKIPPED = {
    # Our own rules find these whole (the PEM block, the three JWT segments) with their own checks.
    "private-key": "plugins.dlp private_key", "jwt": "plugins.dlp jwt",
    # Keywords "key", "auth", "api", "token" occur in most prompts, so the guard never holds and
    # its lazy-prefix regex costs tens of ms per 64 KB; `labelled_credential` covers assignments.
    "generic-api-key": "plugins.dlp labelled_credential",
}
LEFT, RIGHT = 64, 1024  # a window's reach before and after a keyword (gitleaks prefixes are <= 50)
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Allow:
    target: str  # "secret", "match" or "line"
    regexes: tuple[re.Pattern[str], ...]
    stopwords: tuple[str, ...]

    def allows(self, secret: str, match: str, line: str) -> bool:
        value = {"secret": secret, "match": match, "line": line}[self.target]
        low = secret.lower()
        return (any(r.search(value) for r in self.regexes)
                or any(w in low for w in self.stopwords))


@dataclass(frozen=True)
class VendorRule:
    id: str
    pattern: re.Pattern[str]
    keywords: tuple[str, ...]
    entropy: float
    secret_group: int
    allow: tuple[Allow, ...]

    def secret_span(self, m: re.Match[str]) -> tuple[int, int]:
        """gitleaks' choice: the configured group, else the first group that matched, else all."""
        if self.secret_group:
            return m.span(self.secret_group)
        for g in range(1, (m.re.groups or 0) + 1):
            if m.group(g):
                return m.span(g)
        return m.span()


def shannon(value: str) -> float:
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values()) if n else 0.0


# gitleaks ends most secrets at a quote, space or ";" (source code); in chat the token is as
# often followed by prose punctuation ("my key is hf_….", "(sk_live_…)"), so those end it too.
_GITLEAKS_END = r"""(?:[\x60'"\s;]|\\[nr]|$)"""
_PROSE_END = r"""(?:[\x60'"\s;,.:)\]}>|]|\\[nr]|$)"""


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(convert(pattern.replace(_GITLEAKS_END, _PROSE_END)))


def _allow(doc: dict[str, Any]) -> Allow | None:
    if doc.get("condition", "OR").upper() == "AND" and doc.get("paths"):
        return None  # needs a file path to hold: never true for a prompt
    regexes = tuple(_compile(r) for r in doc.get("regexes", ()))
    stopwords = tuple(w.lower() for w in doc.get("stopwords", ()))
    if not regexes and not stopwords:
        return None
    return Allow(doc.get("regexTarget", "secret"), regexes, stopwords)


def _rule(doc: dict[str, Any]) -> VendorRule | None:
    if doc["id"] in SKIPPED or "regex" not in doc or "path" in doc:
        return None  # path rules judge file names, which a prompt has not
    allows = tuple(a for a in map(_allow, doc.get("allowlists", ())) if a is not None)
    return VendorRule(doc["id"], _compile(doc["regex"]),
                      tuple(k.lower() for k in doc.get("keywords", ())),
                      float(doc.get("entropy", 0)), int(doc.get("secretGroup", 0)), allows)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[VendorRule, ...]
    global_allow: Allow | None
    failed: tuple[str, ...]  # rule ids Python could not compile

    @cached_property
    def words(self) -> frozenset[str]:
        return frozenset(k for r in self.rules for k in r.keywords)

    @cached_property
    def _keywords(self) -> Literals:
        return Literals(self.words)  # one pass for all keywords, overlapping hits included

    def keyword_hits(self, low: str) -> dict[str, list[int]]:
        """Where each keyword occurs in the lower-cased text."""
        hits: dict[str, list[int]] = {}
        for pos, found in self._keywords.hits(low):
            for k in found:
                hits.setdefault(k, []).append(pos)
        return hits


@cache
def load(path: Path = SOURCE) -> RuleSet:
    """Parsed and compiled once per process (the plugin warms it at start)."""
    if not path.is_file():  # a package built without its data: refuse to start, never scan less
        raise FileNotFoundError(f"DLP rule set {path} is missing (package data "
                                f"plugins.dlp: rulesets/*.toml)")
    with path.open("rb") as f:
        doc = tomllib.load(f)
    rules, failed = [], []
    for raw in doc.get("rules", ()):
        try:
            rule = _rule(raw)
        except (re.error, ValueError, KeyError) as exc:
            log.warning("dlp: gitleaks rule %s skipped: %s", raw.get("id"), exc)
            failed.append(str(raw.get("id")))
            continue
        if rule is not None:
            rules.append(rule)
    return RuleSet(tuple(rules), _allow(doc.get("allowlist", {})), tuple(failed))


def _windows(text: str, hits: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merged spans around the keyword hits (start, length), each ending at whitespace."""
    n = len(text)
    spans = []
    for i, length in sorted(hits):
        end = i + length + RIGHT
        space = _SPACE.search(text, end) if end < n else None
        spans.append((max(0, i - LEFT), space.start() if space else n))
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _line(text: str, start: int, end: int) -> str:
    return text[text.rfind("\n", 0, start) + 1:(text.find("\n", end) + 1 or len(text) + 1) - 1]


def _kept(rule: VendorRule, rules: RuleSet, text: str, m: re.Match[str], span: tuple[int, int]
          ) -> bool:
    secret = text[span[0]:span[1]]
    if rule.entropy and shannon(secret) < rule.entropy:
        return False
    allows = rule.allow + ((rules.global_allow,) if rules.global_allow else ())
    if any(a.allows(secret, m.group(), _line(text, *m.span()) if a.target == "line" else "")
           for a in allows):
        return False
    return True


def find(text: str, low: str, rules: RuleSet,
         check_deadline: Callable[[], None] = lambda: None) -> Iterable[tuple[int, int, str]]:
    """(start, end, rule id) of each secret; the secret group only, never the keyword."""
    hits = rules.keyword_hits(low)
    if not hits:
        return
    same_positions = len(low) == len(text)  # else a case mapping moved them: scan it all
    for rule in rules.rules:
        at = [(p, len(k)) for k in rule.keywords for p in hits.get(k, ())]
        if not at:
            continue
        check_deadline()
        seen: set[tuple[int, int]] = set()
        for ws, we in _windows(text, at) if same_positions else [(0, len(text))]:
            for m in rule.pattern.finditer(text, ws, we):
                span = m.span() if m.start() == m.end() else rule.secret_span(m)
                if span[1] > span[0] and span not in seen and _kept(rule, rules, text, m, span):
                    seen.add(span)
                    yield span[0], span[1], rule.id
