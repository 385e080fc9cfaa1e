"""Go RE2 patterns (as gitleaks writes them) rewritten for Python's `re`.

Three differences matter for the gitleaks rule set: RE2 lets an inline flag such as `(?i)` appear
mid-pattern (it applies to the rest of the enclosing group; Python 3.11 refuses it anywhere but
the start), RE2 has POSIX classes (`[[:alnum:]]`, which Python reads as a nested set) and RE2's
`\\z` is Python's `\\Z`. Everything else the rule set uses means the same in both.
"""

from __future__ import annotations

import re

POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "digit": "0-9", "lower": "a-z", "upper": "A-Z",
    "xdigit": "0-9A-Fa-f", "space": r"\s", "word": r"\w", "punct": r"!-/:-@\[-`{-~",
}
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]*(?:-[a-zA-Z]+)?)\)")


def _class_end(pattern: str, i: int) -> int:
    """Index just past the character class that starts at `pattern[i] == "["`."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1  # a leading "]" is a literal
    while j < len(pattern):
        if pattern[j] == "\\":
            j += 2
            continue
        if pattern.startswith("[:", j):
            close = pattern.find(":]", j + 2)
            if close != -1:
                j = close + 2
                continue
        if pattern[j] == "]":
            return j + 1
        j += 1
    raise ValueError(f"unterminated character class at {i} in {pattern!r}")


def _convert_class(body: str) -> str:
    return re.sub(r"\[:(\w+):\]", lambda m: POSIX_CLASSES[m.group(1)], body)


def convert(pattern: str) -> str:
    """`pattern` (RE2 syntax) as an equivalent Python `re` pattern. Raises KeyError for a POSIX
    class Python has no equivalent for and ValueError for an unbalanced pattern."""
    out: list[str] = []
    pending: list[int] = [0]  # per open group: scoped flag groups to close with it
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            pair = pattern[i:i + 2]
            out.append("\\Z" if pair == "\\z" else pair)
            i += 2
        elif c == "[":
            end = _class_end(pattern, i)
            out.append(_convert_class(pattern[i:end]))
            i = end
        elif c == "(":
            flags = _INLINE_FLAGS.match(pattern, i)
            if flags is not None and i > 0:
                out.append(f"(?{flags.group(1)}:")  # the rest of this group, scoped
                pending[-1] += 1
                i = flags.end()
                continue
            pending.append(0)
            out.append(c)
            i += 1
        elif c == ")":
            if len(pending) == 1:
                raise ValueError(f"unbalanced ')' at {i} in {pattern!r}")
            out.append(")" * pending.pop() + ")")
            i += 1
        else:
            out.append(c)
            i += 1
    if len(pending) != 1:
        raise ValueError(f"unbalanced '(' in {pattern!r}")
    out.append(")" * pending[0])
    return "".join(out)
