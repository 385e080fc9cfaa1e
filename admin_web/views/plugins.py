"""Plugins in the admin site: their pages (`gateway_admin_pages`: a blueprint plus navigation
links), their sections of the Settings page (`gateway_admin_settings_section`), their validated
configuration, and the list of loaded plugins on the Settings page.

These hooks run here, in the admin process, when the app is built (the Settings sections when
that page is shown); the proxy workers never call them. A plugin's blueprint is registered like
the built-in areas, so its views sit behind the same sign-in, role guard (`access.allow`),
CSRF protection and Content-Security-Policy; a view that declares no roles answers 403.

In a plugin's view: `plugin_config("<plugin name>")` for its configuration,
`admin_web.db.get_db()` for a database session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from flask_login import current_user

from admin_web.access import NavItem, allowed_roles, nav_items
from admin_web.sources import model_config
from gateway.errors import ConfigError
from gateway.pluginmanager import Hooks, PluginConfigs, plugin_manager

log = logging.getLogger("admin_web.plugins")
EXTENSION = "llm_gateway_plugins"


@dataclass(frozen=True)
class PluginNavItem(NavItem):
    """A plugin's link: shown to the roles it names that its view also allows."""

    roles: frozenset[str] = frozenset()

    def visible(self) -> bool:
        return super().visible() and current_user.role in self.roles


@dataclass
class AdminPlugins:
    hooks: Hooks
    configs: PluginConfigs
    links: list[PluginNavItem] = field(default_factory=list)

    def config(self, name: str) -> Any:
        self.configs.reload(model_config())
        return self.configs.get(name)


def init_app(app: Flask) -> None:
    """Register the plugins' blueprints and links; validate their configuration (a bad section
    stops the admin's start, naming the key). Call after the built-in areas are registered."""
    pm = app.config.get("PLUGIN_MANAGER") or _process_manager(app)
    hooks = Hooks(pm)
    plugins = AdminPlugins(hooks, PluginConfigs(hooks.config_schemas()))
    with app.app_context():
        plugins.configs.load(model_config())
    for name, pages in hooks.admin_pages():
        app.register_blueprint(pages.blueprint)
        plugins.links += [_nav_item(app, name, link) for link in pages.links]
        _warn_undeclared(app, name, pages.blueprint.name)
    app.extensions[EXTENSION] = plugins
    # Registered after access.init_app: a later context processor's `nav` wins.
    app.context_processor(lambda: {"nav": _nav, "plugin_overview": overview})


def _process_manager(app: Flask) -> Any:
    settings = app.config.get("GATEWAY_SETTINGS")
    return plugin_manager(getattr(settings, "plugins_dir", None))


def _nav_item(app: Flask, plugin: str, link: Any) -> PluginNavItem:
    if link.endpoint not in app.view_functions:
        raise ConfigError(f"plugin {plugin}: navigation link {link.label!r} points to "
                          f"{link.endpoint!r}, which its blueprint does not define")
    return PluginNavItem(link.endpoint, link.label, link.section, frozenset(link.roles))


def _warn_undeclared(app: Flask, plugin: str, blueprint: str) -> None:
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith(blueprint + ".") and not hasattr(view, "allowed_roles"):
            log.warning("plugin %s: view %s declares no roles (access.allow) and answers 403",
                        plugin, endpoint)


def _nav() -> list[tuple[str, list[NavItem]]]:
    sections = dict(nav_items())
    for item in current_app.extensions[EXTENSION].links:
        if item.visible():
            sections.setdefault(item.section, []).append(item)
    return list(sections.items())


def plugin_config(name: str) -> Any:
    """Plugin `name`'s validated configuration, as the proxy workers see it (reloaded when
    model_config.yaml changes; a bad edit keeps the last good values)."""
    return current_app.extensions[EXTENSION].config(name)


def overview() -> dict[str, Any]:
    """For the Settings page: every loaded plugin and the sections plugins add there."""
    plugins: AdminPlugins = current_app.extensions[EXTENSION]
    plugins.configs.reload(model_config())
    sections = []
    for name in plugins.hooks.admin_section_owners():
        sections.append({"plugin": name, **_section(plugins, name)})
    return {"plugins": plugins.hooks.pm.infos(), "sections": sections,
            "config_error": plugins.configs.error}


def _section(plugins: AdminPlugins, name: str) -> dict[str, Any]:
    try:
        section = plugins.hooks.admin_settings_section(name, plugins.configs.get(name))
    except Exception:  # one plugin's broken section must not take the Settings page down
        log.exception("gateway_admin_settings_section failed in plugin %s", name)
        return {"section": None, "failed": True, "link_ok": False}
    link_ok = bool(section and section.link and _may_open(section.link))
    return {"section": section, "failed": False, "link_ok": link_ok}


def _may_open(endpoint: str) -> bool:
    roles = allowed_roles(endpoint) if endpoint in current_app.view_functions else None
    return bool(roles) and current_user.role in roles
