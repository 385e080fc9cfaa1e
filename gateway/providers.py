"""Provider endpoints: the built-in three from the environment, plus `providers:` from
model_config.yaml. A plugin may override any of them (credentials stored in the database) through
the `gateway_provider` hook."""

from __future__ import annotations

import os
from collections.abc import Mapping

from gateway.call import ApiFormat, Endpoint, Provider
from gateway.config import ModelConfig
from gateway.errors import BadRequest
from gateway.settings import Settings

ANTHROPIC_VERSION = "2023-06-01"


def builtin_providers(settings: Settings) -> dict[str, Provider]:
    return {
        "openai": Provider("openai", "openai", settings.openai_base_url, settings.openai_api_key),
        "anthropic": Provider("anthropic", "anthropic", settings.anthropic_base_url,
                              settings.anthropic_api_key),
        "ollama": Provider("ollama", "ollama", settings.ollama_base_url, None),
    }


def configured_providers(config: ModelConfig,
                         env: Mapping[str, str] | None = None) -> dict[str, Provider]:
    values: Mapping[str, str] = os.environ if env is None else env
    return {
        p.name: Provider(p.name, p.kind, p.base_url, values.get(p.api_key_env) if p.api_key_env else None)
        for p in config.providers.values()
    }


def upstream_path(provider: Provider, endpoint: Endpoint) -> str:
    """The path (appended to the base URL) for an endpoint on this provider's wire format."""
    path: str = endpoint.value
    if endpoint.api_format is ApiFormat.OLLAMA:
        if provider.kind != "ollama":
            raise BadRequest(f"the Ollama native API ({endpoint.value}) is served by Ollama "
                             f"providers only, not by {provider.name!r}")
        return path  # Ollama's base URL is the server root
    if provider.wire_format is ApiFormat.ANTHROPIC:
        if endpoint not in (Endpoint.MESSAGES, Endpoint.COUNT_TOKENS):
            raise BadRequest(f"provider {provider.name!r} speaks the Anthropic API, which has no "
                             f"{endpoint.value} endpoint")
        return path  # base URL has no /v1 (SDK convention)
    if endpoint in (Endpoint.MESSAGES, Endpoint.COUNT_TOKENS):
        return path[3:]  # OpenAI-style base URLs already end in /v1
    prefix = "/v1" if provider.kind == "ollama" else ""
    return prefix + path[3:]


def auth_headers(provider: Provider, client_headers: Mapping[str, str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    if provider.wire_format is ApiFormat.ANTHROPIC:
        if provider.api_key:
            headers["x-api-key"] = provider.api_key
        headers["anthropic-version"] = client_headers.get("anthropic-version") or ANTHROPIC_VERSION
        beta = client_headers.get("anthropic-beta")
        if beta:
            headers["anthropic-beta"] = beta
    elif provider.api_key:
        headers["authorization"] = f"Bearer {provider.api_key}"
    headers.update(provider.headers)
    return headers
