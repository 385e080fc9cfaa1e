"""Every row of the README's field tables, as pure functions: what an agent's request field
becomes on a route to another provider's API — translated, dropped (and reported) or refused."""

from __future__ import annotations

import json

import pytest

from gateway.call import SSEEvent, Usage
from gateway.errors import BadRequest
from plugins.routing._chat_to_responses import ChatToResponsesStream, completion_to_response, responses_usage
from plugins.routing._request_to_anthropic import to_anthropic
from plugins.routing._request_to_openai import to_openai
from plugins.routing._responses_to_chat import to_chat, tool_map

USER = [{"role": "user", "content": "hi"}]


def m2o(extra, model="gpt-4o", kind="openai", max_output=None):
    """Messages → Chat Completions: (body, dropped)."""
    dropped: list[str] = []
    body = to_openai({"model": "x", "max_tokens": 100, "messages": USER, **extra}, model, kind,
                     dropped, max_output)
    return body, dropped


def r2c(extra, target="Anthropic"):
    dropped: list[str] = []
    return to_chat({"model": "x", "input": "hi", **extra}, target, dropped), dropped


# --- Messages → OpenAI-format models -----------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("context_management", {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}),
    ("service_tier", "auto"), ("top_k", 5), ("inference_geo", "us"), ("speed", "fast"),
])
def test_messages_fields_that_only_tune_anthropic_are_dropped_and_reported(field, value):
    body, dropped = m2o({field: value})
    assert field not in body and dropped == [field]


def test_claude_code_thinking_and_effort_become_reasoning_effort_on_a_reasoning_model():
    body, dropped = m2o({"thinking": {"type": "adaptive", "display": "omitted"},
                         "output_config": {"effort": "high"}}, model="gpt-5")
    assert body["reasoning_effort"] == "high" and dropped == []
    for budget, effort in ((2000, "low"), (10000, "medium"), (30000, "high")):
        body, _ = m2o({"thinking": {"type": "enabled", "budget_tokens": budget}}, model="o3")
        assert body["reasoning_effort"] == effort


@pytest.mark.parametrize("model, kind", [("gpt-4o", "openai"), ("gpt-5", "ollama")])
def test_thinking_and_effort_are_dropped_where_the_model_cannot_reason(model, kind):
    body, dropped = m2o({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}},
                        model=model, kind=kind)
    assert "reasoning_effort" not in body
    assert dropped == ["thinking", "output_config.effort"]


def test_disabled_thinking_is_nothing_to_report():
    body, dropped = m2o({"thinking": {"type": "disabled"}}, model="gpt-5")
    assert "reasoning_effort" not in body and dropped == []


def test_structured_output_becomes_a_json_schema_response_format():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body, _ = m2o({"output_config": {"format": {"type": "json_schema", "schema": schema}}})
    assert body["response_format"]["json_schema"]["schema"] == schema


def test_user_id_stop_sequences_and_tool_choice_are_translated():
    body, _ = m2o({"metadata": {"user_id": '{"device_id":"d"}'}, "stop_sequences": ["END"],
                   "tools": [{"name": "f", "input_schema": {"type": "object"}}],
                   "tool_choice": {"type": "any", "disable_parallel_tool_use": True}})
    assert body["user"] == '{"device_id":"d"}' and body["stop"] == ["END"]
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is False


def test_cache_control_anywhere_and_deferred_tools_are_dropped_and_reported_once():
    body, dropped = m2o({
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}]},
            {"role": "system", "content": [{"type": "text", "text": "env",
                                            "cache_control": {"type": "ephemeral"}}]}],
        "tools": [{"name": "t", "input_schema": {"type": "object"}, "defer_loading": True}]})
    assert dropped == ["cache_control", "tools.defer_loading"]
    assert "cache_control" not in json.dumps(body) and "defer_loading" not in json.dumps(body)
    assert [m["role"] for m in body["messages"]] == ["system", "user", "system"]


def test_max_tokens_above_the_models_own_limit_is_clamped_and_reported():
    body, dropped = m2o({"max_tokens": 128000}, max_output=16384)
    assert body["max_completion_tokens"] == 16384 and dropped == ["max_tokens>16384"]
    body, dropped = m2o({"max_tokens": 128000}, kind="ollama")
    assert body["max_tokens"] == 128000 and dropped == []


def test_a_tool_error_result_says_so_to_the_model():
    body, _ = m2o({"messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f",
                                           "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "is_error": True, "content": "boom"}]}]})
    assert body["messages"][-1] == {"role": "tool", "tool_call_id": "t1", "content": "Error: boom"}


@pytest.mark.parametrize("extra, named, target_kind, target", [
    ({"container": "c"}, "container", "openai", "OpenAI"),
    ({"mcp_servers": [{"type": "url"}]}, "mcp_servers", "ollama", "Ollama"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type",
     "openai", "OpenAI"),
])
def test_fields_whose_loss_changes_the_answer_are_a_400_naming_field_and_api(extra, named,
                                                                             target_kind, target):
    with pytest.raises(BadRequest) as err:
        m2o(extra, kind=target_kind)
    assert f"'{named}'" in err.value.message and f"the {target} API" in err.value.message


# --- Responses → Chat Completions (then Anthropic or Ollama) -----------------------------------

CODEX_BODY = {
    "model": "anthropic/claude-sonnet-4-5", "instructions": "be brief", "stream": True,
    "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "d"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
        {"type": "function_call", "call_id": "c1", "name": "exec_command",
         "arguments": '{"cmd":"ls"}'},
        {"type": "function_call", "call_id": "c2", "name": "exec_command",
         "arguments": '{"cmd":"pwd"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
        {"type": "function_call_output", "call_id": "c2", "output": "/tmp"},
    ],
    "tools": [{"type": "function", "name": "exec_command", "strict": False,
               "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
              {"type": "web_search", "external_web_access": False},
              {"type": "namespace", "name": "multi", "tools": [
                  {"type": "function", "name": "spawn", "parameters": {"type": "object"}}]},
              {"type": "custom", "name": "apply_patch", "format": {
                  "type": "grammar", "syntax": "lark", "definition": "start: x"}}],
    "tool_choice": "auto", "parallel_tool_calls": True, "reasoning": {"summary": "auto"},
    "store": False, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k",
    "client_metadata": {"session_id": "s"}, "text": {"verbosity": "low"},
}


def test_a_codex_request_becomes_chat_completions_and_reports_what_it_dropped():
    dropped: list[str] = []
    chat = to_chat(dict(CODEX_BODY), "Anthropic", dropped)
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["system", "system", "user", "assistant", "tool", "tool"]
    assert chat["messages"][0]["content"] == "be brief"
    calls = chat["messages"][3]["tool_calls"]
    assert [c["id"] for c in calls] == ["c1", "c2"]  # parallel calls share one assistant turn
    names = [t["function"]["name"] for t in chat["tools"]]
    assert names == ["exec_command", "multi__spawn", "apply_patch"]
    assert "start: x" in chat["tools"][2]["function"]["description"]
    assert dropped == ["reasoning.summary", "tools[web_search]", "text.verbosity"]
    assert chat["stream_options"] == {"include_usage": True}


def test_the_chat_pivot_then_reaches_anthropic_with_tool_results_in_one_user_turn():
    chat = to_chat(dict(CODEX_BODY), "Anthropic", [])
    body = to_anthropic({**chat, "model": "x"}, "claude-sonnet-4-5")
    assert body["system"][0]["text"] == "be brief"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert [b["type"] for b in body["messages"][2]["content"]] == ["tool_result", "tool_result"]


@pytest.mark.parametrize("effort, budget", [("low", 2048), ("medium", 8192), ("high", 24576)])
def test_reasoning_effort_becomes_an_anthropic_thinking_budget(effort, budget):
    chat, _ = r2c({"reasoning": {"effort": effort}, "max_output_tokens": 64000})
    body = to_anthropic({**chat, "model": "x"}, "claude")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}


def test_reasoning_effort_without_room_or_beside_a_temperature_is_dropped_and_reported():
    dropped: list[str] = []
    chat, _ = r2c({"reasoning": {"effort": "high"}, "max_output_tokens": 1500})
    assert "thinking" not in to_anthropic({**chat, "model": "x"}, "claude", dropped)
    chat, _ = r2c({"reasoning": {"effort": "low"}, "temperature": 0.2})
    assert "thinking" not in to_anthropic({**chat, "model": "x"}, "claude", dropped)
    assert dropped == ["reasoning_effort", "reasoning_effort"]


@pytest.mark.parametrize("extra, named", [
    ({"previous_response_id": "resp_1"}, "previous_response_id"),
    ({"background": True}, "background"),
    ({"tool_choice": {"type": "web_search"}, "tools": [{"type": "web_search"}]}, "tool_choice"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt"),
])
def test_responses_fields_the_route_cannot_honour_are_a_400_naming_them(extra, named):
    with pytest.raises(BadRequest) as err:
        r2c(extra)
    assert f"'{named}'" in err.value.message


def test_output_limit_sampling_and_structured_output_are_translated():
    chat, _ = r2c({"max_output_tokens": 50, "temperature": 0.3, "top_p": 0.9,
                   "text": {"format": {"type": "json_schema", "name": "n", "strict": True,
                                       "schema": {"type": "object"}}}})
    assert chat["max_tokens"] == 50 and chat["temperature"] == 0.3 and chat["top_p"] == 0.9
    assert chat["response_format"]["json_schema"] == {"name": "n", "strict": True,
                                                      "schema": {"type": "object"}}


# --- Chat Completions answers → Responses answers ----------------------------------------------

def test_a_whole_completion_becomes_a_response_with_items_and_usage():
    completion = {"id": "c", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": "ok", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "multi__spawn", "arguments": "{}"}},
            {"id": "call_2", "type": "function",
             "function": {"name": "apply_patch", "arguments": '{"input":"*** patch"}'}}]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5,
                  "prompt_tokens_details": {"cached_tokens": 4}}}
    response = completion_to_response(completion, CODEX_BODY, tool_map(CODEX_BODY))
    kinds = [(i["type"], i.get("name")) for i in response["output"]]
    assert kinds == [("message", None), ("function_call", "spawn"),
                     ("custom_tool_call", "apply_patch")]
    assert response["output"][1]["namespace"] == "multi"
    assert response["output"][2]["input"] == "*** patch"
    assert response["usage"]["input_tokens"] == 10
    assert response["usage"]["input_tokens_details"]["cached_tokens"] == 4
    assert response["status"] == "completed"


def chunks(*deltas, finish="stop", usage=None):
    out = [{"id": "c", "model": "m", "choices": [{"index": 0, "delta": d, "finish_reason": None}]}
           for d in deltas]
    out.append({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if usage:
        out.append({"id": "c", "choices": [], "usage": usage})
    return [SSEEvent(json.dumps(c)) for c in out] + [SSEEvent("[DONE]")]


def run(events, body=None):
    body = body or {"model": "m", "tools": []}
    stream = ChatToResponsesStream(body, tool_map(body))
    return [e.json for ev in events for e in stream.feed(ev)] + \
        [e.json for e in stream.end(True)]


def test_a_streamed_text_answer_is_the_event_sequence_codex_parses():
    out = run(chunks({"role": "assistant", "content": ""}, {"content": "he"}, {"content": "llo"},
                     usage={"prompt_tokens": 3, "completion_tokens": 2}))
    types = [e["type"] for e in out]
    assert types == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", "response.output_text.delta",
                     "response.output_text.delta", "response.output_text.done",
                     "response.content_part.done", "response.output_item.done",
                     "response.completed"]
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    final = out[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == "hello"
    assert final["usage"] == responses_usage(Usage(3, 2))


def test_streamed_parallel_tool_calls_are_items_with_their_arguments():
    out = run(chunks({"content": "let me"},
                     {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f",
                                                                         "arguments": ""}}]},
                     {"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]},
                     {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "f",
                                                                         "arguments": "{}"}}]},
                     {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
                     finish="tool_calls"))
    done = [e["item"] for e in out if e["type"] == "response.output_item.done"]
    assert [(i["type"], i.get("call_id"), i.get("arguments")) for i in done] == [
        ("message", None, None), ("function_call", "a", '{"x":1}'), ("function_call", "b", "{}")]
    indexes = [e["output_index"] for e in out if e["type"] == "response.output_item.added"]
    assert indexes == [0, 1, 2]
    assert [i["call_id"] for i in out[-1]["response"]["output"][1:]] == ["a", "b"]


def test_a_length_cut_answer_ends_incomplete_and_an_error_ends_failed():
    out = run(chunks({"content": "par"}, finish="length"))
    assert out[-1]["type"] == "response.incomplete"
    assert out[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    failed = run([SSEEvent(json.dumps({"id": "c", "choices": [{"index": 0, "delta":
                  {"content": "x"}}]})), SSEEvent(json.dumps({"error": {"message": "boom"}}))])
    assert failed[-1]["type"] == "response.failed"
    assert failed[-1]["response"]["error"]["message"] == "boom"
