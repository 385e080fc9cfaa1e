"""DLP end to end: the official SDKs, a real gateway and the echoing mock provider over real
sockets. The provider must receive placeholders only; the client must get its own text back,
streamed and not, in tool-call arguments, and across an OpenAI → Anthropic translated route."""

from __future__ import annotations

import json

import pytest

import plugins.routing
from tests.plugins.dlp_support import (
    CARD,
    EMAIL,
    IBAN,
    PEM,
    PHONE,
    PROMPT,
    SECRET,
    assert_no_leak,
    assert_placeholders_only,
    capture_all_logs,
    protect_org,
    provider_saw,
    state,
)

TOOL = {"type": "function", "function": {"name": "lookup", "description": f"ask {PHONE} first",
        "parameters": {"type": "object", "properties": {
            "q": {"type": "string", "description": f"e.g. {EMAIL}"}}}}}
ATOOL = {"name": "lookup", "description": f"ask {PHONE} first",
         "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
HAS_TRANSLATION = hasattr(plugins.routing, "gateway_prepare_attempt")


@pytest.fixture
def gw(gateway, caplog):
    capture_all_logs(caplog)
    protect_org(gateway)
    return gateway


def _chat_text(stream) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def _chat_args(stream) -> str:
    args = ""
    for chunk in stream:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            args += tc.function.arguments or ""
    return args


def test_gateway_transform_request_and_gateway_response_filter_openai_chat(gw, caplog):
    client = gw.openai()
    msgs = [{"role": "system", "content": f"Escalate to {EMAIL}."},
            {"role": "user", "content": PROMPT}]
    resp = client.chat.completions.create(model="openai/gpt-4o", messages=msgs)
    assert resp.choices[0].message.content == "echo: " + PROMPT
    assert_placeholders_only(gw)
    body = gw.mock.state.requests[-1]["body"]
    assert body["messages"][0]["content"] == "Escalate to [EMAIL_1]."
    assert body["messages"][1]["content"] == (
        "Mail [EMAIL_1] or call [PHONE_1]; card [CARD_1], IBAN [IBAN_1], key [API_KEY_1].")
    # streamed: the mock sends one word per event, so every placeholder crosses events whole
    assert _chat_text(client.chat.completions.create(
        model="openai/gpt-4o", messages=msgs, stream=True)) == "echo: " + PROMPT
    assert_placeholders_only(gw)
    assert_no_leak(gw, caplog)


def test_tool_call_arguments_streamed_and_not(gw, caplog):
    """The mock calls the tool with {"echo": <user text>} and streams the arguments in four
    fragments, so placeholders are split across events; values must come back JSON-escaped."""
    client = gw.openai()
    text = f"{PROMPT}\n{PEM}"
    msgs = [{"role": "user", "content": text}]
    resp = client.chat.completions.create(model="openai/gpt-4o", messages=msgs, tools=[TOOL])
    assert json.loads(resp.choices[0].message.tool_calls[0].function.arguments) == {"echo": text}
    assert_placeholders_only(gw)
    assert "[PRIVATE_KEY_1]" in provider_saw(gw)
    for _ in range(3):
        args = _chat_args(client.chat.completions.create(model="openai/gpt-4o", messages=msgs,
                                                         tools=[TOOL], stream=True))
        assert json.loads(args) == {"echo": text}
    assert_no_leak(gw, caplog)


def test_every_text_of_a_conversation_is_redacted(gw):
    """System prompt, tool definitions, earlier tool-call arguments and tool results."""
    msgs = [{"role": "system", "content": f"Owner: {EMAIL}"},
            {"role": "user", "content": [{"type": "text", "text": f"card {CARD}"}]},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "lookup", "arguments": json.dumps({"q": PEM})}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": f"found {IBAN} and {SECRET}"}]
    resp = gw.openai().chat.completions.create(model="openai/gpt-4o", messages=msgs, tools=[TOOL])
    assert resp.choices[0].message.content == f"echo: found {IBAN} and {SECRET}"
    assert_placeholders_only(gw)
    body = gw.mock.state.requests[-1]["body"]
    assert json.loads(body["messages"][2]["tool_calls"][0]["function"]["arguments"]) == {
        "q": "[PRIVATE_KEY_1]"}
    assert body["tools"][0]["function"]["description"] == "ask [PHONE_1] first"


def test_responses_api_streamed_and_not(gw, caplog):
    client = gw.openai()
    resp = client.responses.create(model="openai/gpt-4o", instructions=f"cc {EMAIL}", input=PROMPT)
    assert resp.output_text == "echo: " + PROMPT
    assert_placeholders_only(gw)
    with client.responses.stream(model="openai/gpt-4o", input=PROMPT) as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == "echo: " + PROMPT and final.output_text == "echo: " + PROMPT
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    with client.responses.stream(model="openai/gpt-4o", input=PROMPT, tools=tools) as stream:
        final = stream.get_final_response()
    assert json.loads(final.output[0].arguments) == {"echo": PROMPT}
    assert_placeholders_only(gw)
    assert_no_leak(gw, caplog)


def test_embeddings_input_is_redacted(gw):
    gw.openai().embeddings.create(model="text-embedding-3-small", input=[PROMPT, f"x {EMAIL}"])
    assert gw.mock.state.requests[-1]["body"]["input"][1] == "x [EMAIL_1]"
    assert_placeholders_only(gw)


def test_anthropic_messages_streamed_and_not_with_tools(gw, caplog):
    client = gw.anthropic()
    msg = client.messages.create(model="claude-sonnet-4-5", max_tokens=300, system=f"cc {EMAIL}",
                                 messages=[{"role": "user", "content": PROMPT}])
    assert msg.content[0].text == "echo: " + PROMPT
    assert_placeholders_only(gw)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=300,
                                messages=[{"role": "user", "content": PROMPT}]) as stream:
        assert "".join(stream.text_stream) == "echo: " + PROMPT
    text = f"{PROMPT}\n{PEM}"
    for _ in range(2):
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=300, tools=[ATOOL],
                                    messages=[{"role": "user", "content": text}]) as stream:
            final = stream.get_final_message()
        assert final.content[0].input == {"echo": text}
    assert_placeholders_only(gw)
    count = client.messages.count_tokens(model="claude-sonnet-4-5",
                                         messages=[{"role": "user", "content": PROMPT}])
    assert count.input_tokens > 0
    assert_placeholders_only(gw)
    assert_no_leak(gw, caplog)


def test_a_users_own_placeholder_look_alikes_come_back_untouched(gw):
    text = f"keep [EMAIL_1] and [PHONE_1] as typed; mine is {EMAIL}"
    resp = gw.openai().chat.completions.create(model="openai/gpt-4o",
                                               messages=[{"role": "user", "content": text}])
    assert resp.choices[0].message.content == "echo: " + text
    assert gw.mock.state.requests[-1]["body"]["messages"][0]["content"] == (
        "keep [EMAIL_1] and [PHONE_1] as typed; mine is [EMAIL_2]")


@pytest.mark.skipif(not HAS_TRANSLATION, reason="the routing plugin's OpenAI ⇄ Anthropic "
                    "translation (gateway_prepare_attempt) is not available")
def test_openai_client_on_an_anthropic_route(gw, caplog):
    """The redacted OpenAI body is translated per attempt; the Anthropic answer is translated
    back by routing's filter (tryfirst) before DLP restores it."""
    client = gw.openai()
    msgs = [{"role": "user", "content": PROMPT}]
    resp = client.chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=msgs)
    assert resp.choices[0].message.content == "echo: " + PROMPT
    assert gw.mock.state.requests[-1]["path"] == "/v1/messages"
    assert_placeholders_only(gw)
    assert _chat_text(client.chat.completions.create(
        model="anthropic/claude-sonnet-4-5", messages=msgs, stream=True)) == "echo: " + PROMPT
    args = _chat_args(client.chat.completions.create(
        model="anthropic/claude-sonnet-4-5", messages=msgs, tools=[TOOL], stream=True))
    assert json.loads(args) == {"echo": PROMPT}
    assert gw.mock.state.requests[-1]["path"] == "/v1/messages"
    assert_placeholders_only(gw)
    assert_no_leak(gw, caplog)


def test_unprotected_calls_are_untouched(gateway):
    resp = gateway.openai().chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": PROMPT}])
    assert resp.choices[0].message.content == "echo: " + PROMPT
    assert PROMPT in provider_saw(gateway)
    assert state(gateway).writer.flush() and state(gateway).writer.written == 0
