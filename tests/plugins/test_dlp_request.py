"""Where DLP looks in a request: every text the provider would read, in both API formats."""

from __future__ import annotations

import json

from gateway.call import Endpoint
from plugins.dlp._placeholders import Placeholders, Redactor
from plugins.dlp._request import collect, redact_slots
from plugins.dlp._scanner import DEFAULT_RULES, Scanner

EMAIL = "jane@example.com"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----"


def redact(endpoint: Endpoint, body: dict) -> dict:
    ph = Placeholders()
    red = Redactor(Scanner(DEFAULT_RULES), ph, b"k" * 32, None)
    redact_slots(collect(endpoint, body), ph.reserve_from, red.redact, lambda: None)
    return body


def test_responses_instructions_input_items_calls_outputs_and_tools():
    body = redact(Endpoint.RESPONSES, {
        "model": "m", "instructions": f"cc {EMAIL}",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": f"to {EMAIL}"}]},
            {"type": "function_call", "call_id": "c1", "name": "f",
             "arguments": json.dumps({"key": PEM})},
            {"type": "function_call_output", "call_id": "c1", "output": f"sent to {EMAIL}"}],
        "tools": [{"type": "function", "name": "f", "description": f"mail {EMAIL}",
                   "parameters": {"type": "object", "properties": {
                       "key": {"type": "string", "description": f"like {EMAIL}"}}}}]})
    assert EMAIL not in json.dumps(body) and "MIIEvQ" not in json.dumps(body)
    assert body["instructions"] == "cc [EMAIL_1]"
    assert json.loads(body["input"][1]["arguments"]) == {"key": "[PRIVATE_KEY_1]"}
    assert body["input"][2]["output"] == "sent to [EMAIL_1]"
    assert body["tools"][0]["parameters"]["properties"]["key"]["description"] == "like [EMAIL_1]"
    assert list(body["tools"][0]["parameters"]["properties"]) == ["key"]  # names are structure


def test_responses_plain_string_input_and_embeddings():
    assert redact(Endpoint.RESPONSES, {"model": "m", "input": EMAIL})["input"] == "[EMAIL_1]"
    body = redact(Endpoint.EMBEDDINGS, {"model": "m", "input": [EMAIL, "ok", [1, 2, 3]]})
    assert body["input"] == ["[EMAIL_1]", "ok", [1, 2, 3]]


def test_anthropic_system_blocks_tool_use_tool_result_and_documents():
    body = redact(Endpoint.MESSAGES, {
        "model": "m", "max_tokens": 10,
        "system": [{"type": "text", "text": f"owner {EMAIL}"}],
        "messages": [
            {"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                                "data": f"from {EMAIL}"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": "iVBORw0KGgo"}}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"to": [EMAIL]}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1",
                 "content": [{"type": "text", "text": f"ok {EMAIL}"}]}]}],
        "tools": [{"name": "f", "description": f"mail {EMAIL}",
                   "input_schema": {"type": "object"}}]})
    assert EMAIL not in json.dumps(body)
    assert body["messages"][1]["content"][0]["input"] == {"to": ["[EMAIL_1]"]}
    assert body["messages"][0]["content"][1]["source"]["data"] == "iVBORw0KGgo"


def test_unparseable_arguments_are_scanned_as_text():
    body = redact(Endpoint.CHAT, {"model": "m", "messages": [
        {"role": "assistant", "tool_calls": [{"id": "1", "type": "function", "function": {
            "name": "f", "arguments": '{"to": "' + EMAIL + '"'}}]}]})
    assert body["messages"][0]["tool_calls"][0]["function"]["arguments"] == '{"to": "[EMAIL_1]"'
