"""OpenAI ⇄ Anthropic translation end to end: the official SDKs, a real gateway and the mock
provider over real sockets. The mock records what the provider received."""

from __future__ import annotations

import json
import time

import anthropic
import openai
import pytest

from plugins.routing._aliases import set_alias

TOOL = {"type": "function", "function": {"name": "get_weather", "description": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
ATOOL = {"name": "get_weather", "description": "weather",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@pytest.fixture
def db_url(tmp_path):
    """Nothing here depends on the database backend: SQLite only (the shared fixture
    would run every test on PostgreSQL too)."""
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


def alias(gw, requested, routed, org=None):
    gw.admin(set_alias, requested, routed, gw.ctx.config, org_slug=org)
    gw.ctx.poll_once()


def last_request(gw):
    return gw.mock.state.requests[-1]


def test_gateway_prepare_attempt_and_gateway_response_filter_openai_stream_with_tools_to_anthropic(gateway):
    """Done-when: an OpenAI-SDK streaming call with tools, aliased to an Anthropic model."""
    alias(gateway, "gpt-4o", "anthropic/claude-sonnet-4-5")
    client = gateway.openai()
    with client.chat.completions.stream(
            model="gpt-4o", tools=[TOOL], stream_options={"include_usage": True},
            messages=[{"role": "system", "content": "use tools"},
                      {"role": "user", "content": "Paris?"}]) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert final.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and call.id.startswith("toolu_")
    assert json.loads(call.function.arguments) == {"echo": "Paris?"}
    assert final.usage.prompt_tokens > 0 and final.usage.completion_tokens > 0
    seen = last_request(gateway)
    assert seen["path"] == "/v1/messages"
    assert seen["headers"]["x-api-key"] == "sk-ant-provider-SECRET-0002"
    assert seen["body"]["model"] == "claude-sonnet-4-5" and seen["body"]["stream"] is True
    assert seen["body"]["system"] == [{"type": "text", "text": "use tools"}]
    assert seen["body"]["tools"] == [{"name": "get_weather", "description": "weather",
                                      "input_schema": TOOL["function"]["parameters"]}]
    assert "stream_options" not in seen["body"]


def test_gateway_prepare_attempt_and_gateway_response_filter_anthropic_stream_with_tools_to_openai(gateway):
    """Done-when, the reverse: an Anthropic-SDK streaming call with tools on an OpenAI model."""
    alias(gateway, "house-model", "openai/gpt-4o")
    client = gateway.anthropic()
    with client.messages.stream(model="house-model", max_tokens=200, tools=[ATOOL],
                                system="use tools",
                                messages=[{"role": "user", "content": "Rome?"}]) as stream:
        final = stream.get_final_message()
    block = [b for b in final.content if b.type == "tool_use"][0]
    assert final.stop_reason == "tool_use"
    assert block.name == "get_weather" and block.input == {"echo": "Rome?"}
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    seen = last_request(gateway)
    assert seen["path"] == "/v1/chat/completions"
    assert seen["headers"]["authorization"] == "Bearer sk-provider-openai-SECRET-0001"
    assert seen["body"]["messages"][0] == {"role": "system", "content": "use tools"}
    assert seen["body"]["tools"][0]["function"]["parameters"] == ATOOL["input_schema"]
    assert seen["body"]["stream_options"] == {"include_usage": True}
    assert seen["body"]["max_completion_tokens"] == 200


def test_whole_answers_and_transparency_headers_both_ways(gateway):
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="anthropic/claude-haiku-4-5", messages=[
            {"role": "user", "content": "first"}, {"role": "assistant", "content": "echo: first"},
            {"role": "user", "content": "second"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "echo: second"
    assert reply.choices[0].finish_reason == "stop" and reply.object == "chat.completion"
    assert raw.headers["x-gateway-model"] == "anthropic/claude-haiku-4-5"
    assert raw.headers["x-gateway-provider"] == "anthropic"
    assert [m["role"] for m in last_request(gateway)["body"]["messages"]] == \
        ["user", "assistant", "user"]
    raw = gateway.anthropic().messages.with_raw_response.create(
        model="openai/gpt-4o-mini", max_tokens=100, messages=[{"role": "user", "content": "hey"}])
    message = raw.parse()
    assert message.content[0].text == "echo: hey" and message.stop_reason == "end_turn"
    assert raw.headers["x-gateway-requested-model"] == "openai/gpt-4o-mini"
    assert raw.headers["x-gateway-provider"] == "openai"


def test_text_streams_both_ways_arrive_in_pieces(gateway):
    stream = gateway.openai().chat.completions.create(
        model="anthropic/claude-sonnet-4-5", stream=True,
        messages=[{"role": "user", "content": "one two three four"}])
    parts = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(parts) >= 4 and "".join(parts) == "echo: one two three four"
    with gateway.anthropic().messages.stream(
            model="openai/gpt-4o", max_tokens=100,
            messages=[{"role": "user", "content": "five six seven"}]) as astream:
        pieces = list(astream.text_stream)
    assert len(pieces) >= 3 and "".join(pieces) == "echo: five six seven"


def test_translated_stream_is_not_buffered(gateway):
    """The first piece reaches the client while the provider is still sending (50 ms apart)."""
    stream = gateway.openai().chat.completions.create(
        model="anthropic/claude-mock-chunk-delay-50", stream=True,
        messages=[{"role": "user", "content": "a b c d e f g h"}])
    start, seen = time.monotonic(), []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            seen.append(time.monotonic() - start)
    assert len(seen) >= 8 and seen[-1] - seen[0] > 0.25


def test_parallel_tool_results_reach_the_provider_both_ways(gateway):
    calls = [{"id": "call_1", "type": "function",
              "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
             {"id": "call_2", "type": "function",
              "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]
    reply = gateway.openai().chat.completions.create(
        model="anthropic/claude-sonnet-4-5", tools=[TOOL], messages=[
            {"role": "user", "content": "both?"},
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "rain"}])
    assert reply.choices[0].message.content == "echo: sunny\nrain"
    sent = last_request(gateway)["body"]["messages"]
    assert [b["id"] for b in sent[1]["content"]] == ["call_1", "call_2"]
    assert [(b["type"], b["tool_use_id"]) for b in sent[2]["content"]] == \
        [("tool_result", "call_1"), ("tool_result", "call_2")]
    message = gateway.anthropic().messages.create(
        model="openai/gpt-4o", max_tokens=100, tools=[ATOOL], messages=[
            {"role": "user", "content": "both?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "rain"}]}])
    assert message.content[0].text == "echo: sunny\nrain"
    sent = last_request(gateway)["body"]["messages"]
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["toolu_1", "toolu_2"]
    assert [(m["role"], m["tool_call_id"]) for m in sent[2:]] == [("tool", "toolu_1"),
                                                                 ("tool", "toolu_2")]


def test_images_base64_and_url_reach_the_provider_both_ways(gateway):
    gateway.openai().chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=[
        {"role": "user", "content": [
            {"type": "text", "text": "what?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}}]}])
    blocks = last_request(gateway)["body"]["messages"][0]["content"]
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.test/a.png"}
    gateway.anthropic().messages.create(model="openai/gpt-4o", max_tokens=50, messages=[
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.test/a.png"}},
            {"type": "text", "text": "what?"}]}])
    parts = last_request(gateway)["body"]["messages"][0]["content"]
    assert parts[0]["image_url"]["url"] == f"data:image/png;base64,{PNG}"
    assert parts[1]["image_url"]["url"] == "https://example.test/a.png"


def test_stop_max_tokens_temperature_top_p_and_length_both_ways(gateway):
    reply = gateway.openai().chat.completions.create(
        model="anthropic/claude-sonnet-4-5", max_tokens=2, stop=["END"], temperature=0.5,
        top_p=0.9, messages=[{"role": "user", "content": "a long sentence that will be cut"}])
    assert reply.choices[0].finish_reason == "length"
    sent = last_request(gateway)["body"]
    assert (sent["max_tokens"], sent["stop_sequences"], sent["temperature"], sent["top_p"]) == \
        (2, ["END"], 0.5, 0.9)
    message = gateway.anthropic().messages.create(
        model="openai/gpt-4o", max_tokens=2, stop_sequences=["END"], temperature=0.5, top_p=0.9,
        messages=[{"role": "user", "content": "a long sentence that will be cut"}])
    assert message.stop_reason == "max_tokens"
    sent = last_request(gateway)["body"]
    assert (sent["max_completion_tokens"], sent["stop"], sent["temperature"], sent["top_p"]) == \
        (2, ["END"], 0.5, 0.9)


def test_cached_tokens_are_reported_both_ways(gateway):
    text = "CACHE_HIT " + "words " * 40
    reply = gateway.openai().chat.completions.create(
        model="anthropic/claude-sonnet-4-5", messages=[{"role": "user", "content": text}])
    details = reply.usage.prompt_tokens_details
    assert details.cached_tokens > 0 and reply.usage.prompt_tokens > details.cached_tokens
    with gateway.anthropic().messages.stream(model="openai/gpt-4o", max_tokens=100, messages=[
            {"role": "user", "content": text}]) as stream:
        final = stream.get_final_message()
    assert final.usage.cache_read_input_tokens > 0 and final.usage.input_tokens > 0


def test_unsupported_parameters_are_a_400_naming_them_and_never_reach_the_provider(gateway):
    before = len(gateway.mock.state.requests)
    with pytest.raises(openai.BadRequestError) as err:
        gateway.openai().chat.completions.create(
            model="anthropic/claude-sonnet-4-5", logprobs=True,
            messages=[{"role": "user", "content": "x"}])
    assert "'logprobs'" in err.value.message and "Anthropic" in err.value.message
    with pytest.raises(anthropic.BadRequestError) as aerr:
        gateway.anthropic().messages.create(model="openai/gpt-4o", max_tokens=10, container="c1",
                                            messages=[{"role": "user", "content": "x"}])
    assert "'container'" in aerr.value.message
    assert len(gateway.mock.state.requests) == before


def test_provider_errors_reach_the_client_in_its_own_shape(gateway):
    with pytest.raises(openai.RateLimitError):
        gateway.openai().chat.completions.create(
            model="anthropic/claude-mock-fail-429", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.InternalServerError) as err:
        gateway.anthropic().messages.create(model="openai/gpt-4o-mock-fail-500", max_tokens=10,
                                            messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 502


def test_ollama_models_are_reached_through_their_openai_api(gateway):
    raw = gateway.anthropic().messages.with_raw_response.create(
        model="ollama/llama3.2", max_tokens=50, messages=[{"role": "user", "content": "local?"}])
    assert raw.parse().content[0].text == "echo: local?"
    assert raw.headers["x-gateway-provider"] == "ollama"
    seen = last_request(gateway)
    assert seen["path"] == "/v1/chat/completions" and seen["body"]["model"] == "llama3.2"
    assert seen["body"]["max_tokens"] == 50 and "max_completion_tokens" not in seen["body"]


def test_endpoints_without_an_equivalent_are_a_400(gateway):
    with pytest.raises(anthropic.BadRequestError, match="token-counting"):
        gateway.anthropic().messages.count_tokens(model="openai/gpt-4o",
                                                  messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="no equivalent"):
        gateway.openai().embeddings.create(model="anthropic/claude-sonnet-4-5", input="x")
