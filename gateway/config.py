"""model_config.yaml: providers and the model catalog, validated into frozen dataclasses.

Validation errors name the key at fault (`models.openai/gpt-4o.input: …`). Sections the core does
not know (`roles:`, `agents:`, …) belong to plugins, which read them with `ModelConfig.section()`.
`ConfigStore` reloads the file when it changes and keeps the last good version after a bad edit.

The catalog starts from the genai-prices snapshot shipped with the package (gateway/catalog.py)
for the providers this config knows; a `models:` entry overrides any field of a model there or
adds a model (`genai_prices: false` at the top level leaves the snapshot out). Each entry records
where its prices come from (`price_source`). Without a config file, the packaged default
(gateway/default_model_config.yaml) is used, so an installed gateway works from any folder.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from gateway import catalog
from gateway.errors import ConfigError

log = logging.getLogger("gateway.config")

PROVIDER_KINDS = ("openai", "anthropic", "ollama")
BUILTIN_PROVIDERS = ("openai", "anthropic", "ollama")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_PRICE_KEYS = ("input", "output", "cached_input", "cache_write")


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: str
    base_url: str
    api_key_env: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    name: str  # provider/model
    provider: str
    upstream: str
    input: Decimal | None = None  # USD per million tokens
    output: Decimal | None = None
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None  # the most a model generates in one answer, when known
    price_source: str = ""  # "genai-prices 0.2.5", "model_config.yaml", "ollama"; "" = unpriced
    tiered: bool = False  # the provider charges more past a prompt length; prices are the base tier

    @property
    def priced(self) -> bool:
        return self.input is not None and self.output is not None


@dataclass(frozen=True)
class ModelConfig:
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict)
    models: Mapping[str, ModelEntry] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    by_bare_name: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        return self.raw.get(name)

    def provider_names(self) -> set[str]:
        return set(BUILTIN_PROVIDERS) | set(self.providers)

    def knows(self, name: str) -> bool:
        """A name an admin may point a route at: a catalog model, or any `ollama/<name>`."""
        return name in self.models or (name.startswith("ollama/") and len(name) > 7)


def _price(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{where}: must be a number of USD per million tokens, got {value!r}")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: must be a number of USD per million tokens, got {value!r}") from None
    if not price.is_finite() or price < 0:
        raise ConfigError(f"{where}: must be >= 0, got {value!r}")
    return price


def _parse_provider(item: Any, index: int) -> ProviderConfig:
    where = f"providers[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a mapping with name, kind, base_url")
    name, kind, url = item.get("name"), item.get("kind", "openai"), item.get("base_url")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"{where}.name: must be a lower-case name like 'groq', got {name!r}")
    if kind not in PROVIDER_KINDS:
        raise ConfigError(f"{where}.kind: must be one of {', '.join(PROVIDER_KINDS)}, got {kind!r}")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"{where}.base_url: must be an http(s) URL, got {url!r}")
    key_env = item.get("api_key_env")
    if key_env is not None and not (isinstance(key_env, str) and re.match(r"^[A-Z_][A-Z0-9_]*$", key_env)):
        raise ConfigError(f"{where}.api_key_env: must be an environment variable name, got {key_env!r}")
    unknown = set(item) - {"name", "kind", "base_url", "api_key_env"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    return ProviderConfig(name=name, kind=kind, base_url=url.rstrip("/"), api_key_env=key_env)


def _parse_model(name: Any, spec: Any, providers: set[str], base: Mapping[str, Any] | None = None,
                 sources: tuple[str, str] = ("", "model_config.yaml")) -> ModelEntry:
    """One catalog entry: `spec` (from model_config.yaml) over `base` (from the snapshot, whose
    source is sources[0]; sources[1] names the config file)."""
    where = f"models.{name}"
    if not isinstance(name, str) or "/" not in name:
        raise ConfigError(f"{where}: model names are 'provider/model', got {name!r}")
    provider, _, rest = name.partition("/")
    if provider not in providers:
        raise ConfigError(f"{where}: unknown provider {provider!r} (declare it under providers:)")
    spec = spec or {}
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a mapping of prices and context_window")
    unknown = set(spec) - {"upstream", "context_window", "max_output_tokens", *_PRICE_KEYS}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    base = dict(base or {})
    tiered = bool(base.pop("tiered", False)) and not any(k in spec for k in _PRICE_KEYS)
    source = sources[1] if any(spec.get(k) is not None for k in _PRICE_KEYS) else sources[0]
    spec = {**base, **spec}
    window = _positive(spec.get("context_window"), f"{where}.context_window")
    max_output = _positive(spec.get("max_output_tokens"), f"{where}.max_output_tokens")
    upstream = spec.get("upstream", rest)
    if not isinstance(upstream, str) or not upstream:
        raise ConfigError(f"{where}.upstream: must be the provider's model id, got {upstream!r}")
    prices = {k: _price(spec.get(k), f"{where}.{k}") for k in _PRICE_KEYS}
    if provider == "ollama":
        prices = {k: v if v is not None else Decimal(0) for k, v in prices.items()}
        source = source if source == sources[1] else "ollama"
    if prices["input"] is None or prices["output"] is None:
        source = ""
    return ModelEntry(name=name, provider=provider, upstream=upstream, context_window=window,
                      max_output_tokens=max_output, price_source=source, tiered=tiered, **prices)


def _positive(value: Any, where: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise ConfigError(f"{where}: must be a positive integer, got {value!r}")
    return value


def parse_config(data: Any, snapshot: catalog.Snapshot | None = None,
                 source: str = "model_config.yaml") -> ModelConfig:
    """Validate a loaded model_config.yaml over `snapshot`'s models and prices (by default the
    shipped genai-prices snapshot; `catalog.Snapshot("")` for none)."""
    snapshot = catalog.load_snapshot() if snapshot is None else snapshot
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("model_config.yaml: the top level must be a mapping")
    raw_providers = data.get("providers") or []
    if not isinstance(raw_providers, list):
        raise ConfigError("providers: must be a list")
    providers: dict[str, ProviderConfig] = {}
    for i, item in enumerate(raw_providers):
        prov = _parse_provider(item, i)
        if prov.name in providers or prov.name in BUILTIN_PROVIDERS:
            raise ConfigError(f"providers[{i}].name: {prov.name!r} is already defined")
        providers[prov.name] = prov
    raw_models = data.get("models") or {}
    if not isinstance(raw_models, dict):
        raise ConfigError("models: must be a mapping of 'provider/model' to its prices")
    names = set(BUILTIN_PROVIDERS) | set(providers)
    use_snapshot = data.get("genai_prices", True)
    if not isinstance(use_snapshot, bool):
        raise ConfigError(f"genai_prices: must be true or false, got {use_snapshot!r}")
    base = catalog.defaults_for(names, snapshot) if use_snapshot else {}
    sources = (snapshot.source, source)
    models = {name: _parse_model(name, raw_models.get(name), names, base.get(name), sources)
              for name in {**base, **raw_models}}
    bare: dict[str, list[str]] = {}
    for entry in models.values():
        bare.setdefault(entry.name.split("/", 1)[1], []).append(entry.name)
    return ModelConfig(
        providers=MappingProxyType(providers),
        models=MappingProxyType(models),
        raw=MappingProxyType(dict(data)),
        by_bare_name=MappingProxyType({k: tuple(v) for k, v in bare.items()}),
    )


def load_config(path: Path, snapshot: catalog.Snapshot | None = None) -> ModelConfig:
    """The config in `path` over the shipped price snapshot; the packaged default config when
    `path` does not exist."""
    if not path.exists():
        log.info("model config %s not found; using the packaged default (%s)", path,
                 catalog.DEFAULT_CONFIG.name)
        path = catalog.DEFAULT_CONFIG
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    return parse_config(data, snapshot, source=path.name)


class ConfigStore:
    """The current config of this process; `check()` reloads it when the file changed."""

    def __init__(self, path: Path, config: ModelConfig | None = None) -> None:
        self.path = path
        self._stamp = self._file_stamp()
        self.current = config if config is not None else load_config(path)
        self._lock = threading.Lock()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def check(self) -> bool:
        """Reload if the file changed; True when a new config was taken."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        with self._lock:
            self._stamp = stamp
            try:
                self.current = load_config(self.path)
            except ConfigError as exc:
                log.error("model config reload failed, keeping the last good one: %s", exc)
                return False
        log.info("model config reloaded from %s", self.path)
        return True
