"""Per-plugin configuration as plugins see it: their `plugins: {<name>: …}` settings and their
own top-level sections of model_config.yaml, validated with the whole file (gateway/config.py)
against what each plugin declares with `gateway_plugin_config_schema`:

- a pydantic model (best: subclass `ConfigSection`) for its settings;
- a `PluginSchema(settings=…, sections=…)` when it also owns top-level sections;
- still accepted: a dataclass type or a mapping of field name → type or `(type, default)`,
  turned into a model (the plugin gets the dataclass instance or a read-only mapping back).

Errors name the key: `model_config.yaml: plugins.webhook.url: required`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gateway.config_schema import PluginSchema, SettingsSchema, as_settings
from gateway.errors import ConfigError
from gateway.markers import hookimpl

log = logging.getLogger("gateway.plugins")
CONFIG_KEY = "plugin_config"


def parse_section(where: str, schema: Any, raw: Any) -> Any:
    """`raw` validated against `schema` (any form the hook accepts) as plugin `where`'s settings
    (`where` is `plugins.<name>`)."""
    name = where.removeprefix("plugins.")
    return as_settings(name, schema).parse(name, raw)


class PluginConfigs:
    """The settings of the plugins in `schemas` (plugin name → what its hook returned), taken
    from a loaded config's `plugins:` section: for a process whose config was loaded with other
    plugins than these (the admin site's own plugin manager). `reload` after an edit keeps the
    last good values and remembers the error instead."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        parts = {name: _settings_part(schema) for name, schema in schemas.items()}
        self.schemas: dict[str, SettingsSchema] = {
            name: as_settings(name, part) for name, part in parts.items() if part is not None}
        self.values: dict[str, Any] = {}
        self.error: str | None = None
        self._source: object = None

    def parse(self, section: Any) -> dict[str, Any]:
        section = {} if section is None else section
        if not isinstance(section, Mapping):
            raise ConfigError("plugins: must be a mapping of plugin name to its settings")
        values = {name: schema.parse(name, section.get(name))
                  for name, schema in self.schemas.items()}
        return {**{str(k): v for k, v in section.items()}, **values}

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


def _settings_part(schema: Any) -> Any:
    return schema.settings if isinstance(schema, PluginSchema) else schema


class ConfigStatus:
    """`ctx.extensions["plugin_config"]`: the plugins' settings in force in this process and
    the error of the last reload (None after a good one)."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    @property
    def error(self) -> str | None:
        error: str | None = self._ctx.config_store.error
        return error

    def get(self, name: str) -> Any:
        return self._ctx.config.settings.get(name)


class ConfigHooks:
    """The core's part: the whole file was validated when the context opened (with every
    plugin's schema); this makes the result reachable through `plugin_config`."""

    @hookimpl(tryfirst=True)
    def gateway_startup(self, ctx: Any) -> None:
        ctx.extensions[CONFIG_KEY] = ConfigStatus(ctx)


def plugin_config(ctx: Any, name: str) -> Any:
    """Plugin `name`'s validated settings (`plugins: {<name>: …}`) in this process: an instance
    of its model (or dataclass), a read-only mapping, or None when it has neither schema nor
    section. Always current: read it when you need it rather than keeping a copy. A plugin's
    own top-level sections: `ctx.config.sections_of(TheModel)`."""
    status = ctx.extensions.get(CONFIG_KEY)
    if status is None:
        raise LookupError("plugin configuration is available from gateway_startup on")
    return status.get(name)
