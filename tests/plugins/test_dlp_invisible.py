"""DLP through invisible characters: a zero-width space, joiner, word joiner, soft hyphen, BOM or
any other Unicode format character (category Cf) inside a value does not hide it; the placeholder
replaces the whole original span, invisible characters included, and the answer gets it back
byte-identical."""

from __future__ import annotations

import unicodedata

import pytest

from gateway.call import Endpoint
from plugins.dlp._allowlist import AllowList
from plugins.dlp._hashing import value_hash
from plugins.dlp._invisible import format_chars, strip, visible
from plugins.dlp._placeholders import NO_ALLOW_LIST, Placeholders, Redactor
from plugins.dlp._request import collect, redact_slots
from plugins.dlp._scanner import DEFAULT_RULES, Scanner
from tests.plugins.dlp_support import (
    CLIENT_LOGGERS,
    assert_no_leak,
    capture_all_logs,
    dump_database,
    protect_org,
    provider_saw,
    state,
)

KEY = b"k" * 32
INVISIBLE = {"zero-width space": "\u200b", "zero-width non-joiner": "\u200c",
             "zero-width joiner": "\u200d", "word joiner": "\u2060", "soft hyphen": "\u00ad",
             "BOM": "\ufeff", "left-to-right mark": "\u200e", "invisible separator": "\u2063",
             "tag space": "\U000e0020"}
SCANNER = Scanner(DEFAULT_RULES)


def redact(text: str, allow: AllowList = NO_ALLOW_LIST) -> tuple[str, Placeholders, Redactor]:
    ph = Placeholders()
    red = Redactor(SCANNER, ph, KEY, None, allow)
    return red.redact(text), ph, red


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_an_email_with_an_invisible_character_is_redacted_whole(char):
    text = f"mail jane{char}.doe@example.com please"
    out, ph, _ = redact(text)
    assert out == "mail [EMAIL_1] please"
    assert ph.restore(out) == text


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_card_with_an_invisible_character_is_redacted_whole(char):
    text = f"card 4111{char}1111 1111 1111 ok"
    out, ph, _ = redact(text)
    assert out == "card [CARD_1] ok"
    assert ph.restore(out) == text


def test_several_runs_and_invisible_characters_around_a_value():
    """Inside the value they go with it; before and after it they stay where they were."""
    text = "\u200b\u200dto: j\u200ba\u00adne.d\ufeff\ufeffoe@exa\u2060mple.com\u200b, 4111 " \
           "1111\u200c 1111 1111."
    out, ph, _ = redact(text)
    assert out == "\u200b\u200dto: [EMAIL_1]\u200b, [CARD_1]."
    assert ph.restore(out) == text


def test_every_format_character_of_this_python_is_removed_from_the_view():
    every = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"]
    assert len(every) > 150 and format_chars().chars == frozenset(every)
    assert all(format_chars().runs.fullmatch(c) for c in every)
    assert format_chars().runs.search("plain é ñ 中文 \u00a0\u2028") is None  # visible, spaces


def test_the_view_maps_back_to_original_offsets():
    assert visible("plain ascii") is None and visible("café") is None
    view = visible("a\u200bb\u200c\u200dcd\u2060")
    assert view is not None and view.text == "abcd"
    assert [view.start(i) for i in range(4)] == [0, 2, 5, 6]
    assert [view.end(i) for i in range(1, 5)] == [1, 3, 6, 7]


def test_allow_list_and_event_hashes_see_the_value_as_it_reads():
    hidden = "jane\u200b.doe@example.com"
    out, _, _ = redact(f"to {hidden}", AllowList(frozenset({"jane.doe@example.com"})))
    assert out == f"to {hidden}"
    _, _, red = redact(f"to {hidden}")
    assert red.hashes["email"] == {value_hash(KEY, "jane.doe@example.com")}
    assert strip(hidden) == "jane.doe@example.com"


def test_a_value_split_across_parts_with_invisible_characters():
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "mail jane\u200b.doe@"}, {"type": "text", "text": "\u200bexample"},
        {"type": "text", "text": ".com now"}]}]}
    ph = Placeholders()
    red = Redactor(SCANNER, ph, KEY, None)
    redact_slots(collect(Endpoint.CHAT, body), ph.reserve_from, red.redact, lambda: None,
                 red.redact_parts)
    assert [b["text"] for b in body["messages"][0]["content"]] == ["mail [EMAIL_1]", " now"]


HIDDEN_EMAIL = "zq.canary\u200b.jane@dlp-test\u2060.example"
HIDDEN_CARD = "4000\u00ad0566 5566\ufeff5556"


def test_through_the_gateway_whole_and_streamed(gateway, caplog):
    capture_all_logs(caplog)
    protect_org(gateway)
    client = gateway.openai()
    text = f"Mail {HIDDEN_EMAIL}, card {HIDDEN_CARD}."
    msgs = [{"role": "user", "content": text}]
    resp = client.chat.completions.create(model="openai/gpt-4o", messages=msgs)
    assert resp.choices[0].message.content == "echo: " + text
    assert gateway.mock.state.requests[-1]["body"]["messages"][0]["content"] == (
        "Mail [EMAIL_1], card [CARD_1].")
    stream = client.chat.completions.create(model="openai/gpt-4o", messages=msgs, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == (
        "echo: " + text)
    with client.responses.stream(model="openai/gpt-4o", input=text) as events:
        final = events.get_final_response()
    assert final.output_text == "echo: " + text
    assert "[EMAIL_1]" in provider_saw(gateway)
    assert_no_leak(gateway, caplog)
    state(gateway).writer.flush()
    logs = "\n".join(r.getMessage() for r in caplog.records
                     if not r.name.startswith(CLIENT_LOGGERS))
    for where in (provider_saw(gateway), dump_database(gateway), logs):
        assert "zq.canary" not in where and "0566" not in where
