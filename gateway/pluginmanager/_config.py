"""Per-plugin configuration: the `plugins:` section of model_config.yaml, one mapping per plugin
name, validated against the schema each plugin declares (`gateway_plugin_config_schema`).

A schema is a dataclass type (its fields, types and defaults) or a mapping of field name → type
or `(type, default)`. Supported types: `str`, `int`, `float`, `bool`, `Any`, `X | None`,
`list[X]`, `tuple[X, ...]`, `dict[str, X]` and nested dataclasses. A dataclass schema gives the
plugin an instance of it; a mapping schema a read-only mapping; a plugin without a schema gets
its section as a read-only mapping (or None). Errors name the key: `plugins.webhook.url: …`.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import types
import typing
from collections.abc import Mapping
from typing import Any

import pluggy

from gateway.errors import ConfigError

log = logging.getLogger("gateway.plugins")
hookimpl = pluggy.HookimplMarker("llm_gateway")
_MISSING = dataclasses.MISSING
_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def field_types(schema: Any) -> dict[str, tuple[Any, Any]]:
    """name → (type, default or MISSING) of a dataclass type or a mapping schema."""
    if dataclasses.is_dataclass(schema) and isinstance(schema, type):
        hints = typing.get_type_hints(schema)
        return {f.name: (hints[f.name], _default(f)) for f in dataclasses.fields(schema)}
    if isinstance(schema, Mapping):
        return {str(k): (v if not isinstance(v, tuple) else v[0],
                         _MISSING if not isinstance(v, tuple) else v[1])
                for k, v in schema.items()}
    raise TypeError(f"a plugin config schema is a dataclass type or a mapping, got {schema!r}")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:
        return f.default_factory()
    return _MISSING


def parse_section(where: str, schema: Any, raw: Any) -> Any:
    """`raw` (a mapping from YAML, or None) validated against `schema`."""
    if schema is None:
        return types.MappingProxyType(dict(raw)) if isinstance(raw, Mapping) else raw
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping, got {raw!r}")
    fields = field_types(schema)
    unknown = sorted(set(map(str, raw)) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(fields) or 'none'})")
    values = {}
    for key, (kind, default) in fields.items():
        if key in raw:
            values[key] = check_value(f"{where}.{key}", kind, raw[key])
        elif default is _MISSING:
            raise ConfigError(f"{where}.{key}: required")
        else:
            values[key] = copy.copy(default)
    if isinstance(schema, type):
        return schema(**values)
    return types.MappingProxyType(values)


def check_value(where: str, kind: Any, value: Any) -> Any:
    if kind is Any:
        return value
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return _union(where, args, value)
    sequence = origin or kind
    if sequence in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: must be a list, got {value!r}")
        items = [check_value(f"{where}[{i}]", args[0] if args else Any, v)
                 for i, v in enumerate(value)]
        return tuple(items) if sequence is tuple else items
    if origin is dict or kind is dict:
        return _mapping(where, args[1] if len(args) == 2 else Any, value)
    if dataclasses.is_dataclass(kind):
        return parse_section(where, kind, value)
    return _scalar(where, kind, value)


def _union(where: str, args: tuple, value: Any) -> Any:
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in (a for a in args if a is not type(None)):
        try:
            return check_value(where, arg, value)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: unexpected value {value!r}")


def _mapping(where: str, kind: Any, value: Any) -> dict:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a mapping, got {value!r}")
    return {str(k): check_value(f"{where}.{k}", kind, v) for k, v in value.items()}


def _scalar(where: str, kind: Any, value: Any) -> Any:
    if kind not in _NAMES:
        raise TypeError(f"{where}: unsupported type {kind!r} in a plugin config schema")
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(f"{where}: must be {_NAMES[kind]}, got {value!r}")
    return value


class PluginConfigs:
    """The validated sections of one process. `load` at start raises on the first bad section;
    `reload` after an edit keeps the last good values and remembers the error instead."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self.schemas = dict(schemas)
        self.values: dict[str, Any] = {}
        self.error: str | None = None
        self._source: object = None

    def parse(self, section: Any) -> dict[str, Any]:
        section = {} if section is None else section
        if not isinstance(section, Mapping):
            raise ConfigError(f"plugins: must be a mapping of plugin name to its settings, "
                              f"got {section!r}")
        for name in sorted(set(map(str, section)) - set(self.schemas)):
            log.info("plugins.%s: no loaded plugin declares a schema for it; passed as is", name)
        names = sorted(set(self.schemas) | set(map(str, section)))
        return {n: parse_section(f"plugins.{n}", self.schemas.get(n), section.get(n))
                for n in names}

    def load(self, config: Any) -> None:
        self.values, self._source, self.error = self.parse(config.section("plugins")), config, None

    def reload(self, config: Any) -> bool:
        """Take `config`'s sections if it is a new config; True when values changed."""
        if config is self._source:
            return False
        self._source = config
        try:
            values = self.parse(config.section("plugins"))
        except ConfigError as exc:
            self.error = str(exc)
            log.error("plugin config reload failed, keeping the last good one: %s", exc)
            return False
        self.error = None
        changed, self.values = values != self.values, values
        return changed

    def get(self, name: str) -> Any:
        return self.values.get(name)


CONFIG_KEY = "plugin_config"


class ConfigHooks:
    """The core's part: validate every plugin's section before any plugin starts, and again after
    each reload of model_config.yaml (the listener runs before any a plugin adds later)."""

    @hookimpl(tryfirst=True)
    def gateway_startup(self, ctx: Any) -> None:
        configs = PluginConfigs(ctx.hooks.config_schemas())
        configs.load(ctx.config)
        ctx.extensions[CONFIG_KEY] = configs
        ctx.on_change(lambda: configs.reload(ctx.config))


def plugin_config(ctx: Any, name: str) -> Any:
    """Plugin `name`'s validated section of model_config.yaml in this process (an instance of
    its dataclass schema, a read-only mapping, or None when it has neither schema nor section).
    Always current: read it when you need it rather than keeping a copy."""
    configs = ctx.extensions.get(CONFIG_KEY)
    if configs is None:
        raise LookupError("plugin configuration is available from gateway_startup on")
    return configs.get(name)
