"""Who may do what: the one place the admin site checks roles.

Every view declares its roles with `@allow(...)` (or `@public`); `guard`, run before every
request, refuses anything else, so a view that forgets to declare is closed, not open:

    super_admin  everything
    org_admin    their organization's users, apps, keys, aliases, usage and DLP rules
    member       their own dashboard only

Views that touch a record of an organization call `check_org(org_id)` (404 for another org's
record, so its existence is not revealed) and filter lists with `org_scope()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request
from flask_login import current_user

SUPER, ORG_ADMIN, MEMBER = "super_admin", "org_admin", "member"
ADMINS = frozenset({SUPER, ORG_ADMIN})
EVERYONE = frozenset({SUPER, ORG_ADMIN, MEMBER})
PUBLIC = frozenset({"anonymous"})

View = TypeVar("View", bound=Callable[..., Any])


def allow(*roles: str) -> Callable[[View], View]:
    unknown = set(roles) - EVERYONE
    if unknown or not roles:
        raise ValueError(f"allow(): unknown or missing roles {sorted(unknown)}")

    def mark(view: View) -> View:
        view.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return view
    return mark


def public(view: View) -> View:
    view.allowed_roles = PUBLIC  # type: ignore[attr-defined]
    return view


def allowed_roles(endpoint: str) -> frozenset[str] | None:
    if endpoint == "static":
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "allowed_roles", None)


def init_app(app: Flask) -> None:
    app.before_request(guard)
    app.context_processor(lambda: {"nav": nav_items, "is_super": is_super})


def guard() -> Any:
    if request.endpoint is None:
        return None  # no such route: the router answers 404 (or 405)
    roles = allowed_roles(request.endpoint)
    if roles is None:
        abort(403)  # undeclared: closed by default
    if roles is PUBLIC:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role not in roles:
        abort(403)
    if current_user.role == ORG_ADMIN and current_user.org_id is None:
        abort(403)  # an org admin without an organization administers nothing
    return None


def is_super() -> bool:
    return current_user.is_authenticated and current_user.role == SUPER


def org_scope() -> int | None:
    """None when every organization is visible (super admin), else the admin's organization."""
    return None if is_super() else current_user.org_id


def can_see_org(org_id: int | None) -> bool:
    return is_super() or (org_id is not None and org_id == current_user.org_id)


def check_org(org_id: int | None) -> None:
    if not can_see_org(org_id):
        abort(404)


# --- the left navigation, filtered by role -------------------------------------------------------

@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    section: str

    def visible(self) -> bool:
        roles = allowed_roles(self.endpoint)
        return bool(roles) and current_user.is_authenticated and current_user.role in roles

    @property
    def active(self) -> bool:
        return request.blueprint == self.endpoint.partition(".")[0]


NAV = (
    NavItem("dashboard.index", "Dashboard", "Overview"),
    NavItem("me.index", "My dashboard", "Overview"),
    NavItem("users.index", "Users", "Manage"),
    NavItem("orgs.index", "Organizations", "Manage"),
    NavItem("apps.index", "Apps", "Manage"),
    NavItem("router.index", "Model Router", "Routing"),
    NavItem("agents.index", "Agent Configurations", "Routing"),
    NavItem("catalog.index", "Available Models", "Routing"),
    NavItem("logs.index", "Gateway Logs", "Activity"),
    NavItem("usage.index", "Per-User Usage", "Activity"),
    NavItem("reports.index", "Error Reports", "Activity"),
    NavItem("dlp.index", "DLP", "Protection"),
    NavItem("settings.index", "Gateway Settings", "Gateway"),
)


def nav_items() -> list[tuple[str, list[NavItem]]]:
    sections: dict[str, list[NavItem]] = {}
    for item in NAV:
        if item.visible():
            sections.setdefault(item.section, []).append(item)
    return list(sections.items())
