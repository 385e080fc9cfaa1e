"""The DLP quality corpus (issue 14): generated pastes in the shapes people send (prose, chat,
code, logs, CSV, JSON) carrying labelled sensitive values in the formats that leaked before
(international phones with dots or no separators, cards with mixed separators, lower-case IBANs,
bare SSNs after a label, platform tokens, passwords in prose), plus look-alike samples made only
of business data and documentation placeholders; and the hand-written samples in
tests/dlp_corpus/handwritten.txt. Scored by `score()`; printed by bench/dlp_corpus.py."""

from __future__ import annotations

import json
import random
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers

from tests.plugins import dlp_values as V

TYPES = ("email", "phone", "payment_card", "iban", "us_ssn", "ip_address", "jwt", "private_key",
         "api_key", "credential")
RULE_TYPE = {"openai_key": "api_key", "anthropic_key": "api_key", "aws_access_key": "api_key",
             "aws_secret_key": "api_key", "github_token": "api_key", "gitlab_token": "api_key",
             "slack_token": "api_key", "platform_token": "api_key", "bearer_token": "api_key",
             "secret_assignment": "credential", "url_credential": "credential"}
HANDWRITTEN = Path(__file__).resolve().parent.parent / "dlp_corpus" / "handwritten.txt"
HEX = "0123456789abcdef"


@dataclass
class Sample:
    genre: str
    text: str
    values: list[tuple[str, int, int]] = field(default_factory=list)  # (type, start, end)


# -- values in the formats that leaked -----------------------------------------------------------

def phone(rng: random.Random) -> str:
    region = rng.choice(["US", "GB", "DE", "FR", "IN", "AU", "NL", "ES", "IT", "CH", "BR", "JP"])
    while True:
        ex = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        nsn = str(ex.national_number)
        num = phonenumbers.parse(f"+{ex.country_code}{nsn[:3]}{V.rand_str(rng, len(nsn) - 3, string.digits)}")
        if phonenumbers.is_valid_number(num):
            break
    intl = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    style = rng.randrange(5)
    if style == 0:
        return intl
    if style == 1:
        return intl.replace(" ", ".").replace("-", ".")
    if style == 2:
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    if style == 3:
        return "00" + intl[1:]
    return intl.replace("-", " ")


def card(rng: random.Random) -> str:
    digits = V.card_digits(rng, *rng.choice([("4", 16), ("51", 16), ("2221", 16), ("6011", 16)]))
    groups = [digits[i:i + 4] for i in range(0, 16, 4)]
    seps = [rng.choice([" ", "-", ".", ""]) for _ in range(3)]
    return groups[0] + "".join(s + g for s, g in zip(seps, groups[1:]))


def iban(rng: random.Random) -> str:
    compact = V.iban_compact(rng, rng.choice(["DE", "GB", "FR", "NL", "ES", "IT", "BE"]))
    if rng.random() < 0.5:
        compact = compact.lower()
    if rng.random() < 0.5:
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return compact


def ssn(rng: random.Random) -> tuple[str, str]:
    value = V.ssn(rng)
    if rng.random() < 0.5:
        return value, "{v}"
    return value.replace("-", ""), rng.choice(["SSN: {v}", "ssn={v}", "SSN {v}", '"ssn": "{v}"',
                                               "Social Security Number: {v}", "SSN#: {v}"])


def api_key(rng: random.Random) -> str:
    r = rng.randrange(14)
    a, lo = V.ALNUM, string.ascii_letters
    return [
        lambda: "hf_" + V.rand_str(rng, 34, lo),
        lambda: (rng.choice(["sk_live_", "rk_live_", "sk_test_"])
                 + V.rand_str(rng, 99, a)[:rng.randint(24, 99)]),
        lambda: "SG." + V.rand_str(rng, 22, V.B64URL) + "." + V.rand_str(rng, 43, V.B64URL),
        lambda: "npm_" + V.rand_str(rng, 36, a),
        lambda: "shpat_" + V.rand_str(rng, 32, HEX),
        lambda: "dop_v1_" + V.rand_str(rng, 64, HEX),
        lambda: "xkeysib-" + V.rand_str(rng, 64, HEX) + "-" + V.rand_str(rng, 16, a),
        lambda: "lin_api_" + V.rand_str(rng, 40, a),
        lambda: "pplx-" + V.rand_str(rng, 48, a),
        lambda: "glsa_" + V.rand_str(rng, 32, a) + "_" + V.rand_str(rng, 8, HEX),
        lambda: "dapi" + V.rand_str(rng, 32, HEX),
        lambda: "PMAK-" + V.rand_str(rng, 24, HEX) + "-" + V.rand_str(rng, 34, HEX),
        lambda: "sk-proj-" + V.rand_str(rng, 48, V.B64URL),
        lambda: rng.choice(["ghp_", "gho_"]) + V.rand_str(rng, 36, a),
    ][r]()


def password(rng: random.Random) -> str:
    words = ["Summer", "Winter", "Falcon", "Tiger", "Orbit", "Maple", "Copper", "Nimbus"]
    return rng.choice(words) + str(rng.randint(10, 2030)) + rng.choice("!#$%&*?") + V.rand_str(rng, 3)


CREDENTIAL_WRAPPERS = [
    "the password for the staging db is {v}", "pwd={v}", "password: {v}", "Password: {v}",
    "DB_PASSWORD={v}", "secret: {v}", '"password": "{v}"', "my password is {v} btw",
    "  password: \"{v}\"", "<password>{v}</password>", "postgres://app:{v}@db.internal:5432/app",
    "passwd = {v}", "login with admin / pwd: {v}",
]


def value(rng: random.Random) -> tuple[str, str, str]:
    """(type, value, how it is written around it)."""
    kind = rng.choice(TYPES)
    if kind == "us_ssn":
        v, wrap = ssn(rng)
        return kind, v, wrap
    if kind == "credential":
        return kind, password(rng), rng.choice(CREDENTIAL_WRAPPERS)
    if kind == "api_key":
        return kind, api_key(rng), rng.choice(["{v}", "{v}", "export TOKEN={v}", "key: {v}"])
    made = {"email": V.email, "phone": phone, "payment_card": card, "iban": iban,
            "ip_address": V.ip, "jwt": V.jwt, "private_key": V.private_key}[kind](rng)
    return kind, made, "{v}"


# -- look-alikes: business data and placeholders -------------------------------------------------

def _n(rng: random.Random, a: int, b: int) -> int:
    return rng.randint(a, b)


BUSINESS = [
    lambda r: f"ORD-{_n(r, 2019, 2025)}-{_n(r, 0, 999999):06d}",
    lambda r: f"00-{V.rand_str(r, 32, HEX)}-{V.rand_str(r, 16, HEX)}-01",  # W3C traceparent
    lambda r: f"SKU-{_n(r, 10000, 99999)}-{r.choice(['BLK', 'WHT', 'RED'])}-{r.choice(['S', 'M', 'XL'])}",
    lambda r: f"{_n(r, 1, 99999)}.{_n(r, 0, 99):02d}",
    lambda r: f"${_n(r, 1, 999)},{_n(r, 0, 999):03d}.{_n(r, 0, 99):02d}",
    lambda r: f"EUR {_n(r, 1, 999)}.{_n(r, 0, 999):03d},{_n(r, 0, 99):02d}",
    lambda r: f"{_n(r, 2019, 2025)}-{_n(r, 1, 12):02d}-{_n(r, 1, 28):02d}",
    lambda r: f"{_n(r, 1, 28):02d}.{_n(r, 1, 12):02d}.{_n(r, 2019, 2025)}",
    lambda r: f"{_n(r, 0, 9)}.{_n(r, 0, 40)}.{_n(r, 0, 99)}",
    lambda r: f"v{_n(r, 0, 9)}.{_n(r, 0, 40)}.{_n(r, 0, 9)}-rc.{_n(r, 1, 9)}",
    lambda r: str(_n(r, 10**9, 10**10 - 1)),  # ten-digit ids in CSV columns
    lambda r: str(_n(r, 1_600_000_000_000, 1_800_000_000_000)),  # epoch ms
    lambda r: f"{_n(r, 100, 999)}.{_n(r, 100, 999)}.{_n(r, 1000, 9999)}.{_n(r, 10, 99)}",
    lambda r: f"INV{_n(r, 10**7, 10**8)}",
    lambda r: f"{_n(r, 10, 99)} {_n(r, 100, 999)} {_n(r, 100, 999)}",  # quantities
    lambda r: f"{r.uniform(-80, 80):.6f}",
    lambda r: f"{_n(r, 1, 12)}/{_n(r, 1, 28)}/{_n(r, 2019, 2025)} {_n(r, 0, 23)}:{_n(r, 0, 59):02d}",
    lambda r: V.rand_str(r, 40, HEX),  # git SHA
]
PLACEHOLDERS = [
    "AKIAXXXXXXXXXXXXXXXX", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "api_key=your-api-key-here", "token: <your-token>",
    "OPENAI_API_KEY=sk-...", "password: ********", "API_KEY=${API_KEY}",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "Co-Authored-By: Claude <noreply@anthropic.com>", "secret: changeme", "password: required",
    "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "export STRIPE_KEY=your_stripe_secret_key_here",
    "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "max_tokens=4096", "token = os.environ['TOKEN']",
]


def lookalike(rng: random.Random) -> str:
    return rng.choice(PLACEHOLDERS) if rng.random() < 0.25 else rng.choice(BUSINESS)(rng)


# -- genres ----------------------------------------------------------------------------------------

TEMPLATES = {
    "prose": ["Hi, can you check why {v} fails? Ticket {L}, opened {L}.",
              "Customer wrote back with {v}; their order {L} shipped at {L}."],
    "chat": ["hey quick q - {v} - is that right? also {L}",
             "ok so here it is: {v}\nand the ref was {L} lol"],
    "code": ['cfg = {{"url": "https://api.example.com", "v": "{L}"}}\n{v}\nprint(cfg)\n',
             "def main():\n    # {L}\n    x = \"{v}\"\n    return x\n"],
    "logs": ["2025-01-14T08:11:02Z INFO req={L} user {v} ok latency={L}\n",
             "WARN [{L}] retry {L} for {v}\n"],
    "csv": ["id,sku,price,contact,date\n{L},{L},{L},{v},{L}\n{L},{L},{L},{L},{L}\n"],
    "json": ['{{"order": "{L}", "total": "{L}", "contact": "{v}", "version": "{L}"}}'],
}
SLOT = re.compile(r"(\{v\}|\{L\})")


def _fill(rng: random.Random, genre: str, template: str, positive: bool) -> Sample:
    sample, out, pos = Sample(genre, ""), [], 0
    for part in SLOT.split(template.replace("{{", "{").replace("}}", "}")):
        if part == "{v}" and positive:
            kind, v, wrap = value(rng)
            if genre == "json":
                v, wrap = json.dumps(v)[1:-1], json.dumps(wrap)[1:-1]
            pre, post = wrap.split("{v}")
            sample.values.append((kind, pos + len(pre), pos + len(pre) + len(v)))
            piece = pre + v + post
        elif part in ("{v}", "{L}"):
            piece = lookalike(rng)
            piece = json.dumps(piece)[1:-1] if genre == "json" else piece
        else:
            piece = part
        out.append(piece)
        pos += len(piece)
    sample.text = "".join(out)
    return sample


def generate(seed: int = 14, positives: int = 1200, lookalikes: int = 600
             ) -> tuple[list[Sample], list[Sample]]:
    rng = random.Random(seed)

    def one(positive: bool) -> Sample:
        genre = rng.choice(list(TEMPLATES))
        return _fill(rng, genre, rng.choice(TEMPLATES[genre]), positive)

    return [one(True) for _ in range(positives)], [one(False) for _ in range(lookalikes)]


_MARK = re.compile(r"⟦(\w+)\|(.*?)⟧", re.S)


def handwritten(path: Path = HANDWRITTEN) -> tuple[list[Sample], list[Sample]]:
    """Samples separated by `=== genre [lookalike]` lines; values marked ⟦type|value⟧."""
    positives, lookalikes = [], []
    for block in re.split(r"^=== ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        sample, pos = Sample(head.split()[0], ""), 0
        for m in _MARK.finditer(body):
            sample.text += body[pos:m.start()]
            start = len(sample.text)
            sample.text += m.group(2)
            sample.values.append((m.group(1), start, len(sample.text)))
            pos = m.end()
        sample.text += body[pos:]
        (lookalikes if "lookalike" in head else positives).append(sample)
    return positives, lookalikes


def score(scanner, positives: list[Sample], lookalikes: list[Sample]) -> dict:
    """Recall per type (a value counts when one find covers it whole), precision per type (finds
    of that type's rules that cover or overlap a labelled value), look-alike samples altered."""
    total, covered, finds, true, misses = Counter(), Counter(), Counter(), Counter(), []
    for s in positives:
        found = scanner.scan(s.text)
        for kind, a, b in s.values:
            total[kind] += 1
            if any(f.start <= a and f.end >= b for f in found):
                covered[kind] += 1
            else:
                misses.append((kind, s.text[a:b]))
        for f in found:
            kind = RULE_TYPE.get(f.rule.name, f.rule.name)
            finds[kind] += 1
            true[kind] += any(f.start < b and a < f.end for _, a, b in s.values)
    altered = [s.text for s in lookalikes if scanner.scan(s.text)]
    for s in lookalikes:
        for f in scanner.scan(s.text):
            finds[RULE_TYPE.get(f.rule.name, f.rule.name)] += 1
    per_type = {k: {"values": total[k], "recall": covered[k] / total[k] if total[k] else None,
                    "finds": finds[k], "precision": true[k] / finds[k] if finds[k] else None}
                for k in TYPES}
    return {"per_type": per_type, "recall": sum(covered.values()) / max(1, sum(total.values())),
            "values": sum(total.values()), "misses": misses, "lookalikes": len(lookalikes),
            "altered": altered}
