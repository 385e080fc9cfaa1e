"""The last line of defence for answer headers: a header whose name or value holds CR, LF or NUL
is dropped (and logged by name), so no byte sequence can add or split a header line in an answer
the gateway sends. Values are validated at the edge (`gateway.validation`); this guard catches what
comes from elsewhere (a provider's header, a plugin's, a stored alias)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

log = logging.getLogger("gateway.headers")
_SPLITTING = re.compile(r"[\r\n\x00]")


def safe(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        if _SPLITTING.search(name) or _SPLITTING.search(value):
            log.warning("dropped an answer header %r: CR, LF or NUL in it",
                        _SPLITTING.sub("?", name)[:64])
            continue
        out[name] = value
    return out
