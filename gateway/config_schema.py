"""The one way model_config.yaml is validated: pydantic models, one per owner of a part of it.

The core owns `providers:`, `models:`, `genai_prices:`, `intercept:` and `plugins:`
(gateway/config_core.py). A plugin declares, through `gateway_plugin_config_schema`, its settings
(`plugins: {<name>: …}`) and the top-level sections it owns (`roles:`, `metering:`, …) as
`ConfigSection` models. Values are checked as written in YAML (strictly: `"yes"` is not a bool,
`"5"` not a number); unknown keys are rejected. Every error names the key at fault
(`metering.flush_rows: must be greater than 0`) and never echoes the value, which may be a secret.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from gateway.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class ConfigSection(BaseModel):
    """Base of every section model: unknown keys are errors and the values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SchemaError(Exception):
    """Raised by a model validator for a fault it can place itself (`where`, relative to the
    model being validated), e.g. a reference from one section to another. Not a ValueError, so
    pydantic lets it through unchanged."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where, self.message = where, message


@dataclass(frozen=True)
class PluginSchema:
    """What a plugin's `gateway_plugin_config_schema` may return when it owns more than its
    settings: `settings` validates `plugins: {<name>: …}`, `sections` is a model whose fields are
    the top-level sections the plugin owns (validated together, so they may refer to each other;
    its validators get the core's `ModelConfig` as `info.context`)."""

    settings: type[BaseModel] | None = None
    sections: type[BaseModel] | None = None


# -- validating ---------------------------------------------------------------------------------

def validate(model: type[M], data: object, loc: Sequence[str | int] = (), source: str = "",
             context: object = None) -> M:
    """`data` (from YAML) as an instance of `model`; ConfigError naming the key at `loc` + the
    fault's own place, after `source` (`model_config.yaml: `) when given."""
    prefix, where = f"{source}: " if source else "", key_path(tuple(loc))
    try:
        text = json.dumps(data, default=str)
    except (TypeError, ValueError):  # a YAML key that is a list or a mapping
        raise ConfigError(f"{prefix}{where or 'model_config.yaml'}: keys must be names or "
                          f"numbers") from None
    try:
        return model.model_validate_json(text, strict=True, context=context)
    except ValidationError as exc:
        raise ConfigError(prefix + describe(exc, tuple(loc))) from None
    except SchemaError as exc:
        raise ConfigError(f"{prefix}{where + '.' if where else ''}{exc}") from None


def key_path(loc: tuple[str | int, ...]) -> str:
    """('agents', 0, 'overrides', 'max') → 'agents[0].overrides.max'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]":
            out += f".{part}" if out else part
    return out


_MESSAGES = {
    "missing": "required", "string_type": "must be a string", "int_type": "must be an integer",
    "int_from_float": "must be an integer", "float_type": "must be a number",
    "decimal_type": "must be a number", "decimal_parsing": "must be a number",
    "finite_number": "must be a finite number", "bool_type": "must be true or false",
    "list_type": "must be a list", "tuple_type": "must be a list", "dict_type": "must be a mapping",
    "model_type": "must be a mapping", "dataclass_type": "must be a mapping",
    "model_attributes_type": "must be a mapping", "none_required": "must be empty",
}
_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")


def describe(exc: ValidationError, base: tuple[str | int, ...] = ()) -> str:
    """One line: the first fault (its key and what is wrong), and how many more there are."""
    errors = exc.errors(include_url=False, include_input=False)
    lines: list[str] = []
    unknown: dict[tuple[Any, ...], list[str]] = {}
    for err in errors:
        loc = base + tuple(err["loc"])
        if err["type"] in _UNKNOWN:
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
            continue
        lines.append(f"{key_path(loc) or 'model_config.yaml'}: {_message(err)}")
    # A misspelt key explains the "required" error of the key it meant: name it first.
    lines[:0] = [f"{key_path(loc) or 'model_config.yaml'}: unknown key(s) {', '.join(sorted(keys))}"
                 for loc, keys in unknown.items()]
    more = len(lines) - 1
    return lines[0] + (f" (and {more} more error{'s' * (more > 1)})" if more else "")


def _message(err: Any) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}".replace("'", "")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {"greater_than": "greater than", "greater_than_equal": "at least",
                 "less_than": "less than", "less_than_equal": "at most"}[kind]
        limit = next(iter(ctx.values()), "")
        return f"must be {words} {limit}"
    return _MESSAGES.get(kind, str(err["msg"]).lower())


# -- what plugins declare -----------------------------------------------------------------------

@dataclass(frozen=True)
class SettingsSchema:
    """One plugin's `plugins: {<name>: …}` schema; `legacy` is the dataclass type or mapping the
    plugin returned, when it did not return a pydantic model (its values are given back so)."""

    model: type[BaseModel]
    legacy: object = None

    def parse(self, name: str, raw: object, source: str = "") -> Any:
        value = validate(self.model, {} if raw is None else raw, ("plugins", name), source)
        if isinstance(self.legacy, type):
            return self.legacy(**dict(value))
        if self.legacy is not None:
            return types.MappingProxyType(dict(value))
        return value


@dataclass(frozen=True)
class Schemas:
    """Every schema a process knows: plugin name → its settings, and → its sections model."""

    settings: Mapping[str, SettingsSchema] = field(default_factory=dict)
    sections: Mapping[str, type[BaseModel]] = field(default_factory=dict)

    def owners(self) -> dict[str, str]:
        """top-level section → the plugin that declares it."""
        return {section: plugin for plugin, model in self.sections.items()
                for section in model.model_fields}


def collect(declared: Mapping[str, object]) -> Schemas:
    """Schemas from what each plugin's `gateway_plugin_config_schema` returned (plugin name →
    a pydantic model, a `PluginSchema`, a dataclass type, a mapping of field → type or
    `(type, default)`, or None). Two plugins declaring one section is a ConfigError."""
    settings: dict[str, SettingsSchema] = {}
    sections: dict[str, type[BaseModel]] = {}
    for name, schema in declared.items():
        plugin = schema if isinstance(schema, PluginSchema) else PluginSchema(settings=None)
        if not isinstance(schema, PluginSchema) and schema is not None:
            settings[name] = as_settings(name, schema)
        elif plugin.settings is not None:
            settings[name] = SettingsSchema(plugin.settings)
        if plugin.sections is not None:
            sections[name] = plugin.sections
    _no_shared_sections(sections)
    return Schemas(settings, sections)


def _no_shared_sections(sections: Mapping[str, type[BaseModel]]) -> None:
    seen: dict[str, str] = {}
    for plugin, model in sections.items():
        for key in model.model_fields:
            if key in seen:
                raise ConfigError(f"model_config.yaml: section {key!r} is declared by both "
                                  f"plugin {seen[key]} and plugin {plugin}")
            seen[key] = plugin


def as_settings(name: str, schema: object) -> SettingsSchema:
    """A pydantic model as it is; a dataclass type or a mapping schema turned into one."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return SettingsSchema(schema)
    if dataclasses.is_dataclass(schema) and isinstance(schema, type):
        hints = typing.get_type_hints(schema)
        fields = {f.name: (hints[f.name], _default(f)) for f in dataclasses.fields(schema)}
    elif isinstance(schema, Mapping):
        fields = {str(k): (v[0], v[1]) if isinstance(v, tuple) else (v, ...)
                  for k, v in schema.items()}
    else:
        raise TypeError(f"plugin {name}: a config schema is a pydantic model, a PluginSchema, a "
                        f"dataclass type or a mapping, got {schema!r}")
    model = create_model(f"{name}_settings", __base__=ConfigSection, **fields)  # type: ignore[call-overload]
    return SettingsSchema(model, schema)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return Field(default_factory=f.default_factory)
    return ...
