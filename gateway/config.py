"""model_config.yaml: one file, validated as a whole into frozen values, reloaded when it changes.

The core's sections (`providers:`, `models:`, `genai_prices:`, `intercept:`, `plugins:`) are
models in gateway/config_core.py; plugins declare theirs and their `plugins: {<name>: …}`
settings through `gateway_plugin_config_schema` (gateway/config_schema.py). A section nobody
declares is an error, and every error names the file and the key at fault
(`model_config.yaml: models.openai/gpt-4o.input: must be at least 0`). `ConfigStore` reloads the
file when it changes and keeps the last good version after a bad edit.

The catalog starts from the genai-prices snapshot shipped with the package (gateway/catalog.py)
for the providers this config knows; a `models:` entry overrides any field of a model there or
adds a model (`genai_prices: false` at the top level leaves the snapshot out). Each entry records
where its prices come from (`price_source`). Without a config file, the packaged default
(gateway/default_model_config.yaml) is used, so an installed gateway works from any folder.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

from gateway import catalog
from gateway.config_core import (
    BUILTIN_PROVIDERS,
    CORE_SECTIONS,
    PRICE_KEYS,
    PROVIDER_KINDS,
    CoreSections,
    ModelSpec,
)
from gateway.config_schema import Schemas, collect, validate
from gateway.errors import ConfigError

__all__ = ["BUILTIN_PROVIDERS", "PROVIDER_KINDS", "ConfigStore", "ModelConfig", "ModelEntry",
           "ProviderConfig", "load_config", "parse_config"]

log = logging.getLogger("gateway.config")
S = TypeVar("S", bound=BaseModel)
# Sections of the built-in plugins: ignored (not refused) when that plugin is not loaded, e.g.
# GATEWAY_DISABLE_PLUGINS=metering or a test kit without entry points, with the shipped file.
BUILTIN_PLUGIN_SECTIONS = {"roles": "routing", "agents": "routing", "metering": "metering",
                           "dlp": "dlp"}


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
    sections: Mapping[str, BaseModel] = field(default_factory=dict)  # plugin → its sections
    settings: Mapping[str, Any] = field(default_factory=dict)  # plugin → its `plugins:` entry

    def section(self, name: str) -> Any:
        """A top-level section as written in the file (prefer `sections_of`)."""
        return self.raw.get(name)

    def sections_of(self, model: type[S]) -> S:
        """The validated sections a plugin declared with `model`. When its plugin was not part
        of the load (a tool without plugins), `model` validates the file's sections now."""
        for value in self.sections.values():
            if isinstance(value, model):
                return value
        data = {k: self.raw[k] for k in model.model_fields if k in self.raw}
        return validate(model, data, context=self)

    def provider_names(self) -> set[str]:
        return set(BUILTIN_PROVIDERS) | set(self.providers)

    def knows(self, name: str) -> bool:
        """A name an admin may point a route at: a catalog model, or any `ollama/<name>`."""
        return name in self.models or (name.startswith("ollama/") and len(name) > 7)


def _model_entry(name: str, spec: ModelSpec | None, base: Mapping[str, Any] | None,
                 sources: tuple[str, str]) -> ModelEntry:
    """One catalog entry: `spec` (from model_config.yaml) over `base` (from the snapshot, whose
    source is sources[0]; sources[1] names the config file)."""
    written = spec.model_dump(exclude_none=True) if spec is not None else {}
    merged = {**(base or {}), **written}
    prices = {k: _decimal(merged.get(k)) for k in PRICE_KEYS}
    tiered = bool(merged.get("tiered", False)) and not any(k in written for k in PRICE_KEYS)
    source = sources[1] if any(k in written for k in PRICE_KEYS) else sources[0]
    provider, _, rest = name.partition("/")
    if provider == "ollama":
        prices = {k: v if v is not None else Decimal(0) for k, v in prices.items()}
        source = source if source == sources[1] else "ollama"
    if prices["input"] is None or prices["output"] is None:
        source = ""
    return ModelEntry(name=name, provider=provider, upstream=merged.get("upstream") or rest,
                      context_window=merged.get("context_window"),
                      max_output_tokens=merged.get("max_output_tokens"), price_source=source,
                      tiered=tiered, **prices)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def parse_config(data: Any, snapshot: catalog.Snapshot | None = None,
                 source: str = "model_config.yaml", schemas: Schemas | None = None) -> ModelConfig:
    """Validate a loaded model_config.yaml as a whole: the core's sections over `snapshot`'s
    models and prices (by default the shipped genai-prices snapshot; `catalog.Snapshot("")` for
    none), then the sections and settings the plugins of `schemas` declare (by default those of
    this process's plugin manager). A section nobody declares is an error."""
    snapshot = catalog.load_snapshot() if snapshot is None else snapshot
    schemas = default_schemas() if schemas is None else schemas
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    data = {str(k): v for k, v in data.items() if v is not None}  # `agents:` alone = not set
    _known_sections(data, schemas, source)
    core = validate(CoreSections, {k: data[k] for k in CORE_SECTIONS if k in data}, (), source)
    config = _core_config(core, data, snapshot, source)
    return replace(config, sections=MappingProxyType(_sections(data, schemas, config, source)),
                   settings=MappingProxyType(_settings(core.plugins, schemas, source)))


def _known_sections(data: Mapping[str, Any], schemas: Schemas, source: str) -> None:
    owners = schemas.owners()
    for name in data:
        if name in CORE_SECTIONS or name in owners:
            continue
        if name in BUILTIN_PLUGIN_SECTIONS:
            log.info("%s: %s: the %s plugin is not loaded; section ignored", source, name,
                     BUILTIN_PLUGIN_SECTIONS[name])
            continue
        known = ", ".join(sorted({*CORE_SECTIONS, *owners}))
        raise ConfigError(f"{source}: {name}: unknown section (known: {known})")


def _core_config(core: CoreSections, data: Mapping[str, Any], snapshot: catalog.Snapshot,
                 source: str) -> ModelConfig:
    providers = {p.name: ProviderConfig(p.name, p.kind, p.base_url, p.api_key_env)
                 for p in core.providers}
    names = set(BUILTIN_PROVIDERS) | set(providers)
    base = catalog.defaults_for(names, snapshot) if core.genai_prices else {}
    sources = (snapshot.source, source)
    models = {name: _model_entry(name, core.models.get(name), base.get(name), sources)
              for name in {**base, **core.models}}
    bare: dict[str, list[str]] = {}
    for entry in models.values():
        bare.setdefault(entry.name.split("/", 1)[1], []).append(entry.name)
    return ModelConfig(
        providers=MappingProxyType(providers),
        models=MappingProxyType(models),
        raw=MappingProxyType(dict(data)),
        by_bare_name=MappingProxyType({k: tuple(v) for k, v in bare.items()}),
    )


def _sections(data: Mapping[str, Any], schemas: Schemas, config: ModelConfig,
              source: str) -> dict[str, BaseModel]:
    """plugin name → its sections model, validated with the core's config as context."""
    return {plugin: validate(model, {k: data[k] for k in model.model_fields if k in data}, (),
                             source, context=config)
            for plugin, model in schemas.sections.items()}


def _settings(section: Mapping[str, Any], schemas: Schemas, source: str) -> dict[str, Any]:
    values = {name: schema.parse(name, section.get(name), source)
              for name, schema in schemas.settings.items()}
    for name in sorted(set(section) - set(values)):
        log.info("plugins.%s: no loaded plugin declares a schema for it; passed as is", name)
        raw = section[name]
        values[name] = MappingProxyType(dict(raw)) if isinstance(raw, Mapping) else raw
    return values


def default_schemas() -> Schemas:
    """The schemas of this process's plugin manager (entry points and any plugins folder)."""
    from gateway.pluginmanager import Hooks, plugin_manager

    return collect(Hooks(plugin_manager()).config_schemas())


def load_config(path: Path, snapshot: catalog.Snapshot | None = None,
                schemas: Schemas | None = None) -> ModelConfig:
    """The config in `path` over the shipped price snapshot; the packaged default config when
    `path` does not exist. ConfigError names the file and the key at fault."""
    if not path.exists():
        log.info("model config %s not found; using the packaged default (%s)", path,
                 catalog.DEFAULT_CONFIG.name)
        path = catalog.DEFAULT_CONFIG
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML ({yaml_problem(exc)})") from None
    return parse_config(data, snapshot, source=path.name, schemas=schemas)


def config_problem(path: Path, declared: Mapping[str, object]) -> str | None:
    """The one line that says why `path` would not load with the plugins that declared
    `declared` (plugin name → what its schema hook returned), or None when it is valid."""
    try:
        load_config(path, schemas=collect(declared))
    except ConfigError as exc:
        return str(exc)
    return None


def yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong and where, without the line itself (it may hold a secret)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "unreadable"
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


class ConfigStore:
    """The current config of this process; `check()` reloads it when the file changed. A bad
    edit is logged (one line naming the key) and kept in `error`; the last good config stays."""

    def __init__(self, path: Path, config: ModelConfig | None = None,
                 schemas: Schemas | None = None) -> None:
        self.path = path
        self.schemas = schemas
        self.error: str | None = None
        self._stamp = self._file_stamp()
        self.current = config if config is not None else load_config(path, schemas=schemas)
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
                self.current = load_config(self.path, schemas=self.schemas)
            except ConfigError as exc:
                self.error = str(exc)
                log.error("model config reload failed, keeping the last good one: %s", exc)
                return False
            self.error = None
        log.info("model config reloaded from %s", self.path)
        return True
