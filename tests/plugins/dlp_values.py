"""Random but valid sensitive values (one generator per default structured rule) and look-alikes
that must not be touched. Used by the DLP corpus tests and `bench/dlp_scan.py`; seeded by the
caller's `random.Random`, so a corpus is reproducible."""

from __future__ import annotations

import base64
import json
import random
import string
import uuid

import phonenumbers

from plugins.dlp._detect_financial import IBAN_LENGTHS, luhn_ok

FIRST = ["jane", "john", "maria", "li", "ahmed", "olga", "pierre", "sofia", "kenji", "ana", "tom"]
LAST = ["doe", "smith", "garcia", "chen", "khan", "ivanova", "martin", "rossi", "tanaka", "silva"]
DOMAINS = ["example.com", "acme-corp.io", "mail.example.org", "uni-hamburg.de", "company.co.uk",
           "startup.ai", "gmail.com", "outlook.fr", "sub.dept.example.net"]
B64URL = string.ascii_letters + string.digits + "-_"
ALNUM = string.ascii_letters + string.digits


def rand_str(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def email(rng):
    sep = rng.choice([".", "_", "", "-"])
    local = f"{rng.choice(FIRST)}{sep}{rng.choice(LAST)}"
    if rng.random() < 0.3:
        local += str(rng.randint(1, 99))
    if rng.random() < 0.15:
        local += "+" + rng.choice(["news", "work", "test"])
    return f"{local}@{rng.choice(DOMAINS)}"


_PHONE_REGIONS = ["US", "GB", "DE", "FR", "IN", "AU", "JP", "BR", "ES", "IT", "NL", "CH", "SE", "MX"]
_NATIONAL_OK = {"US", "GB", "DE", "FR", "IN", "AU"}


def phone(rng):
    while True:
        region = rng.choice(_PHONE_REGIONS)
        example = phonenumbers.example_number(region)
        nsn = str(example.national_number)
        digits = nsn[:2] + "".join(rng.choice(string.digits) for _ in nsn[2:])
        number = phonenumbers.parse("+" + str(example.country_code) + digits, None)
        if not phonenumbers.is_valid_number(number):
            continue
        fmt = rng.choice(["intl", "e164", "national"] if region in _NATIONAL_OK else ["intl", "e164"])
        if fmt == "national":
            text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            if region == "US" and rng.random() < 0.5:
                text = (text.replace("(", "").replace(") ", rng.choice(["-", "."]))
                        .replace("-", rng.choice(["-", "."])))
            return text
        kind = (phonenumbers.PhoneNumberFormat.INTERNATIONAL if fmt == "intl"
                else phonenumbers.PhoneNumberFormat.E164)
        return phonenumbers.format_number(number, kind)


_CARD_PREFIXES = [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16),
                  ("2500", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16),
                  ("36", 14), ("62", 16), ("62", 19), ("6759", 16), ("4", 19)]


def card_digits(rng, prefix: str, length: int, valid: bool = True) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        if luhn_ok(body + check) == valid:
            return body + check
    raise AssertionError("unreachable")


def group_card(rng, digits: str) -> str:
    sep = rng.choice([" ", "-", ""])
    if len(digits) == 15:
        parts = [digits[:4], digits[4:10], digits[10:]]
    elif len(digits) == 14:
        parts = [digits[:4], digits[4:10], digits[10:]]
    elif len(digits) == 16 or len(digits) == 19:
        parts = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    else:
        return digits
    return sep.join(parts)


def card(rng):
    prefix, length = rng.choice(_CARD_PREFIXES)
    return group_card(rng, card_digits(rng, prefix, length))


_IBAN_COUNTRIES = ["DE", "GB", "FR", "ES", "IT", "NL", "CH", "BE", "AT", "PL", "SE", "IE", "PT"]


def iban_compact(rng, country: str, valid: bool = True) -> str:
    n = IBAN_LENGTHS[country] - 4
    bban = (rand_str(rng, 4, string.ascii_uppercase) + rand_str(rng, n - 4, string.digits)
            if country in ("GB", "IE", "NL") else rand_str(rng, n, string.digits))
    num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    check = 98 - num % 97
    if not valid:
        check = (check + rng.randint(1, 90)) % 100
    return f"{country}{check:02d}{bban}"


def iban(rng):
    compact = iban_compact(rng, rng.choice(_IBAN_COUNTRIES))
    if rng.random() < 0.6:
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return compact


def ssn(rng):
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def ip(rng):
    r = rng.random()
    if r < 0.4:
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if r < 0.7:
        return ".".join(str(rng.randint(1, 223)) for _ in range(4))
    if r < 0.85:
        return ":".join(f"{rng.randint(0, 0xffff):x}" for _ in range(8))
    return f"2001:db8:{rng.randint(1, 0xffff):x}::{rng.randint(1, 0xfff):x}"


def jwt(rng):
    def seg(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    payload = {"sub": str(rng.randint(1000, 99999)), "name": rng.choice(FIRST), "iat": 1700000000}
    return f"{seg({'alg': 'HS256', 'typ': 'JWT'})}.{seg(payload)}.{rand_str(rng, 43, B64URL)}"


def private_key(rng):
    kind = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    lines = [rand_str(rng, 64, ALNUM + "+/") for _ in range(rng.randint(3, 8))]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


def secret(rng):
    """(rule family value, how it is written): the value and the text around it."""
    kind = rng.randrange(12)
    if kind == 0:
        v = "sk-proj-" + rand_str(rng, 48, B64URL)
    elif kind == 1:
        v = "sk-" + rand_str(rng, 48)
    elif kind == 2:
        v = "sk-ant-api03-" + rand_str(rng, 80, B64URL) + "AA"
    elif kind == 3:
        v = rng.choice(["AKIA", "ASIA"]) + rand_str(rng, 16, string.ascii_uppercase + string.digits)
    elif kind == 4:
        v = rng.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + rand_str(rng, 36)
    elif kind == 5:
        v = "github_pat_" + rand_str(rng, 22) + "_" + rand_str(rng, 59)
    elif kind == 6:
        v = "glpat-" + rand_str(rng, 20, B64URL)
    elif kind == 7:
        v = rng.choice(["xoxb-", "xoxp-", "xoxa-"]) + f"{rng.randint(10**10, 10**11)}-{rand_str(rng, 24)}"
    elif kind == 8:
        v = rand_str(rng, 40, ALNUM + "/+")
        v = v[:5] + "7" + v[6:]
        return v, rng.choice(["aws_secret_access_key = {v}", "AWS_SECRET_ACCESS_KEY={v}",
                              '"aws_secret_access_key": "{v}"'])
    elif kind == 9:
        v = rand_str(rng, 32, B64URL) + "9"
        return v, "Authorization: Bearer {v}"
    else:
        v = rand_str(rng, rng.randint(16, 40)) + str(rng.randint(0, 9))
        return v, rng.choice(["api_key={v}", "apikey: {v}", "token={v}", '"api_key": "{v}"',
                              "export API_KEY={v}", "password: {v}"])
    return v, "{v}"


GENERATORS = {"email": email, "phone": phone, "payment_card": card, "iban": iban, "us_ssn": ssn,
              "ip_address": ip, "jwt": jwt, "private_key": private_key}


# -- look-alikes -------------------------------------------------------------------------------

def _hex(rng, n):
    return rand_str(rng, n, "0123456789abcdef")


def _bad_card(rng):
    prefix, length = rng.choice(_CARD_PREFIXES)
    return group_card(rng, card_digits(rng, prefix, length, valid=False))


def _bad_iban(rng):
    compact = iban_compact(rng, rng.choice(_IBAN_COUNTRIES), valid=False)
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def _n(rng, a, b):
    return rng.randint(a, b)


LOOKALIKES = [
    lambda r: r.choice(["Order #", "order no. ", "ORD-", "PO-", "Invoice INV-"]) + str(_n(r, 10**5, 10**9)),
    lambda r: r.choice(["v", "version ", "", "release "]) + ".".join(str(_n(r, 0, 40)) for _ in range(3)),
    lambda r: str(uuid.UUID(int=r.getrandbits(128))),
    lambda r: (f"2024-{_n(r, 1, 12):02d}-{_n(r, 1, 28):02d}"
               f"T{_n(r, 0, 23):02d}:{_n(r, 0, 59):02d}:{_n(r, 0, 59):02d}Z"),
    lambda r: str(_n(r, 1_600_000_000, 1_800_000_000) * r.choice([1, 1000])),
    lambda r: _hex(r, r.choice([7, 32, 40, 64])),
    lambda r: r.choice(["ISBN 978-0-306-40615-7", "ISBN-10: 0-306-40615-2", "978-3-16-148410-0",
                        "ISBN 978-1-4028-9462-6", "0-19-852663-6"]),
    _bad_card,
    _bad_iban,
    lambda r: f"{r.choice(['000', '666', '912'])}-{_n(r, 10, 99)}-{_n(r, 1000, 9999)}",
    lambda r: f"{_n(r, 1, 28):02d}/{_n(r, 1, 12):02d}/2024 {_n(r, 0, 23):02d}:{_n(r, 0, 59):02d}",
    lambda r: f"${_n(r, 1, 999)},{_n(r, 0, 999):03d}.{_n(r, 0, 99):02d}",
    lambda r: f"build {_n(r, 1000, 99999)}-{_hex(r, 7)}",
    lambda r: r.choice(["max_tokens=1024", "token count: 4096", "the api_key parameter",
                        "Bearer authentication", "token = os.environ['TOKEN']", "password: required"]),
    lambda r: f"#{_hex(r, 6)}",
    lambda r: f"{_n(r, 1, 9)}.{_n(r, 0, 99)}.{_n(r, 0, 999)}-beta.{_n(r, 1, 9)}",
    lambda r: ":".join(f"{_n(r, 0, 255):02X}" for _ in range(6)),
    lambda r: f"{r.uniform(-80, 80):.4f}, {r.uniform(-170, 170):.4f}",
    lambda r: f"{r.choice(['python', 'node', 'postgres'])}:{_n(r, 3, 20)}.{_n(r, 0, 12)}.{_n(r, 0, 9)}-slim",
    lambda r: r.choice(["**** **** **** ", "XXXX-XXXX-XXXX-", "card ending in "]) + f"{_n(r, 0, 9999):04d}",
    lambda r: f"{_n(r, 1, 28):02d}.{_n(r, 1, 12):02d}.{_n(r, 1990, 2030)}",
    lambda r: f"localhost:{_n(r, 1024, 65535)}",
    lambda r: f"+1 {r.choice(['123', '011', '100'])}-{_n(r, 200, 999)}-{_n(r, 1000, 9999)}",
    lambda r: f"took {_n(r, 1, 99999)} ms, {_n(r, 1, 64)},{_n(r, 0, 999):03d} MB",
    lambda r: f"10.0.{_n(r, 10000, 22631)}.{_n(r, 1000, 4000)}",
    lambda r: f"^{_n(r, 0, 9)}.{_n(r, 0, 20)}.{_n(r, 0, 9)} || ~{_n(r, 0, 9)}.{_n(r, 0, 9)}.0",
    lambda r: f"HTTP/1.1 {r.choice([200, 404, 503])} at line {_n(r, 1, 9999)}:{_n(r, 1, 120)}",
]


def lookalike(rng) -> str:
    return rng.choice(LOOKALIKES)(rng)
