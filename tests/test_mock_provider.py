"""The mock provider, driven over a real socket by the official OpenAI and Anthropic SDKs, so its
wire formats are checked by the same parsers the gateway's users run."""

from __future__ import annotations

import argparse
import json
import threading
import time

import anthropic
import httpx
import openai
import pytest

from gateway.cli import mock_cmd
from gateway.mock_provider import MockState, serve_in_thread

WEATHER_OPENAI = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
WEATHER_ANTHROPIC = {"name": "get_weather", "description": "weather", "input_schema": {"type": "object"}}
WEATHER_RESPONSES = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


@pytest.fixture(scope="module")
def mock():
    with serve_in_thread(MockState()) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(mock):
    httpx.post(mock.url + "/_mock/reset")


@pytest.fixture
def oai(mock):
    return openai.OpenAI(base_url=mock.url + "/v1", api_key="sk-test", max_retries=0)


@pytest.fixture
def claude(mock):
    return anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-test", max_retries=0)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def post(mock, path: str, body: dict, **kwargs) -> httpx.Response:
    return httpx.post(mock.url + path, json=body, **kwargs)


# --- OpenAI Chat Completions ---------------------------------------------------------------------


def test_chat_echoes_last_user_message_with_usage(oai):
    msgs = [
        {"role": "system", "content": "be brief"},
        *user("first"),
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "hello there friend"}]},
    ]
    done = oai.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    assert done.object == "chat.completion"
    assert done.choices[0].message.content == "echo: hello there friend"
    assert done.choices[0].finish_reason == "stop"
    assert done.usage.completion_tokens == len("echo: hello there friend") // 4
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    assert done.usage.prompt_tokens_details.cached_tokens == 0


def test_chat_stream_delivers_word_chunks(oai):
    chunks = list(oai.chat.completions.create(model="m", messages=user("one two three"), stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 3
    assert "".join(pieces) == "echo: one two three"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_chat_stream_include_usage_adds_final_usage_chunk(oai):
    stream = oai.chat.completions.create(
        model="m", messages=user("count me"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == len("echo: count me") // 4
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_tool_call(oai):
    done = oai.chat.completions.create(model="m", messages=user("Paris?"), tools=[WEATHER_OPENAI])
    call = done.choices[0].message.tool_calls[0]
    assert done.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"echo": "Paris?"}


def test_chat_tool_call_streamed_in_fragments(oai):
    stream = oai.chat.completions.create(
        model="m", messages=user("Paris?"), tools=[WEATHER_OPENAI], stream=True
    )
    chunks = list(stream)
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id and calls[0].function.name == "get_weather"
    fragments = [tc.function.arguments for tc in calls[1:]]
    assert len(fragments) >= 2
    assert json.loads("".join(fragments)) == {"echo": "Paris?"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_chat_tool_result_is_echoed_as_text(oai):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    msgs = [
        *user("Paris?"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    done = oai.chat.completions.create(model="m", messages=msgs, tools=[WEATHER_OPENAI])
    assert done.choices[0].message.content == "echo: sunny"
    assert done.choices[0].finish_reason == "stop"


def test_chat_max_tokens_truncates(oai):
    done = oai.chat.completions.create(model="m", messages=user("a fairly long sentence"), max_tokens=2)
    assert done.choices[0].finish_reason == "length"
    assert done.usage.completion_tokens == 2
    assert done.choices[0].message.content == "echo: a "  # the first 2 * 4 characters


def test_chat_cache_marker_reports_half_cached(oai):
    done = oai.chat.completions.create(model="m", messages=user("CACHE_HIT " + "x" * 100))
    assert done.usage.prompt_tokens == 110 // 4
    assert done.usage.prompt_tokens_details.cached_tokens == (110 // 4) // 2


def test_chat_without_messages_is_a_bad_request(oai):
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="m", messages=[])


# --- OpenAI Responses, Embeddings, Models --------------------------------------------------------


def test_responses_plain(oai):
    done = oai.responses.create(model="m", input="hello there", instructions="be brief")
    assert done.status == "completed"
    assert done.output_text == "echo: hello there"
    assert done.usage.output_tokens == len("echo: hello there") // 4
    assert done.usage.input_tokens_details.cached_tokens == 0


def test_responses_stream_events(oai):
    with oai.responses.stream(model="m", input=user("one two three")) as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) >= 3 and "".join(deltas) == "echo: one two three"
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert final.output_text == "echo: one two three"
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens


def test_responses_tool_call_streamed(oai):
    with oai.responses.stream(model="m", input="Paris?", tools=[WEATHER_RESPONSES]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert sum(e.type == "response.function_call_arguments.delta" for e in events) >= 2
    call = final.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"echo": "Paris?"}


def test_responses_max_output_tokens_is_incomplete(oai):
    done = oai.responses.create(model="m", input="a fairly long sentence here", max_output_tokens=2)
    assert done.status == "incomplete"
    assert done.incomplete_details.reason == "max_output_tokens"


def test_embeddings_are_deterministic(oai):
    first = oai.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    again = oai.embeddings.create(model="text-embedding-3-small", input="alpha", encoding_format="float")
    assert [len(d.embedding) for d in first.data] == [8, 8]
    assert first.data[0].embedding == pytest.approx(again.data[0].embedding)
    assert first.data[0].embedding != first.data[1].embedding
    assert first.usage.prompt_tokens == 2


def test_embeddings_accept_token_arrays(oai):
    done = oai.embeddings.create(model="e", input=[1, 2, 3], dimensions=4)
    assert len(done.data[0].embedding) == 4
    assert done.usage.prompt_tokens == 3


def test_models_in_each_shape(oai, claude):
    assert "mock-model" in [m.id for m in oai.models.list()]
    assert all(m.type == "model" for m in claude.models.list())


# --- Anthropic Messages --------------------------------------------------------------------------


def test_messages_plain(claude):
    msg = claude.messages.create(
        model="claude-x",
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi you"}]}],
    )
    assert msg.content[0].text == "echo: hi you"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.output_tokens == len("echo: hi you") // 4
    assert msg.usage.cache_read_input_tokens == 0 and msg.usage.cache_creation_input_tokens == 0


def test_messages_stream_text(claude):
    with claude.messages.stream(model="c", max_tokens=100, messages=user("one two three")) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 3 and "".join(pieces) == "echo: one two three"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len("echo: one two three") // 4


def test_messages_raw_stream_event_order(claude):
    stream = claude.messages.create(model="c", max_tokens=100, messages=user("a b"), stream=True)
    events = [e.type for e in stream]
    assert events[:2] == ["message_start", "content_block_start"]
    assert events[-3:] == ["content_block_stop", "message_delta", "message_stop"]


@pytest.mark.parametrize("stream", [False, True])
def test_messages_tool_use(claude, stream):
    kwargs = dict(model="c", max_tokens=100, messages=user("Paris?"), tools=[WEATHER_ANTHROPIC])
    if stream:
        with claude.messages.stream(**kwargs) as s:
            partials = [e.partial_json for e in s if e.type == "input_json"]
            msg = s.get_final_message()
        assert len(partials) >= 2
    else:
        msg = claude.messages.create(**kwargs)
    block = msg.content[0]
    assert msg.stop_reason == "tool_use"
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"echo": "Paris?"}


def test_messages_tool_result_is_echoed(claude):
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
    msgs = [*user("Paris?"), {"role": "assistant", "content": [use]}]
    msgs.append({"role": "user", "content": [result]})
    msg = claude.messages.create(model="c", max_tokens=100, messages=msgs, tools=[WEATHER_ANTHROPIC])
    assert msg.content[0].text == "echo: sunny"


def test_messages_truncated_and_cached(claude):
    text = "CACHE_HIT " + "y" * 100
    msg = claude.messages.create(model="c", max_tokens=3, messages=user(text))
    whole = claude.messages.count_tokens(model="c", messages=user(text)).input_tokens
    assert whole == 110 // 4
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 3
    assert msg.usage.cache_read_input_tokens == whole // 2
    assert msg.usage.input_tokens + msg.usage.cache_read_input_tokens == whole


def test_messages_without_max_tokens_is_a_bad_request(mock):
    reply = post(mock, "/v1/messages", {"model": "c", "messages": user("x")})
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"


# --- Failure switches ----------------------------------------------------------------------------


OPENAI_ERRORS = [
    (503, openai.InternalServerError),
    (429, openai.RateLimitError),
    (401, openai.AuthenticationError),
]


@pytest.mark.parametrize("status, error", OPENAI_ERRORS)
def test_openai_failure_by_model_and_header(oai, status, error):
    with pytest.raises(error):
        oai.chat.completions.create(model=f"mock-fail-{status}", messages=user("x"))
    with pytest.raises(error):
        headers = {"X-Mock-Fail": str(status)}
        oai.chat.completions.create(model="m", messages=user("x"), extra_headers=headers)


ANTHROPIC_ERRORS = [(529, anthropic.OverloadedError), (429, anthropic.RateLimitError)]


@pytest.mark.parametrize("status, error", ANTHROPIC_ERRORS)
def test_anthropic_failure_by_model(claude, status, error):
    with pytest.raises(error):
        claude.messages.create(model=f"mock-fail-{status}", max_tokens=10, messages=user("x"))


def test_rate_limit_carries_retry_after(mock):
    reply = post(mock, "/v1/chat/completions", {"model": "mock-fail-429", "messages": user("x")})
    assert reply.headers["retry-after"] == "1"
    assert reply.json()["error"]["code"] == "rate_limit_exceeded"


def test_global_failures_count_down_and_requests_are_recorded(mock, oai):
    httpx.post(mock.url + "/_mock/config", json={"fail_status": 503, "fail_count": 2})
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            oai.chat.completions.create(model="m", messages=user("x"))
    done = oai.chat.completions.create(model="m", messages=user("x"))
    assert done.choices[0].message.content == "echo: x"
    recorded = httpx.get(mock.url + "/_mock/requests").json()
    assert len(recorded) == 3 and len(mock.state.requests) == 3
    assert recorded[-1]["headers"]["authorization"] == "Bearer sk-test"
    assert recorded[-1]["body"]["messages"] == user("x")
    assert httpx.delete(mock.url + "/_mock/requests").json() == {"cleared": 3}
    assert httpx.get(mock.url + "/_mock/requests").json() == []


def test_bad_config_is_refused(mock):
    assert post(mock, "/_mock/config", {"fail_stat": 1}).status_code == 400
    assert post(mock, "/_mock/config", {"fail_status": 200}).status_code == 400


def test_stall_before_headers_times_out(mock):
    with pytest.raises(httpx.ReadTimeout):
        post(mock, "/v1/chat/completions", {"model": "mock-stall", "messages": user("x")}, timeout=0.3)


def test_stall_after_first_chunk(mock):
    body = {"model": "m", "messages": user("x y z"), "stream": True}
    url, stall = mock.url + "/v1/chat/completions", {"X-Mock-Stall": "body"}
    with httpx.stream("POST", url, json=body, timeout=0.3, headers=stall) as reply:
        assert reply.status_code == 200
        lines = reply.iter_lines()
        assert next(lines).startswith("data: {")
        with pytest.raises(httpx.ReadTimeout):
            list(lines)


def test_stall_in_a_plain_body(mock):
    body = {"model": "mock-stall-body", "messages": user("x")}
    with httpx.stream("POST", mock.url + "/v1/chat/completions", json=body, timeout=0.3) as reply:
        assert reply.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            reply.read()


def test_shutdown_releases_stalled_requests():
    running = serve_in_thread()
    stalled = threading.Thread(
        target=lambda: httpx.post(
            running.url + "/v1/embeddings",
            json={"input": "x"},
            headers={"X-Mock-Stall": "headers"},
            timeout=10,
        )
    )
    stalled.start()
    while not running.state.requests:
        time.sleep(0.01)
    started = time.monotonic()
    running.close()
    assert time.monotonic() - started < 2
    stalled.join(timeout=10)


def test_delays(oai):
    started = time.monotonic()
    oai.chat.completions.create(model="m", messages=user("x"), extra_headers={"X-Mock-Delay-Ms": "200"})
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    list(oai.chat.completions.create(model="mock-chunk-delay-50", messages=user("a b c"), stream=True))
    assert time.monotonic() - started >= 0.2  # six frames after the first, 50 ms apart


def test_garbage(mock):
    reply = post(mock, "/v1/chat/completions", {"model": "mock-garbage", "messages": user("x")})
    assert reply.status_code == 200
    with pytest.raises(ValueError):
        reply.json()
    body = {"model": "c", "max_tokens": 5, "messages": user("x"), "stream": True}
    streamed = post(mock, "/v1/messages", body, headers={"X-Mock-Garbage": "1"})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert "not json" in streamed.text


# --- Ollama and the command ----------------------------------------------------------------------


def test_ollama_tags_and_errors(mock):
    tags = httpx.get(mock.url + "/api/tags").json()
    assert len(tags["models"]) >= 2 and all("details" in m for m in tags["models"])
    failed = httpx.get(mock.url + "/api/tags", headers={"X-Mock-Fail": "500"})
    assert failed.status_code == 500 and isinstance(failed.json()["error"], str)


def test_cli_registers_mock_provider():
    parser = argparse.ArgumentParser()
    mock_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["mock-provider", "--port", "1234"])
    assert (args.host, args.port, callable(args.func)) == ("127.0.0.1", 1234, True)
