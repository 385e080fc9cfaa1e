"""Network addresses: IPv4 and IPv6, validated by the standard library's `ipaddress`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from plugins.dlp._rule import Rule

# Found from its first dot (a literal: fast); the first octet is read backwards from there.
IPV4_TAIL_RE = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w\-]|\.\d)")
IPV4_HEAD_RE = re.compile(r"\d{1,3}\Z")
# Hex groups and colons (optionally ending in a dotted quad); `ipaddress` decides.
# Hex groups and colons (optionally ending in a dotted quad), found from the first colon;
# `ipaddress` decides.
IPV6_TAIL_RE = re.compile(r":[0-9A-Fa-f:]{1,38}(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\w)")
IPV6_HEAD_RE = re.compile(r"[0-9A-Fa-f]{0,4}\Z")
# "version 1.2.3.4", "v1.2.3.4", OIDs, SNMP: dotted numbers that are not addresses.
_VERSION_CONTEXT_RE = re.compile(r"(?:\b(?:version|ver|release|build|oid|v)\.?\s*[:=]?\s*)$")


def _ipv4_ok(text: str, start: int, end: int) -> bool:
    try:
        ipaddress.IPv4Address(text[start:end])
    except ValueError:  # octets over 255, leading zeros
        return False
    return _VERSION_CONTEXT_RE.search(text[max(0, start - 12):start].lower()) is None


def _ipv6_ok(value: str) -> bool:
    # Needs a digit and two colons: rules out C++/Rust paths (`std::io`) and clock times.
    if value.count(":") < 2 or not any(c.isdigit() for c in value):
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def find_ips(text: str) -> Iterable[tuple[int, int]]:
    for m in IPV4_TAIL_RE.finditer(text):
        head = IPV4_HEAD_RE.search(text, max(0, m.start() - 3), m.start())
        if head is None:
            continue
        start = head.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
            continue
        if _ipv4_ok(text, start, m.end()):
            yield start, m.end()
    for m in IPV6_TAIL_RE.finditer(text):
        head = IPV6_HEAD_RE.search(text, max(0, m.start() - 4), m.start())
        assert head is not None, "IPV6_HEAD_RE matches (empty) at the end at worst"
        start = head.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "_:."):
            continue
        value = text[start:m.end()]
        if value.endswith(":") and not value.endswith("::"):
            value = value[:-1]  # "fe80::1:" in prose: a trailing colon is punctuation
        if _ipv6_ok(value):
            yield start, start + len(value)


RULES = (
    Rule("ip_address", "IP", "network", find_ips, "IPv4 and IPv6 addresses", priority=40),
)
