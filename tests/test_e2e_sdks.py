"""The official SDKs through the gateway against the mock provider, over real sockets."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

TOOL = {"type": "function", "function": {"name": "get_weather", "description": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
ATOOL = {"name": "get_weather", "description": "weather",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def test_openai_chat_non_stream(gateway):
    client = gateway.openai()
    raw = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}])
    resp = raw.parse()
    assert resp.choices[0].message.content == "echo: hello there"
    assert resp.usage.prompt_tokens > 0
    assert raw.headers["x-gateway-model"] == "openai/gpt-4o-mini"
    assert raw.headers["x-gateway-provider"] == "openai"
    assert raw.headers["x-gateway-request-id"].startswith("req_")
    seen = gateway.mock.state.requests[-1]
    assert seen["body"]["model"] == "gpt-4o-mini"
    assert seen["headers"]["authorization"] == "Bearer sk-provider-openai-SECRET-0001"


def test_openai_chat_stream(gateway):
    client = gateway.openai()
    stream = client.chat.completions.create(
        model="gpt-4o-mini", stream=True,
        messages=[{"role": "user", "content": "one two three four"}])
    parts = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(parts) >= 3
    assert "".join(parts) == "echo: one two three four"


def test_openai_tool_call_stream_and_not(gateway):
    client = gateway.openai()
    resp = client.chat.completions.create(
        model="openai/gpt-4o", tools=[TOOL], messages=[{"role": "user", "content": "Paris?"}])
    call = resp.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"echo": "Paris?"}
    stream = client.chat.completions.create(
        model="openai/gpt-4o", tools=[TOOL], stream=True,
        messages=[{"role": "user", "content": "Paris?"}])
    args = ""
    for chunk in stream:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            args += tc.function.arguments or ""
    assert json.loads(args) == {"echo": "Paris?"}


def test_openai_embeddings(gateway):
    resp = gateway.openai().embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(resp.data) == 2 and len(resp.data[0].embedding) > 0


def test_anthropic_messages(gateway):
    client = gateway.anthropic()
    msg = client.messages.create(model="claude-sonnet-4-5", max_tokens=100,
                                 messages=[{"role": "user", "content": "hi claude"}])
    assert msg.content[0].text == "echo: hi claude"
    assert gateway.mock.state.requests[-1]["headers"]["x-api-key"] == "sk-ant-provider-SECRET-0002"
    with client.messages.stream(model="anthropic/claude-sonnet-4-5", max_tokens=100,
                                messages=[{"role": "user", "content": "a b c d"}]) as stream:
        text = "".join(stream.text_stream)
    assert text == "echo: a b c d"


def test_anthropic_tool_use(gateway):
    client = gateway.anthropic()
    msg = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, tools=[ATOOL],
                                 messages=[{"role": "user", "content": "Rome?"}])
    block = [b for b in msg.content if b.type == "tool_use"][0]
    assert block.name == "get_weather" and block.input == {"echo": "Rome?"}
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, tools=[ATOOL],
                                messages=[{"role": "user", "content": "Rome?"}]) as stream:
        final = stream.get_final_message()
    assert [b for b in final.content if b.type == "tool_use"][0].input == {"echo": "Rome?"}


def test_app_key_works_and_bad_key_is_401(gateway):
    assert gateway.openai(key=gateway.app_key).chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}]).choices
    with pytest.raises(openai.AuthenticationError) as err:
        gateway.openai(key="sk-gw-nope").chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert err.value.body["message"] == "invalid API key"
    with pytest.raises(anthropic.AuthenticationError):
        gateway.anthropic(key="sk-gw-nope").messages.create(
            model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
