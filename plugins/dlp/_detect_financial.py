"""Financial identifiers: payment cards (Luhn + issuer ranges), IBANs (mod-97) and US SSNs."""

from __future__ import annotations

import re
from collections.abc import Iterable

from plugins.dlp._rule import Rule, keyword_spans, spans

# 4-4-4-4(-3) with any mix of space, dash or dot between the groups ("4111 1111-1111 1111" is
# how people retype a card), Amex/Diners 4-6-5 / 4-6-4, or 13-19 digits in a row. Luhn and the
# issuer ranges decide.
CARD_RE = re.compile(
    r"\d{4}(?:[ \-.]?\d{4}[ \-.]?\d{4}[ \-.]?\d{4}(?:[ \-.]?\d{1,3})?|[ \-.]?\d{6}[ \-.]?\d{4,5}"
    r"|\d{9,15})(?![\w\-]|[./:]\d)"
)
# Nor after a word character: part of a longer token. A comma is allowed: it separates CSV fields.
NOT_AFTER = "-./:#"

# Any letter case: people type "de89 3704 …"; the country's length and mod-97 decide.
IBAN_RE = re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,8}(?: ?[A-Za-z0-9]{1,3})?\b")

SSN_RE = re.compile(r"(\d{3})([ \-])(\d{2})\2(\d{4})(?![\w\-]|[./:]\d)")
# Nine digits in a row are an SSN only right after a label: alone they are ids and amounts.
SSN_LABEL_KW = re.compile(r"ssn|social security|soc\.? ?sec|ss#|ss ?no")
SSN_LABELLED_RE = re.compile(
    r"(?i:ssn|social security(?: number| no\.?| #)?|soc\.? ?sec\.?(?: no\.?)?|ss#|ss ?no\.?)"
    r"(?:\\?[\"'])?\s*(?:[:=#]{1,2}|is|was)?\s*(?:\\?[\"'])?\s*(\d{9})(?!\d)")

# Lengths from the SWIFT IBAN registry.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_network(digits: str) -> str | None:
    """The issuing network of a card number by its prefix and length, or None."""
    n, p2, p4, p6 = len(digits), int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or p2 == 65 or 644 <= p4 // 10 <= 649 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if (300 <= p4 // 10 <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if 2200 <= p4 <= 2204 and 16 <= n <= 19:
        return "mir"
    if p2 in (62, 81) and 16 <= n <= 19:
        return "unionpay"
    if (p2 == 50 or 56 <= p2 <= 69) and 12 <= n <= 19:
        return "maestro"
    return None


_IBAN_HEAD_RE = re.compile(r"[A-Z]{2}\d{2} ?$")


# Product and parcel numbers: EAN/GTIN-13 pass Luhn about one time in ten.
_PRODUCT_CONTEXT_RE = re.compile(r"(?i)(?:gtin|ean|upc|isbn|barcode|sku|tracking|parcel)\W{0,6}$")


def _card_ok(value: str, text: str, start: int, end: int) -> bool:
    if _IBAN_HEAD_RE.search(text[max(0, start - 5):start]):
        return False  # the account digits of an IBAN (one that failed its own check)
    digits = value.replace(" ", "").replace("-", "").replace(".", "")
    if len(digits) == 13 and digits == value and digits[0] != "4":
        return False  # 13 bare digits: a barcode, unless a (legacy) Visa
    if _PRODUCT_CONTEXT_RE.search(text[max(0, start - 16):start]):
        return False
    return 13 <= len(digits) <= 19 and luhn_ok(digits) and card_network(digits) is not None


def iban_ok(compact: str) -> bool:
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def find_ibans(text: str) -> Iterable[tuple[int, int]]:
    for m in IBAN_RE.finditer(text):
        length = IBAN_LENGTHS.get(m.group()[:2].upper())
        if length is None:
            continue
        # The candidate may run on into a following group of digits: cut it at the country's
        # length, which must end on a group boundary.
        seen, end = 0, m.start()
        while end < m.end() and seen < length:
            seen += text[end] != " "
            end += 1
        if seen != length or (end < len(text) and text[end].isalnum()):
            continue
        if iban_ok(text[m.start():end].replace(" ", "").upper()):
            yield m.start(), end


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """SSA rules: no area 000, 666 or 900-999, no group 00, no serial 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def find_ssns(text: str) -> Iterable[tuple[int, int]]:
    for start, end in spans(SSN_RE, text, not_after=NOT_AFTER):
        if ssn_ok(text[start:start + 3], text[start + 4:start + 6], text[start + 7:end]):
            yield start, end
    yield from keyword_spans(SSN_LABEL_KW, SSN_LABELLED_RE, text, 1, _bare_ssn_ok)


def _bare_ssn_ok(value: str, text: str, start: int, end: int) -> bool:
    return ssn_ok(value[:3], value[3:5], value[5:])


def find_cards(text: str) -> Iterable[tuple[int, int]]:
    return spans(CARD_RE, text, check=_card_ok, not_after=NOT_AFTER)


RULES = (
    Rule("payment_card", "CARD", "financial", find_cards,
         "payment card numbers of every current network, any separators (Luhn and issuer range "
         "checked)",
         priority=10, min_digits=13),
    Rule("iban", "IBAN", "financial", find_ibans,
         "IBANs in any letter case (country length and mod-97 checked)",
         priority=10),
    Rule("us_ssn", "SSN", "financial", find_ssns,
         "US social security numbers (SSA area/group/serial rules; nine bare digits only after an "
         "SSN label)", priority=15, min_digits=9),
)
