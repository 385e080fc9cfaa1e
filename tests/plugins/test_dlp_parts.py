"""DLP across content parts: a value split between two adjacent text parts of one message is one
value to the model, so it is redacted as one and comes back whole in the answer. Real gateway,
official SDKs, the echoing mock (which joins a message's text parts with newlines)."""

from __future__ import annotations

import pytest

from gateway.call import Endpoint
from plugins.dlp._placeholders import Placeholders, Redactor, splice
from plugins.dlp._request import collect, redact_slots
from plugins.dlp._scanner import DEFAULT_RULES, Scanner
from tests.plugins.dlp_support import (
    CARD,
    EMAIL,
    assert_no_leak,
    assert_placeholders_only,
    capture_all_logs,
    protect_org,
)

HEAD, _, TAIL = EMAIL.partition("@")  # "zq.canary.jane" | "dlp-test.example", as in issue 11
HEAD += "@"
SPLIT = [f"mail me at {HEAD}", f"{TAIL} please"]
# what the provider gets: the placeholder where the value starts, the tail gone from the next part
SENT = ["mail me at [EMAIL_1]", " please"]
ANSWER = f"echo: mail me at {EMAIL}\n please"


@pytest.fixture
def gw(gateway, caplog):
    capture_all_logs(caplog)
    protect_org(gateway)
    return gateway


def parts(kind: str, texts: list[str]) -> list[dict]:
    return [{"type": kind, "text": t} for t in texts]


def sent_texts(gw, path: tuple) -> list[str]:
    node = gw.mock.state.requests[-1]["body"]
    for key in path:
        node = node[key]
    return [block["text"] for block in node]


def test_openai_chat_whole_and_streamed(gw, caplog):
    client = gw.openai()
    msgs = [{"role": "user", "content": parts("text", SPLIT)}]
    resp = client.chat.completions.create(model="openai/gpt-4o", messages=msgs)
    assert resp.choices[0].message.content == ANSWER
    assert sent_texts(gw, ("messages", 0, "content")) == SENT
    stream = client.chat.completions.create(model="openai/gpt-4o", messages=msgs, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == ANSWER
    assert_placeholders_only(gw, EMAIL, HEAD, TAIL)
    assert_no_leak(gw, caplog)


def test_anthropic_messages_whole_and_streamed(gw, caplog):
    client = gw.anthropic()
    msgs = [{"role": "user", "content": parts("text", SPLIT)}]
    msg = client.messages.create(model="claude-sonnet-4-5", max_tokens=300, messages=msgs)
    assert msg.content[0].text == ANSWER
    assert sent_texts(gw, ("messages", 0, "content")) == SENT
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=300,
                                messages=msgs) as stream:
        assert "".join(stream.text_stream) == ANSWER
    assert_placeholders_only(gw, EMAIL, HEAD, TAIL)
    assert_no_leak(gw, caplog)


def test_anthropic_block_used_up_by_a_value_is_dropped_keeping_its_cache_breakpoint(gw):
    """Anthropic refuses an empty text block: a block that held only a value's tail goes, and
    its cache_control moves to the block that now ends with the placeholder."""
    content = parts("text", [f"write to {HEAD}", TAIL, " today"])
    content[1]["cache_control"] = {"type": "ephemeral"}
    msg = gw.anthropic().messages.create(model="claude-sonnet-4-5", max_tokens=300,
                                         messages=[{"role": "user", "content": content}])
    assert msg.content[0].text == f"echo: write to {EMAIL}\n today"
    sent = gw.mock.state.requests[-1]["body"]["messages"][0]["content"]
    assert sent == [{"type": "text", "text": "write to [EMAIL_1]",
                     "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": " today"}]


def test_responses_input_text_whole_and_streamed(gw, caplog):
    client = gw.openai()
    items = [{"role": "user", "content": parts("input_text", SPLIT)}]
    resp = client.responses.create(model="openai/gpt-4o", input=items)
    assert resp.output_text == ANSWER
    assert sent_texts(gw, ("input", 0, "content")) == SENT
    with client.responses.stream(model="openai/gpt-4o", input=items) as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == ANSWER and final.output_text == ANSWER
    assert_placeholders_only(gw, EMAIL, HEAD, TAIL)
    assert_no_leak(gw, caplog)


def test_a_card_across_three_parts_and_the_same_value_whole_elsewhere(gw):
    """Three parts, the middle one wholly inside the value; the same card whole in the system
    prompt gets the same placeholder."""
    texts = [f"card {CARD[:6]}", CARD[6:12], f"{CARD[12:]} ok"]
    msgs = [{"role": "system", "content": f"known card {CARD}"},
            {"role": "user", "content": parts("text", texts)}]
    resp = gw.openai().chat.completions.create(model="openai/gpt-4o", messages=msgs)
    assert resp.choices[0].message.content == f"echo: card {CARD}\n ok"
    body = gw.mock.state.requests[-1]["body"]
    assert body["messages"][0]["content"] == "known card [CARD_1]"
    assert [b["text"] for b in body["messages"][1]["content"]] == ["card [CARD_1]", " ok"]


# -- the pieces, without sockets -----------------------------------------------------------------

def redact(endpoint: Endpoint, body: dict) -> dict:
    ph = Placeholders()
    red = Redactor(Scanner(DEFAULT_RULES), ph, b"k" * 32, None)
    redact_slots(collect(endpoint, body), ph.reserve_from, red.redact, lambda: None,
                 red.redact_parts)
    return body


def test_splice_puts_each_replacement_where_its_value_starts():
    assert splice(["ab", "cd", "ef"], [(1, 5, "X")]) == ["aX", "", "f"]
    assert splice(["ab", "", "cd"], [(2, 4, "X")]) == ["ab", "", "X"]  # empty parts are skipped
    assert splice(["abc"], [(0, 1, "X"), (2, 3, "Y")]) == ["XbY"]
    untouched = ["keep", "ab"]
    assert splice(untouched, [(4, 5, "X")])[0] is untouched[0]


def test_only_adjacent_text_parts_are_joined():
    """An image between two parts separates them; so does a tool result."""
    body = redact(Endpoint.MESSAGES, {"messages": [{"role": "user", "content": [
        {"type": "text", "text": f"a {HEAD}"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}},
        {"type": "text", "text": f"{TAIL} b"}]}]})
    texts = [b.get("text") for b in body["messages"][0]["content"]]
    assert texts == [f"a {HEAD}", None, f"{TAIL} b"]


def test_parts_with_nothing_found_stay_the_same_objects():
    content = parts("text", ["hello ", "world"])
    before = [b["text"] for b in content]
    redact(Endpoint.CHAT, {"messages": [{"role": "user", "content": content}]})
    assert all(b["text"] is t for b, t in zip(content, before))


def test_anthropic_system_blocks_and_tool_result_parts_are_runs_too():
    body = redact(Endpoint.MESSAGES, {
        "system": parts("text", [f"owner {HEAD}", TAIL]),
        "messages": [{"role": "user", "content": [{
            "type": "tool_result", "tool_use_id": "t1",
            "content": parts("text", [f"found {HEAD}", f"{TAIL}."])}]}]})
    assert body["system"] == [{"type": "text", "text": "owner [EMAIL_1]"}]
    assert [b["text"] for b in body["messages"][0]["content"][0]["content"]] == [
        "found [EMAIL_1]", "."]
