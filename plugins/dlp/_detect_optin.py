"""Opt-in heuristics: personal names and postal addresses. Off unless a scope enables them: they
are guesses (capitalised words after a cue), good enough to catch the obvious, never complete."""

from __future__ import annotations

import re
from collections.abc import Iterable

from plugins.dlp._rule import Rule, spans

_NAME = r"[A-Z][a-z]+(?:[\-'][A-Z][a-z]+)?"
_FULL_NAME = rf"{_NAME}(?:\s+[A-Z]\.)?(?:\s+{_NAME}){{1,2}}"
# A cue and then the name: "Mr. John Smith", "my name is Jane Doe", "Name: Ada Lovelace",
# "Regards,\nJohn Smith", "Dear Jane Doe".
NAME_RE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Madam)\.?\s+(" + _NAME + r"(?:\s+" + _NAME + r")?)"
    r"|\b(?i:my name is|name\s*:|i am|i'm|dear|regards,|sincerely,|thanks,|cheers,|contact:)"
    r"\s+(" + _FULL_NAME + r"))"
)
_STREET_TYPES = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Parkway|Pkwy|Square|Sq|Highway|Hwy|Circle|Cir"
)
ADDRESS_RE = re.compile(
    r"\b\d{1,6}\s+(?:[A-Z][a-z]+\.?\s+){1,4}(?:" + _STREET_TYPES + r")\b\.?"
    r"(?:,?\s+(?:Apt|Suite|Unit|#)\.?\s*\w+)?"
    r"(?:,\s*[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*(?:,\s*[A-Z]{2})?(?:\s+\d{5}(?:-\d{4})?)?)?"
)


def find_names(text: str) -> Iterable[tuple[int, int]]:
    for m in NAME_RE.finditer(text):
        group = 1 if m.group(1) else 2
        yield m.span(group)


def find_addresses(text: str) -> Iterable[tuple[int, int]]:
    return spans(ADDRESS_RE, text)


RULES = (
    Rule("person_name", "NAME", "optin", find_names,
         "personal names after a cue (Mr./Dr., 'my name is', greetings, signatures); opt-in",
         default=False, priority=70),
    Rule("postal_address", "ADDRESS", "optin", find_addresses,
         "street addresses (number, street name and type, optional city/state/ZIP); opt-in",
         default=False, priority=65),
)
