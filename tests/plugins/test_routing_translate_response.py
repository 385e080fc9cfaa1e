"""Answer translation, both ways, as pure functions: whole JSON and chunk-by-chunk streams, checked
against the official SDKs' own models and stream accumulators."""

from __future__ import annotations

import json

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter

from gateway.call import SSEEvent
from plugins.routing._stream_to_anthropic import OpenAIToAnthropicStream
from plugins.routing._stream_to_openai import AnthropicToOpenAIStream
from plugins.routing._translate_response import completion_to_message, message_to_completion

ANTHROPIC_EVENT = TypeAdapter(RawMessageStreamEvent)
A_USAGE = {"input_tokens": 10, "output_tokens": 7, "cache_read_input_tokens": 30,
           "cache_creation_input_tokens": 5}


# --- whole answers -----------------------------------------------------------------------------

def test_anthropic_message_to_chat_completion():
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
               "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                           {"type": "text", "text": "Let me check."},
                           {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                            "input": {"city": "Paris"}},
                           {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
                            "input": {"city": "Rome"}}],
               "stop_reason": "tool_use", "stop_sequence": None, "usage": A_USAGE}
    out = ChatCompletion.model_validate(message_to_completion(message))
    choice = out.choices[0]
    assert choice.message.content == "Let me check." and choice.finish_reason == "tool_calls"
    assert [(c.id, json.loads(c.function.arguments)) for c in choice.message.tool_calls] == [
        ("toolu_1", {"city": "Paris"}), ("toolu_2", {"city": "Rome"})]
    # OpenAI's prompt_tokens include cached ones; Anthropic's input_tokens do not
    assert out.usage.prompt_tokens == 45 and out.usage.completion_tokens == 7
    assert out.usage.total_tokens == 52
    assert out.usage.prompt_tokens_details.cached_tokens == 30
    assert out.usage.prompt_tokens_details.cache_write_tokens == 5


@pytest.mark.parametrize("stop, finish", [("end_turn", "stop"), ("stop_sequence", "stop"),
                                          ("max_tokens", "length"), ("tool_use", "tool_calls"),
                                          ("refusal", "content_filter")])
def test_stop_reasons_become_finish_reasons(stop, finish):
    message = {"id": "m", "type": "message", "model": "c", "content": [], "stop_reason": stop,
               "usage": {"input_tokens": 1, "output_tokens": 1}}
    assert message_to_completion(message)["choices"][0]["finish_reason"] == finish


def test_chat_completion_to_anthropic_message():
    completion = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
                  "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                      "role": "assistant", "content": "On it.", "tool_calls": [
                          {"id": "call_1", "type": "function",
                           "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
                          {"id": "call_2", "type": "function",
                           "function": {"name": "get_weather", "arguments": "not json"}}]}}],
                  "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59,
                            "prompt_tokens_details": {"cached_tokens": 40}}}
    out = Message.model_validate(completion_to_message(completion))
    assert out.stop_reason == "tool_use" and out.content[0].text == "On it."
    assert (out.content[1].id, out.content[1].input) == ("call_1", {"city": "Paris"})
    assert out.content[2].input == {"_raw": "not json"}
    assert (out.usage.input_tokens, out.usage.cache_read_input_tokens, out.usage.output_tokens) == \
        (10, 40, 9)


@pytest.mark.parametrize("finish, stop", [("stop", "end_turn"), ("length", "max_tokens"),
                                          ("tool_calls", "tool_use"), ("content_filter", "refusal")])
def test_finish_reasons_become_stop_reasons(finish, stop):
    completion = {"id": "c", "model": "m", "choices": [
        {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": "x"}}]}
    assert completion_to_message(completion)["stop_reason"] == stop


# --- Anthropic stream → OpenAI chunks ----------------------------------------------------------

def anthropic_events(stop="tool_use"):
    start = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
             "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 30,
                       "cache_creation_input_tokens": 5}}
    tool = lambda i, tid: {"type": "content_block_start", "index": i, "content_block": {  # noqa: E731
        "type": "tool_use", "id": tid, "name": "get_weather", "input": {}}}
    delta = lambda i, d: {"type": "content_block_delta", "index": i, "delta": d}  # noqa: E731
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        delta(0, {"type": "thinking_delta", "thinking": "hmm"}),
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        delta(1, {"type": "text_delta", "text": "Checking "}),
        delta(1, {"type": "text_delta", "text": "both."}),
        {"type": "content_block_stop", "index": 1},
        tool(2, "toolu_a"), delta(2, {"type": "input_json_delta", "partial_json": '{"city": '}),
        delta(2, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
        {"type": "content_block_stop", "index": 2},
        tool(3, "toolu_b"), delta(3, {"type": "input_json_delta", "partial_json": '{"city": "Rome"}'}),
        {"type": "content_block_stop", "index": 3},
        {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
         "usage": {"output_tokens": 7}},
        {"type": "message_stop"},
    ]


def to_openai_chunks(events, include_usage=True):
    stream = AnthropicToOpenAIStream(include_usage=include_usage)
    per_event = [stream.feed(e) for e in events]
    return stream, per_event


def test_anthropic_stream_is_translated_event_by_event():
    stream, per_event = to_openai_chunks(anthropic_events())
    counts = [len(out) for out in per_event]
    # role chunk at message_start; nothing for thinking, ping or block stops; one chunk per delta
    assert counts == [1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 2, 1]
    assert per_event[-1][0].data == "[DONE]" and stream.done
    for out in per_event[:-1]:
        for event in out:
            assert event.event is None
            ChatCompletionChunk.model_validate(event.json)


def test_anthropic_stream_accumulates_in_the_openai_sdk():
    _, per_event = to_openai_chunks(anthropic_events())
    state = ChatCompletionStreamState()
    for out in per_event[:-1]:
        for event in out:
            state.handle_chunk(ChatCompletionChunk.model_validate(event.json))
    final = state.get_final_completion()
    choice = final.choices[0]
    assert choice.message.content == "Checking both." and choice.finish_reason == "tool_calls"
    assert [(c.id, c.function.name, json.loads(c.function.arguments))
            for c in choice.message.tool_calls] == [("toolu_a", "get_weather", {"city": "Paris"}),
                                                    ("toolu_b", "get_weather", {"city": "Rome"})]
    assert final.usage.prompt_tokens == 45 and final.usage.completion_tokens == 7
    assert final.usage.prompt_tokens_details.cached_tokens == 30


def test_usage_chunk_only_when_the_client_asked_for_it():
    _, per_event = to_openai_chunks(anthropic_events(), include_usage=False)
    chunks = [e.json for out in per_event for e in out if e.data != "[DONE]"]
    assert all("usage" not in c for c in chunks) and all(c["choices"] for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_anthropic_error_event_becomes_an_openai_error_chunk():
    stream = AnthropicToOpenAIStream(include_usage=False)
    stream.feed(anthropic_events()[0])
    out = stream.feed({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    assert out[0].json == {"error": {"message": "busy", "type": "overloaded_error",
                                     "param": None, "code": None}}


def test_cut_anthropic_stream_gets_no_done():
    stream, _ = to_openai_chunks(anthropic_events()[:8])
    assert stream.end(False) == []
    stream2, _ = to_openai_chunks(anthropic_events()[:8])
    assert [e.data for e in stream2.end(True)] == ["[DONE]"]


# --- OpenAI stream → Anthropic events ----------------------------------------------------------

def openai_chunks(finish="tool_calls"):
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    ch = lambda delta, fin=None: {**base, "choices": [  # noqa: E731
        {"index": 0, "delta": delta, "finish_reason": fin}], "usage": None}
    tc = lambda i, **kw: {"tool_calls": [{"index": i, **kw}]}  # noqa: E731
    return [
        ch({"role": "assistant", "content": ""}),
        ch({"content": "Checking "}), ch({"content": "both."}),
        ch(tc(0, id="call_a", type="function", function={"name": "get_weather", "arguments": ""})),
        ch(tc(0, function={"arguments": '{"city":'})), ch(tc(0, function={"arguments": '"Paris"}'})),
        ch(tc(1, id="call_b", type="function",
              function={"name": "get_weather", "arguments": '{"city":"Rome"}'})),
        ch({}, finish),
        {**base, "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 9,
                                          "total_tokens": 59,
                                          "prompt_tokens_details": {"cached_tokens": 40}}},
        "[DONE]",
    ]


def to_anthropic_events(chunks):
    stream = OpenAIToAnthropicStream()
    events = [SSEEvent(c) if c == "[DONE]" else SSEEvent.from_json(c) for c in chunks]
    return stream, [stream.feed(e) for e in events]


def test_openai_stream_is_translated_chunk_by_chunk():
    stream, per_event = to_anthropic_events(openai_chunks())
    kinds = [[e.event for e in out] for out in per_event]
    assert kinds == [
        ["message_start"],
        ["content_block_start", "content_block_delta"], ["content_block_delta"],
        ["content_block_stop", "content_block_start"],
        ["content_block_delta"], ["content_block_delta"],
        ["content_block_stop", "content_block_start", "content_block_delta"],
        ["content_block_stop"], [],
        ["message_delta", "message_stop"],
    ]
    for out in per_event:
        for event in out:
            assert event.json["type"] == event.event
            ANTHROPIC_EVENT.validate_python(event.json)


def test_openai_stream_accumulates_in_the_anthropic_sdk():
    _, per_event = to_anthropic_events(openai_chunks())
    snapshot = None
    for out in per_event:
        for event in out:
            snapshot = accumulate_event(event=ANTHROPIC_EVENT.validate_python(event.json),
                                        current_snapshot=snapshot)
    assert snapshot.stop_reason == "tool_use"
    assert snapshot.content[0].text == "Checking both."
    assert [(b.id, b.input) for b in snapshot.content[1:]] == [("call_a", {"city": "Paris"}),
                                                               ("call_b", {"city": "Rome"})]
    assert (snapshot.usage.input_tokens, snapshot.usage.cache_read_input_tokens,
            snapshot.usage.output_tokens) == (10, 40, 9)


def test_openai_length_and_error_and_missing_done():
    stream, per_event = to_anthropic_events([c for c in openai_chunks("length") if c != "[DONE]"])
    assert per_event[-1] == []  # usage chunk alone emits nothing
    tail = stream.end(True)
    assert [e.event for e in tail] == ["message_delta", "message_stop"]
    assert tail[0].json["delta"]["stop_reason"] == "max_tokens"
    err, _ = to_anthropic_events(openai_chunks()[:2])
    out = err.feed(SSEEvent.from_json({"error": {"message": "boom", "type": "server_error"}}))
    assert out[0].event == "error" and out[0].json == {
        "type": "error", "error": {"type": "api_error", "message": "boom"}}
    assert err.end(True) == []
