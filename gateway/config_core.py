"""The core's sections of model_config.yaml as models: `providers:`, `models:`, `genai_prices:`,
`intercept:` and `plugins:` (each plugin's settings are validated by its own schema)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from gateway.config_schema import ConfigSection, SchemaError

PROVIDER_KINDS = ("openai", "anthropic", "ollama")
BUILTIN_PROVIDERS = ("openai", "anthropic", "ollama")
PRICE_KEYS = ("input", "output", "cached_input", "cache_write")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError("must be a lower-case name like 'groq'")
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


def _env_name(value: str) -> str:
    if not re.match(r"^[A-Z_][A-Z0-9_]*$", value):
        raise ValueError("must be an environment variable name")
    return value


Price = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]  # USD per million tokens
Tokens = Annotated[int, Field(gt=0)]


class ProviderSpec(ConfigSection):
    name: Annotated[str, AfterValidator(_name)]
    kind: Literal["openai", "anthropic", "ollama"] = "openai"
    base_url: Annotated[str, AfterValidator(_http_url)]
    api_key_env: Annotated[str, AfterValidator(_env_name)] | None = None


class ModelSpec(ConfigSection):
    """One catalog entry as written; what it leaves out comes from the genai-prices snapshot."""

    upstream: Annotated[str, Field(min_length=1)] | None = None
    input: Price | None = None
    output: Price | None = None
    cached_input: Price | None = None
    cache_write: Price | None = None
    context_window: Tokens | None = None
    max_output_tokens: Tokens | None = None


class InterceptSpec(ConfigSection):
    hosts: dict[str, Literal["openai", "anthropic"]] = {}


class CoreSections(ConfigSection):
    providers: tuple[ProviderSpec, ...] = ()
    models: dict[str, ModelSpec | None] = {}
    genai_prices: bool = True
    intercept: InterceptSpec = InterceptSpec()
    plugins: dict[str, Any] = {}

    @model_validator(mode="after")
    def _names(self) -> CoreSections:
        seen = set(BUILTIN_PROVIDERS)
        for i, spec in enumerate(self.providers):
            if spec.name in seen:
                raise SchemaError(f"providers[{i}].name", f"{spec.name!r} is already defined")
            seen.add(spec.name)
        for name in self.models:
            provider, slash, rest = name.partition("/")
            if not slash or not rest:
                raise SchemaError(f"models.{name}", "model names are 'provider/model'")
            if provider not in seen:
                raise SchemaError(f"models.{name}",
                                  f"unknown provider {provider!r} (declare it under providers:)")
        return self


CORE_SECTIONS = tuple(CoreSections.model_fields)
