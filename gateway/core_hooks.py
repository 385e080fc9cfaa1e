"""The core's own hook implementations: the defaults every plugin can answer before (`trylast`)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

from gateway.call import Call, Endpoint, ModelInfo, Principal, Provider, Route
from gateway.errors import BadRequest, NotFound
from gateway.host import PluginHost
from gateway.markers import hookimpl

if TYPE_CHECKING:
    from gateway.auth import KeyStore


class CoreHost(PluginHost, Protocol):
    """What the core's own hooks use: a plugin's view plus the key store (no import of
    `gateway.context`, which imports the plugin manager that registers these hooks)."""

    @property
    def keystore(self) -> KeyStore: ...


# A bare name the catalog does not list goes to the provider of the API the client speaks.
_NATIVE_PROVIDER = {Endpoint.MESSAGES: "anthropic", Endpoint.COUNT_TOKENS: "anthropic",
                    Endpoint.OLLAMA_CHAT: "ollama", Endpoint.OLLAMA_GENERATE: "ollama",
                    Endpoint.OLLAMA_EMBED: "ollama"}


class CoreHooks:
    def __init__(self) -> None:
        self.ctx: CoreHost | None = None

    @hookimpl(trylast=True)
    def gateway_startup(self, ctx: CoreHost) -> None:
        self.ctx = ctx

    @hookimpl(trylast=True)
    def gateway_authenticate(self, call: Call, credential: str) -> Awaitable[Principal | None]:
        assert self.ctx is not None, "gateway_startup has not run"
        return self.ctx.keystore.lookup(credential)

    @hookimpl(trylast=True)
    def gateway_provider(self, name: str, default: Provider | None) -> Provider | None:
        return default

    @hookimpl(trylast=True)
    def gateway_resolve_model(self, call: Call) -> Route:
        assert self.ctx is not None
        return resolve_name(self.ctx, call.requested_model, call.endpoint)

    @hookimpl(trylast=True)
    def gateway_list_models(self, principal: Principal | None) -> list[ModelInfo]:
        assert self.ctx is not None
        return [ModelInfo(id=name, owned_by=entry.provider)
                for name, entry in sorted(self.ctx.config.models.items())]


def resolve_name(ctx: PluginHost, name: str, endpoint: Endpoint) -> Route:
    """`provider/model` (listed or not) or a bare catalog name → Route."""
    config = ctx.config
    entry = config.models.get(name)
    if entry is not None:
        return Route(model=name, provider=entry.provider, upstream_model=entry.upstream, reason="catalog")
    provider, sep, rest = name.partition("/")
    if sep and provider in config.provider_names():
        if not rest:
            raise BadRequest(f"model {name!r} names no model after the provider")
        return Route(model=name, provider=provider, upstream_model=rest, reason="direct")
    if sep and "/" not in rest and provider not in config.provider_names():
        raise NotFound(f"model {name!r}: unknown provider {provider!r}")
    matches = config.by_bare_name.get(name, ())
    if len(matches) == 1:
        entry = config.models[matches[0]]
        return Route(model=entry.name, provider=entry.provider, upstream_model=entry.upstream,
                     reason="catalog")
    if len(matches) > 1:
        raise BadRequest(f"model {name!r} is ambiguous; use one of {', '.join(sorted(matches))}")
    native = _NATIVE_PROVIDER.get(endpoint, "openai")
    return Route(model=f"{native}/{name}", provider=native, upstream_model=name, reason="passthrough")
