"""The agents' request shapes on routes that cross providers, end to end over real sockets: the
official SDKs (and a WebSocket client) → a real gateway → the mock provider, which records what
it received."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import anthropic
import pytest

from tests.gateway_fixtures import logged_rows

WEATHER = {"type": "function", "name": "get_weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
CALL_PARIS = 'weather? [[mock-tool get_weather {"city": "Paris"}]]'


@pytest.fixture
def db_url(tmp_path):
    """Nothing here depends on the database backend: SQLite only."""
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


def provider_saw(gw):
    return gw.mock.state.requests[-1]


def log_rows(gw, at_least: int = 0):
    return logged_rows(gw, at_least)


# --- Responses → Anthropic and Ollama ----------------------------------------------------------

@pytest.mark.parametrize("model, path", [("anthropic/claude-sonnet-4-5", "/v1/messages"),
                                         ("ollama/llama3.2", "/v1/chat/completions")])
def test_responses_whole_with_a_tool_round_trip(gateway, model, path):
    client = gateway.openai()
    raw = client.responses.with_raw_response.create(
        model=model, input=CALL_PARIS, tools=[WEATHER, {"type": "web_search"}])
    first = raw.parse()
    assert provider_saw(gateway)["path"] == path
    assert raw.headers["x-gateway-dropped-params"] == "tools[web_search]"
    call = first.output[0]
    assert (call.type, call.name, json.loads(call.arguments)) == \
        ("function_call", "get_weather", {"city": "Paris"})
    second = client.responses.create(model=model, tools=[WEATHER], input=[
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name,
         "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}])
    assert second.output_text == "echo: sunny, 21C"
    assert second.usage.input_tokens > 0 and second.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["anthropic/claude-sonnet-4-5", "ollama/llama3.2"])
def test_responses_streamed_text_and_tool_calls(gateway, model):
    client = gateway.openai()
    with client.responses.stream(model=model, input="hello there", instructions="be kind") as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == final.output_text == "echo: hello there"
    assert final.usage.output_tokens > 0 and final.status == "completed"
    with client.responses.stream(model=model, input=CALL_PARIS, tools=[WEATHER]) as s:
        kinds = [e.type for e in s]
        final = s.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert final.output[0].type == "function_call"
    assert json.loads(final.output[0].arguments) == {"city": "Paris"}
    rows = log_rows(gateway, 2)
    assert [r.actual_model for r in rows[-2:]] == [model, model]
    assert all(r.output_tokens > 0 and not r.usage_estimated for r in rows[-2:])


def test_responses_fields_without_an_equivalent_are_a_400_in_openais_shape(gateway):
    import openai

    before = len(gateway.mock.state.requests)
    with pytest.raises(openai.BadRequestError) as err:
        gateway.openai().responses.create(model="anthropic/claude-sonnet-4-5", input="x",
                                          previous_response_id="resp_123")
    assert "previous_response_id" in err.value.message
    assert len(gateway.mock.state.requests) == before


# --- Messages (Claude Code's own request) → OpenAI and Ollama ----------------------------------

CLAUDE_CODE_FIELDS = dict(
    max_tokens=128000, stream=True,
    system=[{"type": "text", "text": "You are an agent.", "cache_control": {"type": "ephemeral"}}],
    metadata={"user_id": json.dumps({"device_id": "d1", "session_id": "s1"})},
    thinking={"type": "adaptive", "display": "omitted"},
    tools=[{"name": "Bash", "description": "run", "input_schema": {
        "type": "object", "properties": {"command": {"type": "string"}}}},
        {"name": "Later", "description": "deferred", "defer_loading": True,
         "input_schema": {"type": "object", "properties": {}}}],
    extra_body={"context_management": {"edits": [{"type": "clear_thinking_20251015",
                                                  "keep": "all"}]},
                "output_config": {"effort": "medium"}},
)


@pytest.mark.parametrize("model, effort, limit", [
    ("openai/gpt-5", "medium", ("max_completion_tokens", 128000)),
    ("openai/gpt-4o", None, ("max_completion_tokens", 16384)),
    ("ollama/llama3.2", None, ("max_tokens", 128000))])
def test_claude_codes_request_is_served_by_openai_format_models(gateway, model, effort, limit):
    client = gateway.anthropic()
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi there"}]},
                {"role": "system", "content": [{"type": "text", "text": "# Environment",
                                                "cache_control": {"type": "ephemeral"}}]}]
    with client.messages.with_streaming_response.create(
            model=model, messages=messages, **CLAUDE_CODE_FIELDS) as raw:
        dropped = raw.headers["x-gateway-dropped-params"]
        events = [json.loads(line[5:]) for line in raw.iter_lines() if line.startswith("data:")]
    # The mock calls the first offered tool: the tool_use sequence Claude Code parses.
    assert [e["type"] for e in events][:2] == ["message_start", "content_block_start"]
    assert events[1]["content_block"]["type"] == "tool_use"
    assert events[1]["content_block"]["name"] == "Bash"
    assert events[-2]["delta"]["stop_reason"] == "tool_use" and events[-1]["type"] == "message_stop"
    arguments = "".join(e["delta"].get("partial_json", "") for e in events
                        if e["type"] == "content_block_delta")
    assert json.loads(arguments) == {"echo": "hi there"}
    seen = provider_saw(gateway)["body"]
    assert seen.get("reasoning_effort") == effort
    assert seen[limit[0]] == limit[1]
    assert seen["user"] == CLAUDE_CODE_FIELDS["metadata"]["user_id"]
    assert "context_management" in dropped and "cache_control" in dropped
    assert ("thinking" in dropped) == (effort is None)


def test_a_tool_round_trip_with_an_image_in_the_tool_result(gateway):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    client = gateway.anthropic()
    tool = {"name": "shot", "input_schema": {"type": "object", "properties": {}}}
    first = client.messages.create(model="openai/gpt-4o", max_tokens=200, tools=[tool],
                                   messages=[{"role": "user", "content": "[[mock-tool shot {}]]"}])
    use = first.content[0]
    assert first.stop_reason == "tool_use" and use.name == "shot"
    second = client.messages.create(model="openai/gpt-4o", max_tokens=200, tools=[tool], messages=[
        {"role": "user", "content": "[[mock-tool shot {}]]"},
        {"role": "assistant", "content": [use.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": [
            {"type": "text", "text": "took it"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": png}}]}]}])
    assert second.content[0].text.startswith("echo: took it")
    sent = provider_saw(gateway)["body"]["messages"]
    assert sent[-2]["role"] == "tool" and sent[-1]["content"][-1]["type"] == "image_url"


def test_count_tokens_on_an_openai_route_is_a_clear_400(gateway):
    with pytest.raises(anthropic.BadRequestError, match="token-counting"):
        gateway.anthropic().messages.count_tokens(model="openai/gpt-4o",
                                                  messages=[{"role": "user", "content": "x"}])


# --- Responses over WebSocket ------------------------------------------------------------------

async def _turns(url: str, key: str, model: str) -> tuple[list[dict], list[dict]]:
    headers = {"Authorization": f"Bearer {key}", "OpenAI-Beta": "responses_websockets=2026-02-06"}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url + "/v1/responses", headers=headers) as ws:
            first = await _one_turn(ws, {"type": "response.create", "model": model, "store": False,
                                         "tools": [WEATHER], "input": [
                                             {"role": "user", "content": CALL_PARIS}]})
            done = first[-1]["response"]
            call = done["output"][0]
            second = await _one_turn(ws, {
                "type": "response.create", "model": model, "store": False, "tools": [WEATHER],
                "previous_response_id": done["id"], "input": [
                    {"type": "function_call_output", "call_id": call["call_id"],
                     "output": "rainy"}]})
    return first, second


async def _one_turn(ws, message: dict) -> list[dict]:
    await ws.send_str(json.dumps(message))
    events = []
    while True:
        event = json.loads((await asyncio.wait_for(ws.receive(), 20)).data)
        events.append(event)
        if event["type"] in ("response.completed", "error", "response.failed"):
            return events


@pytest.mark.parametrize("model", ["openai/gpt-4o", "anthropic/claude-sonnet-4-5",
                                   "ollama/llama3.2"])
def test_responses_over_websocket_on_every_route_with_incremental_input(gateway, model):
    first, second = asyncio.run(_turns(gateway.url, gateway.user_key, model))
    assert first[0]["type"] == "response.created" and first[-1]["type"] == "response.completed"
    assert first[-1]["response"]["output"][0]["type"] == "function_call"
    assert second[-1]["type"] == "response.completed", second[-1]
    assert second[-1]["response"]["output"][0]["content"][0]["text"] == "echo: rainy"
    # The provider got the whole conversation, though the client sent only the new item.
    rows = log_rows(gateway, 2)
    assert [r.actual_model for r in rows[-2:]] == [model, model]
    assert [r.status for r in rows[-2:]] == [200, 200]


def test_a_websocket_with_a_bad_key_is_refused_before_the_upgrade(gateway):
    async def attempt():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await session.ws_connect(gateway.url + "/v1/responses",
                                         headers={"Authorization": "Bearer sk-gw-nope"})
            return err.value.status
    assert asyncio.run(attempt()) == 401


def test_a_websocket_turn_refused_by_the_pipeline_is_one_error_frame(gateway):
    async def turn():
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {gateway.user_key}"}
            async with session.ws_connect(gateway.url + "/v1/responses", headers=headers) as ws:
                bad = await _one_turn(ws, {"type": "response.create", "model": "", "input": "x"})
                good = await _one_turn(ws, {"type": "response.create", "model": "openai/gpt-4o",
                                            "input": "still here"})
                return bad, good
    bad, good = asyncio.run(turn())
    assert bad == [{"type": "error", "status": 400, "error": bad[0]["error"]}]
    assert "model" in bad[0]["error"]["message"]
    assert good[-1]["response"]["output"][0]["content"][0]["text"] == "echo: still here"


# --- extended thinking ---------------------------------------------------------------------------

def test_anthropic_thinking_blocks_reach_an_anthropic_client_whole_and_streamed(gateway):
    client = gateway.anthropic()
    thinking = {"type": "enabled", "budget_tokens": 1024}
    message = client.messages.create(model="anthropic/claude-sonnet-4-5", max_tokens=2048,
                                     thinking=thinking, messages=[{"role": "user", "content": "hm"}])
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].signature and message.content[1].text == "echo: hm"
    with client.messages.stream(model="anthropic/claude-sonnet-4-5", max_tokens=2048,
                                thinking=thinking, messages=[{"role": "user", "content": "hm"}]) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking.startswith("The user wants")


def test_reasoning_effort_on_an_anthropic_model_thinks_and_answers_only_text(gateway):
    client = gateway.openai()
    with client.responses.stream(model="anthropic/claude-sonnet-4-5", input="why?",
                                 reasoning={"effort": "low"}, max_output_tokens=8000) as s:
        final = s.get_final_response()
    assert provider_saw(gateway)["body"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert [o.type for o in final.output] == ["message"] and final.output_text == "echo: why?"


@pytest.mark.parametrize("stream", [False, True])
def test_a_translated_answer_without_usage_is_estimated_and_flagged(gateway, stream):
    client = gateway.anthropic()
    ask = dict(model="openai/gpt-4o-mock-no-usage", max_tokens=50,
               messages=[{"role": "user", "content": "count me please"}])
    if stream:
        with client.messages.stream(**ask) as s:
            text = "".join(s.text_stream)
    else:
        text = client.messages.create(**ask).content[0].text
    assert text == "echo: count me please"
    row = log_rows(gateway, 1)[-1]
    assert row.usage_estimated and row.input_tokens > 0 and row.output_tokens > 0
