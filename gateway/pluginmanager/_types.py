"""What plugins hand the admin site, and what `plugins list` reports about each plugin.

The admin types hold a Flask blueprint as `Any`: the gateway never imports Flask, and a plugin
imports it only inside its admin hooks, which run in the admin process alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("super_admin", "org_admin", "member")


@dataclass(frozen=True)
class NavLink:
    """One entry of the admin's left navigation, shown to the roles named (the view itself must
    also allow them with `admin_web.access.allow`: the narrower of the two wins)."""

    endpoint: str  # "<blueprint name>.<view>", e.g. "model_allowlist.index"
    label: str
    roles: tuple[str, ...] = ("super_admin",)
    section: str = "Plugins"

    def __post_init__(self) -> None:
        unknown = set(self.roles) - set(ROLES)
        if unknown or not self.roles:
            raise ValueError(f"NavLink {self.endpoint!r}: unknown or missing roles "
                             f"{sorted(unknown)}; use {', '.join(ROLES)}")


@dataclass(frozen=True)
class AdminPages:
    """A plugin's pages: a `flask.Blueprint` (registered like the built-in areas, behind the same
    sign-in, role guard, CSRF protection and Content-Security-Policy) and its navigation links."""

    blueprint: Any
    links: tuple[NavLink, ...] = ()


@dataclass(frozen=True)
class SettingsSection:
    """A plugin's section of the admin Settings page: rows of text (escaped, never markup) and an
    optional link to one of its pages (an endpoint name)."""

    title: str
    rows: tuple[tuple[str, str], ...] = ()
    link: str | None = None
    link_label: str = "Open"


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin as `llm-gateway plugins list` shows it."""

    name: str
    kind: str  # core, built-in, entry point, directory, registered
    source: str  # the module and entry point, or the file
    version: str | None
    hooks: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "source": self.source,
                "version": self.version, "hooks": list(self.hooks)}
