"""A labelled corpus for the DLP detectors, generated from a seed: prose, code, JSON, logs and
e-mails carrying sensitive values (with their exact spans) among look-alikes, plus samples made
of look-alikes only. See dlp_values.py for the values themselves."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field

from tests.plugins import dlp_values as V

PROSE = [
    "Hi team, please reach out to {v} about the renewal (ticket {L}). Thanks!",
    "As discussed on the call, the customer's details are {v}. Their last order was {L}.",
    "Can you summarise this? The account holder gave {v} and later {v}; see {L} for context.",
    "Note: {v} was flagged by the fraud team on {L}. Upgrade to {L} before Friday.",
    "I tried {v}, but it bounced. We shipped {L}; the release is {L}.",
]
CODE = [
    'client = Client(base_url="https://api.example.com", key="{v}")  # {L}\n',
    "def notify():\n    send(to=\"{v}\", ref=\"{L}\")\n    return {L}\n",
    "# config for {L}\nCONTACT = '{v}'\nSECONDARY = '{v}'\nRETRIES = 3\n",
    "const settings = {{ owner: \"{v}\", build: \"{L}\" }};\nconsole.log(settings);\n",
    "export SERVICE_VERSION={L}\n{v}\nexport REGION=eu-west-1\n",
]
JSON_DOCS = [
    '{{"id": "{L}", "contact": "{v}", "created": "{L}"}}',
    '{{"user": {{"email_or_phone": "{v}", "notes": "see {L}"}}, "items": [{L}]}}',
    '[{{"ref": "{L}"}}, {{"value": "{v}"}}, {{"other": "{v}"}}]',
]
LOGS = [
    "2024-03-15T10:22:33Z INFO [{L}] login ok for {v} from {v}\n",
    "ERROR 2024-03-15 10:22:34,120 payment failed value={v} order={L} trace={L}\n",
    "[{L}] DEBUG request headers: {v} (took 35 ms)\n",
]
EMAILS = [
    "From: Support team\nSubject: Re: case {L}\n\nHello,\n\nplease update the "
    "record to {v}.\nOur reference: {L}\n\nBest regards,\nThe billing team\n",
    "Subject: onboarding\n\nHi! Attached the details you asked for:\n- {v}\n- {v}\n\nCheers\n",
]
GENRES = {"prose": PROSE, "code": CODE, "json": JSON_DOCS, "logs": LOGS, "email": EMAILS}
SLOT = re.compile(r"(\{v\}|\{L\})")


@dataclass
class Sample:
    genre: str
    text: str
    values: list[tuple[str, int, int]] = field(default_factory=list)  # (rule, start, end)


def _value(rng: random.Random) -> tuple[str, str, str]:
    """(rule family, value, how it is written around it)."""
    rule = rng.choice(list(V.GENERATORS) + ["secret", "secret"])
    if rule == "secret":
        value, wrapper = V.secret(rng)
        return rule, value, wrapper
    return rule, V.GENERATORS[rule](rng), "{v}"


def _fill(rng: random.Random, genre: str, template: str, with_values: bool) -> Sample:
    sample = Sample(genre, "")
    out: list[str] = []
    pos = 0
    for part in SLOT.split(template.replace("{{", "{").replace("}}", "}")):
        if part == "{v}" and with_values:
            rule, value, wrapper = _value(rng)
            if genre == "json":  # inside a JSON string: the value as JSON text writes it
                value, wrapper = json.dumps(value)[1:-1], json.dumps(wrapper)[1:-1]
            pre, post = wrapper.split("{v}")
            start = pos + len(pre)
            sample.values.append((rule, start, start + len(value)))
            piece = pre + value + post
        elif part in ("{v}", "{L}"):
            piece = V.lookalike(rng)
            if genre == "json":
                piece = json.dumps(piece)[1:-1]
        else:
            piece = part
        out.append(piece)
        pos += len(piece)
    sample.text = "".join(out)
    return sample


def build(seed: int = 5, positives: int = 600, lookalikes: int = 600) -> tuple[list[Sample], list[Sample]]:
    rng = random.Random(seed)
    genres = list(GENRES)

    def one(with_values: bool) -> Sample:
        genre = rng.choice(genres)
        return _fill(rng, genre, rng.choice(GENRES[genre]), with_values)

    return [one(True) for _ in range(positives)], [one(False) for _ in range(lookalikes)]


def prompt(size: int, seed: int = 7) -> str:
    """A realistic mixed prompt of about `size` characters (for the benchmark)."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        genre = rng.choice(list(GENRES))
        text = _fill(rng, genre, rng.choice(GENRES[genre]), rng.random() < 0.3).text
        filler = " ".join(rng.choice(["the", "service", "request", "returns", "a", "value", "when",
                                      "deploying", "we", "noticed", "latency", "in", "region"])
                          for _ in range(rng.randint(20, 60)))
        parts += [text, filler + ".\n"]
        total += len(text) + len(filler) + 2
    return "".join(parts)[:size]
