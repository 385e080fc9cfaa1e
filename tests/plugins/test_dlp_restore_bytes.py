"""A whole answer's placeholders put back in its bytes (`Placeholders.restore_bytes`) give the
client what the walk of the parsed answer (`restore_tree`) gives, or step aside for the walk; and
the core's filter chain hands the filters after a byte rewrite the rewritten answer."""

from __future__ import annotations

import json
import random
from typing import Any

from gateway import streaming
from gateway.call import ResponseFilter
from gateway.streaming import apply_whole
from plugins.dlp._placeholders import Placeholders
from plugins.dlp._restore import RestoreFilter, restore_tree

PLAIN = ["jane.doe@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "AKIAIOSFODNN7EXAMPLE",
         "zoë@exämple.com"]
ESCAPED = ["-----BEGIN KEY-----\nMIIEow\"IBAAK\n-----END KEY-----", "C:\\keys\\id_rsa"]


def _placeholders() -> Placeholders:
    ph = Placeholders()
    for i, v in enumerate(PLAIN * 3):  # [EMAIL_1] … [EMAIL_10] both exist
        ph.issue("EMAIL" if i % 3 == 0 else "PHONE", f"{v}#{i}")
    return ph


def _text(rng: random.Random, tokens: list[str]) -> str:
    extra = ["[EMAIL_99]", "[EMAIL_", "[[PHONE_2]]", "[", "]"]
    words = ["echo:", "the", " ", "\n", "é", '"q"', "\\", "x", "\u2028", "😀"]
    return "".join(rng.choice(tokens + extra if rng.random() < 0.3 else words)
                   for _ in range(rng.randint(0, 12)))


def _tree(rng: random.Random, tokens: list[str], depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice([_text(rng, tokens), _text(rng, tokens), 7, 1.5, None, True])
    if roll < 0.55:
        return [_tree(rng, tokens, depth + 1) for _ in range(rng.randint(0, 3))]
    body: dict[str, Any] = {}
    for _ in range(rng.randint(0, 4)):
        key = rng.choice(["content", "text", "arguments", "partial_json", "input", "k",
                          rng.choice(tokens)])  # now and then a placeholder as a key
        value = _tree(rng, tokens, depth + 1)
        body[key] = json.dumps(value) if key in ("arguments", "partial_json") else value
    return body


def _dumps(rng: random.Random, body: Any) -> bytes:
    style = rng.choice([{}, {"ensure_ascii": False}, {"indent": 1, "ensure_ascii": False},
                        {"separators": (",", ":"), "ensure_ascii": False}])
    return json.dumps(body, **style).encode()  # type: ignore[arg-type]


def test_bytes_restore_gives_what_the_walk_gives_or_steps_aside():
    rng = random.Random(13)
    taken = changed = 0
    for i in range(3000):
        ph = _placeholders()
        if i % 4 == 0:
            ph.issue("PRIVATE_KEY", rng.choice(ESCAPED))
        tokens = list(ph._values)
        raw = _dumps(rng, {"choices": [{"message": _tree(rng, tokens)}], "usage": {"n": 3}})
        expected = restore_tree(json.loads(raw), ph)
        out = ph.restore_bytes(raw)
        if out is None:
            continue
        taken += 1
        changed += out is not raw
        assert json.loads(out) == expected, raw
    assert taken > 1000 and changed > 250  # the fast path is the common one, not a corner


def test_the_providers_bytes_stay_as_they_were_but_for_the_values():
    ph = Placeholders()
    email = ph.issue("EMAIL", "ada@example.com")
    answer = {"choices": [{"message": {"content": f"mailed {email}, not [EMAIL_2]", "tool_calls": [
        {"function": {"arguments": json.dumps({"to": email})}}]}}], "usage": {"total": 9}}
    raw = json.dumps(answer, indent=1).encode()  # the provider's own layout
    out = ph.restore_bytes(raw)
    assert out == raw.replace(email.encode(), b"ada@example.com")
    assert json.loads(json.loads(out)["choices"][0]["message"]["tool_calls"][0]["function"]
                      ["arguments"]) == {"to": "ada@example.com"}


def test_the_walk_decides_where_the_bytes_cannot_tell():
    ph = Placeholders()
    email = ph.issue("EMAIL", "ada@example.com")
    quoted = ph.issue("SECRET", 'pa"ss')
    assert ph.restore_bytes(json.dumps({email: "x"}).encode()) is None  # a key: the walk keeps it
    assert ph.restore_bytes(json.dumps({"k ": {f" {email} ": 1}}, indent=2).encode()) is None
    assert ph.restore_bytes(json.dumps({"t": quoted}).encode()) is None  # escaped differently in JSON text
    assert ph.restore_bytes(b'{"t": "\\u005bEMAIL_1]"}') is None  # a \u escape spelling a token
    spelled_e = ph.restore_bytes(json.dumps({"t": f"é {email}"}).encode())  # one that cannot
    assert spelled_e is not None and json.loads(spelled_e) == {"t": "é ada@example.com"}
    assert ph.restore_bytes(json.dumps({"t": email}).encode("utf-16")) is None
    backslashes = b'{"t": "\\\\[EMAIL_1]\\\\", "u": ":"}'  # an escaped backslash ends no string
    assert ph.restore_bytes(backslashes) == backslashes.replace(b"[EMAIL_1]", b"ada@example.com")
    untouched = b'{"t": "no value here, only [EMAIL_7]"}'
    assert ph.restore_bytes(untouched) is untouched


class _Reader(ResponseFilter):
    modifies = False

    def __init__(self) -> None:
        self.seen: Any = None

    def on_json(self, body: Any) -> Any:
        self.seen = body
        return body


class _Tagger(ResponseFilter):
    def on_json(self, body: Any) -> Any:
        body["tag"] = True
        return body


def _answer(ph: Placeholders) -> tuple[bytes, Any]:
    raw = json.dumps({"choices": [{"message": {"content": f"to {next(iter(ph._values))}"}}]}).encode()
    return raw, json.loads(raw)


def test_the_filters_after_a_byte_rewrite_see_the_rewritten_answer():
    ph = Placeholders()
    ph.issue("EMAIL", "ada@example.com")
    restored = {"choices": [{"message": {"content": "to ada@example.com"}}]}
    raw, body = _answer(ph)
    reader = _Reader()
    out = apply_whole([RestoreFilter(ph), reader], raw, body)
    assert out is not None and json.loads(out) == restored and reader.seen == restored
    out = apply_whole([RestoreFilter(ph), _Tagger()], *_answer(ph))
    assert out is not None and json.loads(out) == {**restored, "tag": True}
    out = apply_whole([_Tagger(), RestoreFilter(ph)], *_answer(ph))  # the walk, after a change
    assert out is not None and json.loads(out) == {**restored, "tag": True}
    raw, body = json.dumps({"choices": []}).encode(), {"choices": []}
    assert apply_whole([RestoreFilter(ph), _Reader()], raw, body) is None  # untouched: as sent


class _ProviderReader(_Reader):
    reads_provider_answer = True


def test_a_provider_answer_reader_gets_the_answer_before_the_rewrite_without_a_second_parse(monkeypatch):
    ph = Placeholders()
    ph.issue("EMAIL", "ada@example.com")
    raw, body = _answer(ph)
    parses: list[object] = []
    real = json.loads
    monkeypatch.setattr(streaming.json, "loads", lambda text: parses.append(text) or real(text))
    provider, client = _ProviderReader(), _Reader()
    out = apply_whole([RestoreFilter(ph), provider, client], raw, body)
    assert provider.seen is body and "[EMAIL_1]" in provider.seen["choices"][0]["message"]["content"]
    assert len(parses) == 1  # for the client-side reader only
    assert client.seen == json.loads(out)
    assert "ada@example.com" in client.seen["choices"][0]["message"]["content"]
    raw, body = _answer(ph)
    parses.clear()
    assert apply_whole([RestoreFilter(ph), _ProviderReader()], raw, body) is not None and not parses
