"""DLP placeholders: numbering, reuse, the client's own look-alike tokens, restore, and the
streaming restore (random chunkings must give exactly the whole-answer restore)."""

from __future__ import annotations

import hmac
import json
import random

import pytest

from gateway.call import SSEEvent
from plugins.dlp._hashing import derive_hash_key, value_hash
from plugins.dlp._placeholders import Placeholders, Redactor
from plugins.dlp._restore import RestoreFilter
from plugins.dlp._scanner import DEFAULT_RULES, Scanner

KEY = derive_hash_key(b"k" * 32)


def redact(text: str, ph: Placeholders | None = None) -> tuple[str, Placeholders, Redactor]:
    ph = ph or Placeholders()
    ph.reserve_from(text)
    red = Redactor(Scanner(DEFAULT_RULES), ph, KEY, None)
    return red.redact(text), ph, red


def test_value_hashes_are_hmac_sha256_under_the_derived_key():
    """Audit rows of every version can be matched by value: the hash is HMAC-SHA256 whatever
    way it is computed, for short, block-sized and long keys and any text."""
    rng = random.Random(5)
    for size in (0, 1, 32, 63, 64, 65, 200):
        key = rng.randbytes(size)
        for value in ("", "a@x.io", "é" * 40, "\u2028 x" * 30, "z" * 1000):
            assert value_hash(key, value) == hmac.digest(key, value.encode(), "sha256").hex()
    assert KEY == hmac.digest(b"k" * 32, b"llm-gateway/dlp/event-value-hash/v1", "sha256")


def test_numbered_per_type_and_same_value_same_placeholder():
    out, ph, red = redact("a@x.io, b@x.io, +1 415-555-2671, again a@x.io and +1 415-555-2671")
    assert out == "[EMAIL_1], [EMAIL_2], [PHONE_1], again [EMAIL_1] and [PHONE_1]"
    assert red.counts == {"email": 3, "phone": 2}
    assert red.hashes["email"] == {value_hash(KEY, "a@x.io"), value_hash(KEY, "b@x.io")}
    assert "a@x.io" not in repr(ph) and "a@x.io" not in repr(red.hashes)


def test_client_look_alike_placeholders_are_skipped_and_never_restored():
    text = "my note says [EMAIL_1] and [EMAIL_3]; real one: jane@example.com"
    out, ph, _ = redact(text)
    assert out == "my note says [EMAIL_1] and [EMAIL_3]; real one: [EMAIL_2]"
    answer = "echo: my note says [EMAIL_1] and [EMAIL_3]; real one: [EMAIL_2]"
    assert ph.restore(answer) == "echo: my note says [EMAIL_1] and [EMAIL_3]; real one: jane@example.com"
    assert ph.restore("[PHONE_1] [EMAIL_4]") == "[PHONE_1] [EMAIL_4]"  # never issued


def test_email_1_never_matches_inside_email_10():
    ph = Placeholders()
    values = [f"user{i}@example.com" for i in range(1, 11)]
    tokens = [ph.issue("EMAIL", v) for v in values]
    assert tokens[0] == "[EMAIL_1]" and tokens[9] == "[EMAIL_10]"
    assert ph.restore("[EMAIL_10] [EMAIL_1] [EMAIL_1][EMAIL_10]") == (
        "user10@example.com user1@example.com user1@example.com" + "user10@example.com")
    assert ph.pending_start("x [EMAIL_1") == 2  # could still become [EMAIL_1] or [EMAIL_10]
    assert ph.pending_start("x [EMAIL_1]") == len("x [EMAIL_1]")
    assert ph.pending_start("x [PHONE_1") == len("x [PHONE_1")  # no issued token starts so
    assert ph.pending_start("x [EMAIL_11") == len("x [EMAIL_11")


def test_restore_escapes_values_inside_json_text():
    ph = Placeholders()
    token = ph.issue("PRIVATE_KEY", "-----BEGIN KEY-----\nAB\"C\n-----END KEY-----")
    args = json.dumps({"echo": f"key: {token}"})
    assert json.loads(ph.restore(args, escape=True)) == {
        "echo": "key: -----BEGIN KEY-----\nAB\"C\n-----END KEY-----"}


# -- streaming: filter level ---------------------------------------------------------------------

VALUES = ["jane.doe@example.com", "+44 20 7946 0958", "4111 1111 1111 1111",
          "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\"IBAAK\n-----END RSA PRIVATE KEY-----"]


def _placeholders() -> Placeholders:
    ph = Placeholders()
    for i, v in enumerate(VALUES * 3):  # ten-plus tokens: [EMAIL_1] … [EMAIL_10] exist
        ph.issue("EMAIL" if i % 4 == 0 else "PHONE", f"{v}#{i}")
    return ph


def _random_text(rng: random.Random, ph: Placeholders) -> str:
    tokens = list(ph._values) + ["[EMAIL_", "[", "]", "[EMAIL_99]", "[PHONE_1", "[[EMAIL_1]]"]
    words = ["echo:", "the", "value", "is", " ", "\n", "é", "\"q\"", "x"]
    return "".join(rng.choice(tokens if rng.random() < 0.3 else words) for _ in range(rng.randint(0, 40)))


def _chunks(rng: random.Random, text: str) -> list[str]:
    cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(0, 12))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]


def _chat_events(pieces, tool: bool):
    for p in pieces:
        delta = ({"tool_calls": [{"index": 0, "function": {"arguments": p}}]} if tool
                 else {"content": p})
        yield SSEEvent.from_json({"id": "c1", "object": "chat.completion.chunk",
                                  "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    yield SSEEvent.from_json({"id": "c1", "object": "chat.completion.chunk",
                              "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    yield SSEEvent("[DONE]")


def _anthropic_events(pieces, tool: bool):
    kind, field = ("input_json_delta", "partial_json") if tool else ("text_delta", "text")
    for p in pieces:
        yield SSEEvent.from_json({"type": "content_block_delta", "index": 0,
                                  "delta": {"type": kind, field: p}}, "content_block_delta")
    yield SSEEvent.from_json({"type": "content_block_stop", "index": 0}, "content_block_stop")
    yield SSEEvent.from_json({"type": "message_stop"}, "message_stop")


def _responses_events(pieces, tool: bool):
    kind = "response.function_call_arguments" if tool else "response.output_text"
    for n, p in enumerate(pieces):
        yield SSEEvent.from_json({"type": kind + ".delta", "output_index": 0, "content_index": 0,
                                  "delta": p, "sequence_number": n}, kind + ".delta")
    yield SSEEvent.from_json({"type": kind + ".done", "output_index": 0, "content_index": 0},
                             kind + ".done")


def _collected(events, tool: bool) -> str:
    out = []
    for ev in events:
        data = ev.json
        if not isinstance(data, dict):
            continue
        if "choices" in data:
            for choice in data["choices"]:
                delta = choice.get("delta") or {}
                out.append(delta.get("content") or "")
                for call in delta.get("tool_calls") or ():
                    out.append(call["function"].get("arguments") or "")
        elif data.get("type") == "content_block_delta":
            out.append(data["delta"].get("partial_json" if tool else "text", ""))
        elif str(data.get("type", "")).endswith(".delta"):
            out.append(data["delta"])
    return "".join(out)


@pytest.mark.parametrize("make", [_chat_events, _anthropic_events, _responses_events],
                         ids=["openai-chat", "anthropic", "responses"])
@pytest.mark.parametrize("tool", [False, True], ids=["text", "tool-arguments"])
def test_stream_restore_equals_whole_restore_for_any_chunking(make, tool):
    rng = random.Random(hash((make.__name__, tool)) & 0xFFFF)
    ph = _placeholders()
    for _ in range(300):
        text = _random_text(rng, ph)
        if tool:
            text = json.dumps({"echo": text})
        pieces = _chunks(rng, text)
        f = RestoreFilter(ph)
        out_events = []
        for ev in make(pieces, tool):
            released = list(f.on_event(ev))
            out_events.extend(released)
            for stream in f.streams.values():  # only a possible placeholder start is held
                assert len(stream.held) < ph.max_len
                assert not stream.held or ph.pending_start(stream.held) == 0
        out_events.extend(f.on_end(True))
        assert _collected(out_events, tool) == ph.restore(text, escape=tool)
        if tool:
            assert json.loads(_collected(out_events, tool))["echo"] == ph.restore(json.loads(text)["echo"])


def test_held_text_is_released_when_a_stream_is_cut_short():
    ph = Placeholders()
    ph.issue("EMAIL", "a@b.io")
    f = RestoreFilter(ph)
    first = SSEEvent.from_json({"choices": [{"index": 0, "delta": {"content": "hi [EMA"}}]})
    out = list(f.on_event(first)) + list(f.on_end(False))
    assert [e.json["choices"][0]["delta"]["content"] for e in out] == ["hi ", "[EMA"]


def test_on_json_restores_every_answer_shape():
    ph = Placeholders()
    email = ph.issue("EMAIL", "jane@example.com")
    chat = {"choices": [{"message": {"content": f"to {email}", "tool_calls": [
        {"function": {"name": "f", "arguments": json.dumps({"to": email})}}]}}]}
    anthropic = {"content": [{"type": "text", "text": email},
                             {"type": "tool_use", "input": {"to": [email]}}]}
    responses = {"output": [{"type": "message", "content": [{"type": "output_text", "text": email}]},
                            {"type": "function_call", "arguments": json.dumps({"to": email})}]}
    f = RestoreFilter(ph)
    assert f.on_json(chat)["choices"][0]["message"]["content"] == "to jane@example.com"
    assert json.loads(chat["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {
        "to": "jane@example.com"}
    assert f.on_json(anthropic)["content"][1]["input"] == {"to": ["jane@example.com"]}
    assert f.on_json(responses)["output"][0]["content"][0]["text"] == "jane@example.com"


def test_a_whole_answer_is_serialised_again_only_when_a_value_went_back():
    """The core re-serialises a whole answer only if a filter says it changed it: an answer that
    quotes no redacted value leaves the gateway as the provider wrote it."""
    _, ph, _ = redact("write to ada@example.com")
    token = next(iter(ph._values))
    quiet = RestoreFilter(ph)
    body = {"choices": [{"message": {"content": "done, see [NOTE_1]"}}], "usage": {"n": [1, "x"]}}
    assert quiet.on_json(body) == body and quiet.modifies is False
    echoing = RestoreFilter(ph)
    restored = echoing.on_json({"choices": [{"message": {"content": f"mailed {token}"}}]})
    assert restored["choices"][0]["message"]["content"] == "mailed ada@example.com"
    assert echoing.modifies is True
