"""The small typed objects that hooks receive and return.

A `Call` is one client request from the moment it is parsed until its answer is finished. Plugins
talk to each other only through it: routing fills `route`, fallback fills `candidates`, DLP rewrites
`body`, metering reads `usage`. Facts one plugin leaves for another are typed fields here; a
plugin's own state between its hooks goes into `call.stash` under a `gateway.stash.StashKey`.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.jsontext import compact, loads
from gateway.stash import Stash

if TYPE_CHECKING:
    from gateway.errors import GatewayError
    from gateway.host import PluginHost


class ApiFormat(str, enum.Enum):
    """The wire format of a request or of a provider."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OLLAMA = "ollama"  # Ollama's native API (/api/chat …): NDJSON streams, served by Ollama only


class Endpoint(str, enum.Enum):
    """The proxied endpoints; the value is the path the client called."""

    CHAT = "/v1/chat/completions"
    RESPONSES = "/v1/responses"
    EMBEDDINGS = "/v1/embeddings"
    MESSAGES = "/v1/messages"
    COUNT_TOKENS = "/v1/messages/count_tokens"
    OLLAMA_CHAT = "/api/chat"
    OLLAMA_GENERATE = "/api/generate"
    OLLAMA_EMBED = "/api/embed"
    # A path the gateway does not serve; `Call.path` holds what the client asked for.
    UNKNOWN = "unknown"

    @property
    def api_format(self) -> ApiFormat:
        return _API_FORMATS[self]  # asked several times a call: worked out once, below


_API_FORMATS = {
    endpoint: ApiFormat.ANTHROPIC if endpoint in (Endpoint.MESSAGES, Endpoint.COUNT_TOKENS)
    else ApiFormat.OLLAMA if endpoint.value.startswith("/api/") else ApiFormat.OPENAI
    for endpoint in Endpoint
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key and the user or app that owns it, and the feature toggles on for
    it (`gateway.features`: the admin's "on" features, plus those its user opted into). A plugin
    reads a toggle as `"<key>" in call.principal.features`."""

    key_id: int
    key_prefix: str
    key_name: str
    user_id: int | None = None
    user_email: str | None = None
    role: str | None = None
    app_id: int | None = None
    app_slug: str | None = None
    org_id: int | None = None
    org_slug: str | None = None
    features: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return self.user_email or (f"app:{self.app_slug}" if self.app_slug else self.key_prefix)


@dataclass(frozen=True, slots=True)
class Provider:
    """An upstream endpoint. `base_url` follows the SDK conventions: OpenAI-compatible kinds include
    `/v1`, Anthropic does not, Ollama is the server root."""

    name: str
    kind: str  # "openai" | "anthropic" | "ollama"
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    # Admin-stored URLs are checked again at every connection (DNS rebinding): "public" refuses
    # private addresses, "private" allows them; None (the operator's own configuration) trusts.
    address_guard: str | None = None

    @property
    def wire_format(self) -> ApiFormat:
        return ApiFormat.ANTHROPIC if self.kind == "anthropic" else ApiFormat.OPENAI

    def speaks(self, fmt: ApiFormat) -> bool:
        """Ollama serves its native API besides the OpenAI-compatible one."""
        return fmt is self.wire_format or (fmt is ApiFormat.OLLAMA and self.kind == "ollama")


@dataclass(frozen=True, slots=True)
class Route:
    """Where a call goes: the canonical `provider/model` name and the provider's own model id."""

    model: str
    provider: str
    upstream_model: str
    reason: str = "direct"  # how it was chosen: direct, catalog, alias, agent, fallback, …


@dataclass(slots=True)
class Usage:
    """Tokens of one call. `input_tokens` counts every input token, cached ones included (OpenAI's
    convention); `cached_input_tokens` and `cache_write_tokens` are the parts of it read from and
    written to the provider's prompt cache. `estimated` marks counts the gateway had to estimate."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    estimated: bool = False


@dataclass(slots=True)
class Failure:
    """Why an upstream attempt failed before any byte reached the client."""

    kind: str  # "connect", "timeout", "status", "protocol"
    message: str
    status: int | None = None
    body: bytes = b""
    retry_after: float | None = None


@dataclass(slots=True)
class Attempt:
    """One try at one provider. `body` and `path` are in the provider's wire format."""

    number: int
    route: Route
    provider: Provider
    path: str
    body: dict[str, Any]
    wire_format: ApiFormat
    headers: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    first_byte: float | None = None
    status: int | None = None
    failure: Failure | None = None
    # Request fields a translating plugin left out because the provider's API has no equivalent
    # and their loss changes no answer's meaning; named in `X-Gateway-Dropped-Params`.
    dropped_params: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ModelInfo:
    """One entry of `/v1/models`."""

    id: str
    owned_by: str
    kind: str = "model"  # model, alias, agent
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A provider's 2xx answer as it came off the wire (before any response filter)."""

    status: int
    content_type: str
    body: bytes


@dataclass(slots=True)
class LocalRequest:
    """A request the gateway answers itself (health, models, metrics, error reports)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str
    principal: Principal | None = None


@dataclass(slots=True)
class LocalResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Call:
    request_id: str
    endpoint: Endpoint
    body: dict[str, Any]
    headers: Mapping[str, str]
    principal: Principal | None = None
    requested_model: str = ""
    stream: bool = False
    agent_id: str | None = None
    cost_mode: str = "normal"
    route: Route | None = None
    candidates: list[Route] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    status: int | None = None
    error_type: str | None = None
    cache_hit: bool = False
    client_disconnected: bool = False
    started: float = field(default_factory=time.monotonic)
    started_wall: float = field(default_factory=time.time)
    first_byte: float | None = None
    ended: float | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    stash: Stash = field(default_factory=Stash, repr=False)  # each plugin's own typed slots
    ctx: PluginHost | None = field(default=None, repr=False)  # the process serving it
    path: str = ""  # the path the client called, for `Endpoint.UNKNOWN` (cleaned, bounded)
    intercepted: bool = False  # came through the HTTPS_PROXY interception listener
    # Facts plugins leave for each other and for the core:
    dlp_scope: str = "off"  # DLP: "off", "bypass" or the marker of the scope that applied
    store_answer: bool = False  # a cache wants the answer (`gateway_cache_store` will run)
    provider_usage: Usage | None = None  # a translator saw the provider's own usage figures
    provider_usage_missing: bool = False  # … or saw that the provider reported none
    error: GatewayError | None = None  # core: the error this call is being answered with

    @property
    def api_format(self) -> ApiFormat:
        return self.endpoint.api_format

    @property
    def attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def actual_model(self) -> str | None:
        attempt = self.attempt
        return attempt.route.model if attempt else None


class SSEEvent:
    """One server-sent event. `data` is the raw text; `json` parses it once on demand; assigning
    `json` marks the event changed so it is serialised again."""

    __slots__ = ("event", "_data", "_json", "_raw")

    def __init__(self, data: str, event: str | None = None, raw: bytes | None = None) -> None:
        self.event = event
        self._data = data
        self._json: Any = None
        self._raw = raw

    @classmethod
    def from_json(cls, value: Any, event: str | None = None) -> SSEEvent:
        ev = cls(compact(value), event)
        ev._json = value
        return ev

    @property
    def data(self) -> str:
        return self._data

    @data.setter
    def data(self, value: str) -> None:
        self._data, self._json, self._raw = value, None, None

    @property
    def json(self) -> Any:
        if self._json is None and self._data and self._data != "[DONE]":
            try:
                self._json = loads(self._data)
            except ValueError:
                self._json = None
        return self._json

    @json.setter
    def json(self, value: Any) -> None:
        self._json = value
        self._data = compact(value)
        self._raw = None

    def touch(self) -> None:
        """Call after changing `json` in place, so the event is serialised again."""
        self.json = self._json

    def encode(self) -> bytes:
        if self._raw is not None:
            return self._raw
        head = f"event: {self.event}\n" if self.event else ""
        return (head + "data: " + self._data.replace("\n", "\ndata: ") + "\n\n").encode()


class ResponseFilter:
    """A per-call transformer of the provider's 2xx answer, returned by `gateway_response_filter`.

    Filters are chained in hook order (translation first, then DLP, then metering). Override only
    what you need; the defaults pass everything through unchanged. A filter that only reads (never
    changes a body or an event) sets `modifies = False`, which spares re-serialising the answer;
    one that knows only after looking sets it in `on_json` (the core reads it right after). A
    filter that can do its work on a whole answer's bytes overrides `on_bytes` and spares the
    walk of the parsed answer and its serialising. A read-only filter that wants the answer as
    the provider wrote it (metering: its usage, the length of its text) sets
    `reads_provider_answer`: after a filter ahead of it rewrote a whole answer's bytes (DLP's
    restore), it is handed the answer as parsed before that rewrite, not a fresh parse.
    """

    modifies: bool = True
    reads_provider_answer: bool = False

    def on_bytes(self, raw: bytes) -> bytes | None:
        """A whole, non-streamed JSON answer as bytes, offered before `on_json` while no filter
        ahead of this one has changed the parsed answer. Return the bytes that replace it (`raw`
        itself for no change); then `on_json` is not called. None: call `on_json` instead."""
        return None

    def on_json(self, body: Any) -> Any:
        """A whole, non-streamed JSON answer. Return the (possibly new) body."""
        return body

    def on_event(self, event: SSEEvent) -> Iterable[SSEEvent]:
        """One streamed event. Return the events to pass on (none to hold it back)."""
        return (event,)

    def on_end(self, complete: bool) -> Iterable[SSEEvent]:
        """The stream ended; `complete` is False when it was cut short. Return held-back events."""
        return ()
