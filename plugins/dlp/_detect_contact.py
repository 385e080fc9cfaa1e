"""Contact details: e-mail addresses and phone numbers (validated with `phonenumbers`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import phonenumbers

from plugins.dlp._rule import CHECK_EVERY, Rule, check_deadline

# Vendors' attribution and notification senders, which agents put in every system prompt (Claude
# Code's commit trailer names noreply@anthropic.com): nobody's personal data, and a redaction
# event per call would bury the real ones.
VENDOR_ADDRESSES = frozenset({
    "noreply@anthropic.com", "noreply@openai.com", "noreply@github.com",
    "notifications@github.com", "noreply@gitlab.com", "noreply@google.com",
    "no-reply@google.com", "noreply@microsoft.com",
})

# Found from the "@" (a literal: fast), the local part then read backwards from it.
EMAIL_DOMAIN_RE = re.compile(
    r"@[A-Za-z0-9][A-Za-z0-9\-]{0,62}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}\b(?![\-@])")
EMAIL_LOCAL_RE = re.compile(r"[A-Za-z0-9][\w.%+\-]{0,63}\Z")

# A run of digits with the separators phone numbers are written with. Bare digit runs without a
# separator or a leading + are ids, order numbers and timestamps, not phone numbers.
PHONE_RUN_RE = re.compile(r"[+(\d][\d ().\-]{5,26}\d\)?(?![\w\-@]|[.:/]\d)")
# Nor after a word character ("tel:" excepted). A comma is allowed: it separates CSV fields.
_NOT_AFTER = ".+-/:#@$%"
_GROUP_RE = re.compile(r"\d+")
_DOTTED_NATIONAL = re.compile(r"\d{3}\.\d{3}\.\d{4}|0\d(?:\.\d\d){4}")
_DATE_RE = re.compile(r"\d{4}[.\-]\d{1,2}[.\-]\d{1,2}|\d{1,2}[.\-]\d{1,2}[.\-]\d{2,4}$")
# Group shapes of other identifiers: SSN 3-2-4, card and account numbers in blocks of four,
# Amex/Diners 4-6-5 and 4-6-4.
_OTHER_SHAPES = re.compile(r"\d{3}-\d{2}-\d{4}|\d{4}([ \-])\d{4}\1\d{4}.*|\d{4}([ \-])\d{6}\2\d{4,5}")
# A number right after one of these words is an identifier, not a phone number; an IBAN's
# country and check digits ("DE89 ") make the digits after them an account number.
_NEGATIVE_CONTEXT_RE = re.compile(
    r"(?:\b(?:isbn(?:-1[03])?|order|invoice|tracking|serial|version|build|ref|id|sku)\b|#)"
    r"[\s:#.\-]*(?:number|no\.?|nr\.?)?[\s:#.\-]*$|\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4})* ?$")
# Numbers written without a country code are tried against these regions: those whose national
# format starts with a trunk 0, or those (NANP, Indian mobiles) whose numbers never do.
TRUNK_ZERO_REGIONS = ("GB", "DE", "FR", "AU", "IN")
NO_TRUNK_REGIONS = ("US", "IN")


def _valid(candidate: str) -> bool:
    """A real, assignable number for the phonenumbers library (not just the right length)."""
    digits = sum(c.isdigit() for c in candidate)
    if not 7 <= digits <= 15:
        return False
    international = candidate.startswith("+")
    if not international and not any(c in candidate for c in " .-()"):
        return False
    if international:
        regions: tuple[str | None, ...] = (None,)
    else:
        regions = TRUNK_ZERO_REGIONS if candidate.lstrip("(")[0] == "0" else NO_TRUNK_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def _looks_other(candidate: str) -> bool:
    """Dates, versions, IP-like dotted quads and other identifiers' shapes."""
    groups = _GROUP_RE.findall(candidate)
    if len(groups[-1]) < 2:  # ISBNs end in one check digit; phone numbers never do
        return True
    if not candidate.startswith(("+", "00")) and _OTHER_SHAPES.fullmatch(candidate):
        return True
    if _DATE_RE.match(candidate.lstrip("+(")):
        return True
    if "." in candidate and not any(c in candidate for c in " -()"):
        if candidate.startswith(("+", "00")):
            return False  # +33.6.12.23.45.12: dots are one of the ways to write the number
        # 169.3475, 1.2.3, 10.0.19045.3803, 911.625.7251.10: decimals, versions and builds. A
        # national number is written with dots only as 415.555.2671 or 01.42.68.53.00.
        return not _DOTTED_NATIONAL.fullmatch(candidate)
    return False


def _context_says_other(text: str, start: int) -> bool:
    return _NEGATIVE_CONTEXT_RE.search(text[max(0, start - 24):start].lower()) is not None


def _glued(text: str, start: int) -> bool:
    before = text[start - 1]
    if before.isalnum() or before == "_" or before in _NOT_AFTER:
        return not (before == ":" and text[max(0, start - 4):start].lower() == "tel:")
    return False


def _prefixes(run: str) -> Iterator[str]:
    """Shorter readings of a run that swallowed what follows the number ("+1 415 555 2671 2
    times"): drop trailing digit groups, longest first."""
    ends = [m.end() for m in _GROUP_RE.finditer(run)][:-1]
    for end in reversed(ends[-6:]):
        piece = run[:end]
        if sum(c.isdigit() for c in piece) < 7:
            return
        yield piece


def find_phones(text: str) -> Iterable[tuple[int, int]]:
    for n, m in enumerate(PHONE_RUN_RE.finditer(text), 1):
        if n % CHECK_EVERY == 0:
            check_deadline()  # each candidate may cost a library check: stay within budget
        run, base = m.group(), m.start()
        if base and _glued(text, base):
            continue
        if run.startswith("(") and ")" not in run:
            run, base = run[1:], base + 1
        if run.endswith(")") and "(" not in run:
            run = run[:-1]
        if run[0] != "+" and not any(c in run for c in " .-()"):
            continue  # a bare digit run: an id, an order number, a timestamp
        if _context_says_other(text, base) or _looks_other(run):
            continue  # and not a shorter reading either: a card's first groups are no phone
        # Only an international number is tried shorter: "+1 415 555 2671 2 times".
        for piece in (run, *_prefixes(run)) if run[0] == "+" else (run,):
            if not _looks_other(piece) and _valid(piece):
                yield base, base + len(piece)
                break


def find_emails(text: str) -> Iterable[tuple[int, int]]:
    for m in EMAIL_DOMAIN_RE.finditer(text):
        at = m.start()
        local = EMAIL_LOCAL_RE.search(text, max(0, at - 64), at)
        if local is None:
            continue
        start = local.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "_.%+-"):
            continue  # the local part runs on further left: longer than an address allows
        if _in_url_userinfo(text, start) or text[start:m.end()].lower() in VENDOR_ADDRESSES:
            continue
        yield start, m.end()


def _in_url_userinfo(text: str, start: int) -> bool:
    """`scheme://user:password@host`, `https://public@sentry.io/1`: that "@" ends the URL's
    credentials (url_credential's business), not an address."""
    head = text[max(0, start - 200):start]
    cut = max(head.rfind(c) for c in " \t\n\"'<>(")
    token = head[cut + 1:]
    scheme = token.rfind("://")
    return scheme != -1 and "/" not in token[scheme + 3:]  # a "/": the path, where addresses are


RULES = (
    Rule("email", "EMAIL", "contact", find_emails, "e-mail addresses", triggers=("@",), priority=20),
    Rule("phone", "PHONE", "contact", find_phones,
         "phone numbers in international (+CC) or separated national formats, validated with "
         "the phonenumbers library", priority=60, min_digits=7),
)
