"""Checks on the client's request before anything else happens: JSON shape, field types, and keys
that must never steer the gateway (a client-supplied `api_key` or `base_url` is refused)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mitmproxy.http import Headers

import json
import re
from typing import Any

from gateway.call import Endpoint
from gateway.errors import BadRequest

# Keys that would redirect or re-authenticate the upstream call in some gateways; never ours.
FORBIDDEN_KEYS = frozenset({"api_base", "base_url", "api_key", "api_host", "azure_endpoint"})
# JSON-schema subtrees (tool parameters, response formats) legitimately name any property.
_SCHEMA_KEYS = frozenset({"parameters", "input_schema", "json_schema", "schema", "properties"})

_UNSAFE_IN_PATH = re.compile(r"[^\x21-\x7e]")  # anything but visible ASCII
MAX_PATH = 64  # the request log's endpoint column


def clean_path(path: str) -> str:
    """A client's path, safe to log and show: no query, non-printable characters %-escaped,
    at most MAX_PATH characters."""
    path = path.split("?", 1)[0]
    return _UNSAFE_IN_PATH.sub(lambda m: f"%{ord(m.group()) & 0xff:02X}", path)[:MAX_PATH]


# C0 controls, DEL and C1 controls: never part of a name, and CR/LF/NUL in an answer header would
# split it (response splitting); ESC sequences would rewrite a terminal reading the log.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_MODEL = 256
MAX_CHOICES = 128
# Client headers the gateway reads or forwards, with the longest value it accepts.
IDENTIFIER_HEADERS = {"x-agent-id": 128, "x-cost-mode": 16, "anthropic-version": 64,
                      "anthropic-beta": 2048, "x-gateway-cache": 16, "x-dlp-bypass": 8}


def check_identifier(value: str, name: str, limit: int) -> None:
    """Refuse a name with a control character or longer than `limit`, naming the field and never
    echoing the value."""
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise BadRequest(f"{name} contains a control character (CR, LF, NUL, ESC, …); "
                         f"names must be printable text")


_IDENTIFIER_FIELDS = {name.encode(): limit for name, limit in IDENTIFIER_HEADERS.items()}


def check_headers(headers: Mapping[str, str] | Headers) -> None:
    """Every identifier header, in one pass over the raw header fields (mitmproxy's), or a
    mapping's items."""
    fields = getattr(headers, "fields", None)
    if fields is None:
        fields = [(k.lower().encode(), v.encode("utf-8", "surrogateescape"))
                  for k, v in headers.items()]
    for name, value in fields:
        limit = _IDENTIFIER_FIELDS.get(name.lower())
        if limit is not None:
            check_identifier(value.decode("utf-8", "replace"), f"the {name.decode().lower()} header",
                             limit)


_NUMBER = (int, float)
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "model": ((str,), "a string"),
    "stream": ((bool,), "a boolean"),
    "max_tokens": ((int,), "an integer"),
    "max_completion_tokens": ((int,), "an integer"),
    "max_output_tokens": ((int,), "an integer"),
    "temperature": (_NUMBER, "a number"),
    "top_p": (_NUMBER, "a number"),
    "top_k": ((int,), "an integer"),
    "n": ((int,), "an integer"),
    "tools": ((list,), "an array"),
    "stop_sequences": ((list,), "an array of strings"),
    "stop": ((str, list), "a string or an array of strings"),
    "metadata": ((dict,), "an object"),
    "stream_options": ((dict,), "an object"),
    "system": ((str, list), "a string or an array of content blocks"),
    "input": ((str, list), "a string or an array"),
}
_REQUIRED: dict[Endpoint, tuple[str, ...]] = {
    Endpoint.CHAT: ("model", "messages"),
    Endpoint.MESSAGES: ("model", "messages", "max_tokens"),
    Endpoint.COUNT_TOKENS: ("model", "messages"),
    Endpoint.EMBEDDINGS: ("model", "input"),
    Endpoint.RESPONSES: ("model",),
    Endpoint.OLLAMA_CHAT: ("model", "messages"),
    Endpoint.OLLAMA_GENERATE: ("model",),
    Endpoint.OLLAMA_EMBED: ("model", "input"),
}


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise BadRequest("request body is empty; send a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("request body is JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(body).__name__}")
    return body


def validate(endpoint: Endpoint, body: dict[str, Any]) -> None:
    for name in _REQUIRED[endpoint]:
        if name not in body:
            raise BadRequest(f"missing required parameter '{name}'")
    for name, (types, label) in _TYPES.items():
        value = body.get(name)
        if value is None or name not in body:
            continue
        if isinstance(value, bool) and bool not in types:
            raise BadRequest(f"'{name}' must be {label}, got a boolean")
        if not isinstance(value, types):
            raise BadRequest(f"'{name}' must be {label}, got {type(value).__name__}")
    if not body["model"].strip():
        raise BadRequest("'model' must not be empty")
    check_identifier(body["model"], "'model'", MAX_MODEL)
    messages = body.get("messages")
    if "messages" in body:
        _check_messages(messages)
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if name in body and body[name] is not None and body[name] < 1:
            raise BadRequest(f"'{name}' must be at least 1, got {body[name]}")
    n = body.get("n")
    if n is not None and not 1 <= n <= MAX_CHOICES:
        # Every choice costs its own output: caps reserve for all of them, so the number must be
        # one a provider accepts (OpenAI allows at most 128).
        raise BadRequest(f"'n' must be between 1 and {MAX_CHOICES}, got {n}")
    reject_steering_keys(body, "body")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list):
        raise BadRequest(f"'messages' must be an array, got {type(messages).__name__}")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"'messages[{i}]' must be an object, got {type(message).__name__}")
        if not isinstance(message.get("role"), str):
            raise BadRequest(f"'messages[{i}].role' must be a string")


def reject_steering_keys(value: Any, where: str, depth: int = 0) -> None:
    if depth > 64:
        raise BadRequest(f"{where}: JSON nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if key in FORBIDDEN_KEYS:
                raise BadRequest(f"'{where}.{key}' is not allowed: the gateway chooses the provider "
                                 f"endpoint and credentials")
            if key not in _SCHEMA_KEYS and isinstance(item, (dict, list)):
                reject_steering_keys(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, (dict, list)):
                reject_steering_keys(item, f"{where}[{i}]", depth + 1)
