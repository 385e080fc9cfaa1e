"""Placeholders: issued while redacting a request, put back into its answer.

`[EMAIL_1]`, `[PHONE_2]`: numbered per call and per type; the same value gets the same placeholder
throughout a call. Numbers the client's own text already uses (`[EMAIL_1]` typed by the user) are
skipped, and only placeholders this call issued are restored, so the user's look-alikes pass
through untouched. The closing bracket is part of the token: `[EMAIL_1]` never matches inside
`[EMAIL_10]`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from itertools import accumulate

from gateway.jsontext import compact
from plugins.dlp._allowlist import AllowList
from plugins.dlp._hashing import value_hash
from plugins.dlp._invisible import strip
from plugins.dlp._scanner import Found, Scanner

PLACEHOLDER_RE = re.compile(r"\[([A-Z][A-Z_]*)_(\d+)\]")
PLACEHOLDER_BYTES_RE = re.compile(rb"\[[A-Z][A-Z_]*_\d+\]")
_SPELLED = re.compile(rb"\\u00[3-5]")  # `\u005b`: "[" (digits, capitals, "[", "]", "_" too)
_KEY_END = re.compile(rb"[ \t\r\n]*:")  # after a string's closing quote: it was a key
NO_ALLOW_LIST = AllowList()  # frozen: one shared empty list


class Placeholders:
    """The per-call map placeholder → original value. Never log it: `repr` shows only a count."""

    __slots__ = ("_values", "_escaped", "_by_value", "_counters", "_reserved", "_prefixes",
                 "_plain", "max_len")

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._escaped: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}
        self._counters: dict[str, int] = {}
        self._reserved: set[tuple[str, int]] = set()
        self._prefixes: set[str] | None = None  # proper prefixes of issued placeholders (streams)
        self._plain: dict[bytes, bytes | None] = {}  # token → value as JSON string content, if verbatim
        self.max_len = 0

    def __repr__(self) -> str:
        return f"<Placeholders: {len(self._values)} issued>"

    def __len__(self) -> int:
        return len(self._values)

    def reserve_from(self, text: str) -> None:
        """Remember placeholder-like tokens the client wrote, so ours never reuse their numbers."""
        if "[" in text:
            for m in PLACEHOLDER_RE.finditer(text):
                self._reserved.add((m.group(1), int(m.group(2))))

    def issue(self, label: str, value: str) -> str:
        token = self._by_value.get((label, value))
        if token is not None:
            return token
        n = self._counters.get(label, 0) + 1
        while (label, n) in self._reserved:
            n += 1
        self._counters[label] = n
        token = f"[{label}_{n}]"
        self._by_value[(label, value)] = token
        self._values[token] = value
        self._prefixes = None
        if self._plain:
            self._plain.clear()
        if len(token) > self.max_len:
            self.max_len = len(token)
        return token

    def restore(self, text: str, escape: bool = False) -> str:
        """`text` with every placeholder this call issued replaced by its value; `escape` for
        text inside a JSON string (tool-call arguments), where the value must be JSON-escaped."""
        if "[" not in text or not self._values:
            return text
        restored = PLACEHOLDER_RE.sub(self._escaped_value if escape else self._value, text)
        return text if restored == text else restored  # unchanged: the same object

    def restore_bytes(self, raw: bytes) -> bytes | None:
        """What `restore_tree` does to a whole JSON answer, done on its bytes (`raw` itself when
        they hold no issued placeholder), or None when only the walk can tell: the answer spells
        a character placeholders are made of as a `\\u` escape, is not UTF-8, or a placeholder
        sits in a key (the walk leaves keys) or stands for a value JSON has to escape (then its
        spelling depends on whether the string is JSON text itself)."""
        if not self._values:
            return raw
        if (b"\\u00" in raw and _SPELLED.search(raw)) or b"\0" in raw[:4]:
            return None
        pieces: list[bytes] = []
        pos = 0
        for m in _placeholders_in(raw):
            plain = self._plain_value(m.group())
            if plain is None:
                if m.group().decode() in self._values:
                    return None
                continue  # a look-alike this call did not issue: left as it is
            if _KEY_END.match(raw, _closing_quote(raw, m.end()) + 1):
                return None
            pieces += (raw[pos:m.start()], plain)
            pos = m.end()
        if not pieces:
            return raw
        pieces.append(raw[pos:])
        return b"".join(pieces)

    def _plain_value(self, token: bytes) -> bytes | None:
        if token not in self._plain:
            value = self._values.get(token.decode())
            plain = None
            if value is not None and compact(value)[1:-1] == value:  # JSON keeps it verbatim
                try:
                    plain = value.encode()
                except UnicodeEncodeError:  # a lone surrogate: left to the walk
                    pass
            self._plain[token] = plain
        return self._plain[token]

    def _value(self, m: re.Match[str]) -> str:
        return self._values.get(m.group(0), m.group(0))

    def _escaped_value(self, m: re.Match[str]) -> str:
        token = m.group(0)
        if token not in self._values:
            return token
        escaped = self._escaped.get(token)
        if escaped is None:
            escaped = self._escaped[token] = compact(self._values[token])[1:-1]
        return escaped

    def pending_start(self, text: str) -> int:
        """Where the tail of `text` that could still grow into an issued placeholder starts
        (len(text) when none could): the only part a stream must hold back."""
        if "[" not in text:
            return len(text)
        prefixes = self._prefixes
        if prefixes is None:  # built when a stream first needs it (whole answers never do)
            prefixes = self._prefixes = {t[:k] for t in self._values for k in range(1, len(t))}
        j = text.find("[", max(0, len(text) - self.max_len + 1))
        while j != -1:
            if text[j:] in prefixes:
                return j
            j = text.find("[", j + 1)
        return len(text)


class Redactor:
    """Replaces what the scanner finds in each text with placeholders and counts, per rule, the
    matches and the keyed hashes of the values (for the audit event; never the values)."""

    def __init__(self, scanner: Scanner, placeholders: Placeholders, hash_key: bytes,
                 deadline: float | None, allow: AllowList = NO_ALLOW_LIST) -> None:
        self.scanner = scanner
        self.allow = allow
        self.placeholders = placeholders
        self.deadline = deadline
        self._hash_key = hash_key
        self.counts: dict[str, int] = {}
        self.hashes: dict[str, set[str]] = {}

    def redact(self, text: str) -> str:
        return self.redact_parts([text])[0]

    def redact_parts(self, parts: list[str]) -> list[str]:
        """`parts` (adjacent text blocks) scanned as one text. A value that crosses a boundary
        becomes one placeholder in the part where it starts; the parts after lose its tail, so
        the parts joined read exactly like the joined text redacted. Unchanged parts are
        returned as the same objects."""
        text = parts[0] if len(parts) == 1 else "".join(parts)
        found = self.scanner.scan(text, self.deadline)
        if found and self.allow:  # allow-listed values stay, and are no event either
            found = [f for f in found if not self.allow.allows(strip(text[f.start:f.end]))]
        if not found:
            return parts
        edits = [(f.start, f.end, self._issue(f, text[f.start:f.end])) for f in found]
        return splice(parts, edits)

    def _issue(self, f: Found, value: str) -> str:
        name = f.rule.name
        self.counts[name] = self.counts.get(name, 0) + 1
        self.hashes.setdefault(name, set()).add(value_hash(self._hash_key, strip(value)))
        return self.placeholders.issue(f.rule.label, value)


def splice(parts: list[str], edits: list[tuple[int, int, str]]) -> list[str]:
    """Apply `edits` ((start, end, replacement) in the joined text, in order, not overlapping) to
    `parts`: each replacement goes into the part holding its first character."""
    if len(parts) == 1 and edits:  # one text (most): cut and join
        text, pos = parts[0], 0
        pieces: list[str] = []
        for start, end, replacement in edits:
            pieces += (text[pos:start], replacement)
            pos = end
        pieces.append(text[pos:])
        return ["".join(pieces)]
    bounds = [0, *accumulate(map(len, parts))]
    out: list[list[str]] = [[] for _ in parts]
    touched = [False] * len(parts)

    def copy(a: int, b: int) -> None:
        k = bisect.bisect_right(bounds, a) - 1
        while a < b:
            end = min(b, bounds[k + 1])
            out[k].append(parts[k][a - bounds[k]:end - bounds[k]])
            a, k = end, k + 1

    pos = 0
    for start, end, replacement in edits:
        copy(pos, start)
        first = bisect.bisect_right(bounds, start) - 1
        last = bisect.bisect_left(bounds, end) - 1
        out[first].append(replacement)
        for k in range(first, last + 1):
            touched[k] = True
        pos = end
    copy(pos, bounds[-1])
    return ["".join(o) if t else p for o, t, p in zip(out, touched, parts)]


def _placeholders_in(raw: bytes) -> Iterator[re.Match[bytes]]:
    """PLACEHOLDER_BYTES_RE's matches, tried only where a "[" is (found by `bytes.find`, faster
    than the regex engine's own scan for the next candidate)."""
    at = raw.find(b"[")
    while at != -1:
        m = PLACEHOLDER_BYTES_RE.match(raw, at)
        if m is not None:
            yield m
            at = raw.find(b"[", m.end())
        else:
            at = raw.find(b"[", at + 1)


def _closing_quote(raw: bytes, pos: int) -> int:
    """Where the JSON string that `pos` lies in ends (its unescaped closing quote)."""
    q = raw.find(b'"', pos)
    while q != -1:
        k = q
        while raw[k - 1] == 0x5C:  # a backslash
            k -= 1
        if (q - k) % 2 == 0:
            return q
        q = raw.find(b'"', q + 1)
    return len(raw)  # not reached for a valid JSON text
