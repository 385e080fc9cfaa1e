"""Request translation, both ways, as pure functions: every item of issue 3 point 4."""

from __future__ import annotations

import json

import pytest

from gateway.errors import BadRequest
from plugins.routing._request_to_anthropic import DEFAULT_MAX_TOKENS, to_anthropic
from plugins.routing._request_to_openai import to_openai

PNG = "iVBORw0KGgo="
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
ATOOL = {"name": "get_weather", "description": "weather",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def a(body):  # OpenAI body → Anthropic
    return to_anthropic({"model": "gpt-4o", **body}, "claude-sonnet-4-5")


def o(body, kind="openai"):  # Anthropic body → OpenAI
    return to_openai({"model": "claude", "max_tokens": 100, **body}, "gpt-4o", kind)


# --- OpenAI → Anthropic ------------------------------------------------------------------------

def test_system_and_developer_messages_become_the_system_blocks():
    out = a({"messages": [{"role": "system", "content": "be terse"},
                          {"role": "developer", "content": [{"type": "text", "text": "no emoji"}]},
                          {"role": "user", "content": "hi"}]})
    assert out["system"] == [{"type": "text", "text": "be terse"},
                             {"type": "text", "text": "no emoji"}]
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert out["model"] == "claude-sonnet-4-5"


def test_multi_turn_keeps_order_and_merges_consecutive_roles():
    out = a({"messages": [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"},
                          {"role": "user", "content": "three"}, {"role": "user", "content": "four"}]})
    assert [(m["role"], [b["text"] for b in m["content"]]) for m in out["messages"]] == [
        ("user", ["one"]), ("assistant", ["two"]), ("user", ["three", "four"])]


def test_images_base64_and_url():
    out = a({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}}]}]})
    blocks = out["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                     "data": PNG}}
    assert blocks[2] == {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}}


def test_image_type_anthropic_cannot_read_is_a_400_naming_the_part():
    with pytest.raises(BadRequest, match=r"messages\[0\]\.content\[0\]\.image_url\.url.*image/bmp"):
        a({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AAAA"}}]}]})


def test_inline_pdf_becomes_a_document_and_audio_is_refused():
    out = a({"messages": [{"role": "user", "content": [{"type": "file", "file": {
        "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}}]}]})
    assert out["messages"][0]["content"][0] == {"type": "document", "title": "a.pdf", "source": {
        "type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}
    with pytest.raises(BadRequest, match=r"messages\[0\]\.content\[0\]\.type"):
        a({"messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]})


def test_tools_and_tool_choice():
    out = a({"messages": [{"role": "user", "content": "hi"}], "tools": [TOOL],
             "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
             "parallel_tool_calls": False})
    assert out["tools"] == [{"name": "get_weather", "description": "weather",
                             "input_schema": TOOL["function"]["parameters"]}]
    assert out["tool_choice"] == {"type": "tool", "name": "get_weather",
                                  "disable_parallel_tool_use": True}
    assert a({"messages": [{"role": "user", "content": "x"}], "tools": [TOOL],
              "tool_choice": "required"})["tool_choice"] == {"type": "any"}
    assert a({"messages": [{"role": "user", "content": "x"}], "tools": [TOOL],
              "tool_choice": "none"})["tool_choice"] == {"type": "none"}


def test_parallel_tool_calls_and_their_results():
    calls = [{"id": "call_1", "type": "function", "function": {"name": "get_weather",
                                                                "arguments": '{"city":"Paris"}'}},
             {"id": "call_2", "type": "function", "function": {"name": "get_weather",
                                                                "arguments": '{"city":"Rome"}'}}]
    out = a({"messages": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
        {"role": "user", "content": "thanks; which is warmer?"}]})
    assistant, results = out["messages"][1], out["messages"][2]
    assert assistant == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}]}
    assert results["role"] == "user" and len(out["messages"]) == 3
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
        {"type": "text", "text": "thanks; which is warmer?"}]


def test_tool_call_arguments_that_are_not_a_json_object_are_a_400():
    bad = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}
    with pytest.raises(BadRequest, match=r"messages\[0\]\.tool_calls\[0\]\.function\.arguments"):
        a({"messages": [{"role": "assistant", "tool_calls": [bad]}]})


def test_stop_max_tokens_temperature_top_p_user():
    out = a({"messages": [{"role": "user", "content": "x"}], "stop": "END", "max_tokens": 50,
             "temperature": 0.2, "top_p": 0.9, "user": "u-42", "stream": True,
             "stream_options": {"include_usage": True}})
    assert out["stop_sequences"] == ["END"] and out["max_tokens"] == 50
    assert out["temperature"] == 0.2 and out["top_p"] == 0.9
    assert out["metadata"] == {"user_id": "u-42"} and out["stream"] is True
    assert "stream_options" not in out
    assert a({"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b"],
              "max_completion_tokens": 7})["stop_sequences"] == ["a", "b"]
    assert a({"messages": [{"role": "user", "content": "x"}],
              "max_completion_tokens": 7})["max_tokens"] == 7
    assert a({"messages": [{"role": "user", "content": "x"}]})["max_tokens"] == DEFAULT_MAX_TOKENS


def test_prompt_cache_breakpoint_becomes_cache_control():
    out = a({"messages": [{"role": "system", "content": [
        {"type": "text", "text": "long", "prompt_cache_breakpoint": {"mode": "explicit"}}]},
        {"role": "user", "content": "x"}]})
    assert out["system"][0]["cache_control"] == {"type": "ephemeral"}


@pytest.mark.parametrize("param, value", [
    ("n", 2), ("logprobs", True), ("top_logprobs", 3), ("seed", 1), ("presence_penalty", 0.5),
    ("frequency_penalty", 0.1), ("logit_bias", {"50256": -100}),
    ("response_format", {"type": "json_object"}), ("audio", {"voice": "alloy"}),
    ("temperature", 1.5), ("functions", [{"name": "f"}]), ("web_search_options", {}),
])
def test_parameters_anthropic_cannot_honour_are_a_400_naming_them(param, value):
    with pytest.raises(BadRequest, match=f"'{param}'"):
        a({"messages": [{"role": "user", "content": "x"}], param: value})


def test_neutral_values_of_unsupported_parameters_are_accepted():
    out = a({"messages": [{"role": "user", "content": "x"}], "n": 1, "logprobs": False,
             "presence_penalty": 0, "frequency_penalty": 0.0, "seed": None, "store": False,
             "metadata": {"k": "v"}, "response_format": {"type": "text"}})
    assert set(out) == {"model", "messages", "max_tokens"}


# --- Anthropic → OpenAI ------------------------------------------------------------------------

def test_system_string_and_blocks():
    assert o({"system": "be terse", "messages": [{"role": "user", "content": "hi"}]})["messages"] == [
        {"role": "system", "content": "be terse"}, {"role": "user", "content": "hi"}]
    out = o({"system": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                        {"type": "text", "text": "b"}], "messages": [{"role": "user", "content": "hi"}]})
    assert out["messages"][0] == {"role": "system", "content": "a\n\nb"}


def test_a_system_turn_inside_messages_stays_a_system_message():
    out = o({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "be brief"},
                          {"role": "user", "content": "b"}]})
    assert [m["role"] for m in out["messages"]] == ["user", "system", "user"]
    assert out["messages"][1]["content"] == "be brief"


def test_multi_turn_and_limits():
    out = o({"messages": [{"role": "user", "content": "one"},
                          {"role": "assistant", "content": [{"type": "text", "text": "two"}]},
                          {"role": "user", "content": [{"type": "text", "text": "three"}]}],
             "stop_sequences": ["END"], "temperature": 0.3, "top_p": 0.8,
             "metadata": {"user_id": "u-1"}})
    assert out["messages"] == [{"role": "user", "content": "one"},
                               {"role": "assistant", "content": "two"},
                               {"role": "user", "content": "three"}]
    assert out["max_completion_tokens"] == 100 and out["stop"] == ["END"]
    assert out["temperature"] == 0.3 and out["top_p"] == 0.8 and out["user"] == "u-1"
    assert o({"messages": [{"role": "user", "content": "x"}]}, kind="ollama")["max_tokens"] == 100


def test_images_base64_and_url_become_image_url_parts():
    out = o({"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}},
        {"type": "text", "text": "compare"}]}]})
    assert out["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}},
        {"type": "text", "text": "compare"}]


def test_tools_tool_choice_and_parallel_switch():
    out = o({"messages": [{"role": "user", "content": "x"}], "tools": [ATOOL],
             "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}})
    assert out["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "weather", "parameters": ATOOL["input_schema"]}}]
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert out["parallel_tool_calls"] is False
    any_ = o({"messages": [{"role": "user", "content": "x"}], "tools": [ATOOL],
              "tool_choice": {"type": "any"}})
    assert any_["tool_choice"] == "required" and "parallel_tool_calls" not in any_


def test_parallel_tool_uses_and_results():
    out = o({"messages": [
        {"role": "user", "content": "Paris and Rome?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "checking"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
             "content": [{"type": "text", "text": "timeout"}]},
            {"type": "text", "text": "and?"}]}]})
    msgs = out["messages"]
    assert msgs[1]["content"] == "checking"
    assert [(c["id"], json.loads(c["function"]["arguments"])) for c in msgs[1]["tool_calls"]] == [
        ("toolu_1", {"city": "Paris"}), ("toolu_2", {"city": "Rome"})]
    assert msgs[2:] == [{"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
                        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: timeout"},
                        {"role": "user", "content": "and?"}]


def test_streaming_asks_openai_for_usage():
    out = o({"messages": [{"role": "user", "content": "x"}], "stream": True})
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}


def test_thinking_blocks_of_earlier_turns_are_left_out():
    out = o({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "answer"}]}]})
    assert out["messages"][1] == {"role": "assistant", "content": "answer"}


@pytest.mark.parametrize("extra, param", [
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, r"tools\[0\]\.type"),
    ({"output_config": {"task_budget": 5}}, r"output_config\.task_budget"),
    ({"container": "c1"}, "container"),
    ({"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, "mcp_servers"),
    ({"some_future_parameter": 1}, "some_future_parameter"),
])
def test_parameters_openai_cannot_honour_are_a_400_naming_them(extra, param):
    with pytest.raises(BadRequest, match=f"'{param}'"):
        o({"messages": [{"role": "user", "content": "x"}], **extra})


def test_an_image_inside_a_tool_result_follows_the_tool_message_as_a_user_image():
    out = o({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
        "content": [{"type": "text", "text": "screenshot:"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                 "data": PNG}}]}]}]})
    tool, user = out["messages"]
    assert tool["role"] == "tool" and tool["content"].startswith("screenshot:")
    assert user["role"] == "user"
    assert user["content"][-1] == {"type": "image_url",
                                   "image_url": {"url": f"data:image/png;base64,{PNG}"}}
