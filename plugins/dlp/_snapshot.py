"""The in-memory view every call consults: which scopes are protected, with which rules, and who
may bypass. Loaded at start and after every admin change (ctx.on_change), swapped atomically, so
a call costs dictionary look-ups only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.call import Principal
from gateway.db.models import App, Organization, Setting
from plugins.dlp._allowlist import KEY_PREFIX, AllowList, setting_key
from plugins.dlp._models import DlpBypassGrant, DlpRuleSetting
from plugins.dlp._scanner import ALL_RULES, DEFAULT_RULES, Scanner


@dataclass(frozen=True)
class Scope:
    kind: str  # "org" (keys of its users) or "app"
    id: int
    slug: str
    org_id: int | None
    scanner: Scanner
    allow: AllowList = AllowList()

    @cached_property
    def marker(self) -> str:
        """What the response cache adds to its key: scope, the rules and allow-list in force."""
        return f"{self.kind}:{self.id}:{self.scanner.fingerprint}{self.allow.fingerprint}"


@dataclass(frozen=True)
class Snapshot:
    orgs: dict[int, Scope] = field(default_factory=dict)  # protected organizations only
    apps: dict[int, Scope] = field(default_factory=dict)  # protected apps only
    bypass_users: frozenset[int] = frozenset()
    bypass_apps: frozenset[int] = frozenset()

    def scope_for(self, principal: Principal | None) -> Scope | None:
        """App keys follow their app's switch; user keys follow their organization's."""
        if principal is None:
            return None
        if principal.app_id is not None:
            return self.apps.get(principal.app_id)
        if principal.org_id is not None:
            return self.orgs.get(principal.org_id)
        return None

    def may_bypass(self, principal: Principal) -> bool:
        if principal.app_id is not None:
            return principal.app_id in self.bypass_apps
        return principal.user_id is not None and principal.user_id in self.bypass_users


def effective_rules(overrides: dict[tuple[str, int], dict[str, bool]], kind: str,
                    scope_id: int) -> frozenset[str]:
    """Built-in defaults, then the gateway-wide switches, then the scope's own."""
    rules = set(DEFAULT_RULES)
    for layer in (overrides.get(("global", 0), {}), overrides.get((kind, scope_id), {})):
        for rule, enabled in layer.items():
            if rule not in ALL_RULES:
                continue  # a rule removed from the code: its old switch means nothing
            (rules.add if enabled else rules.discard)(rule)
    return frozenset(rules)


class SnapshotLoader:
    """Builds snapshots; scanners are shared between scopes with the same rules and reloads."""

    def __init__(self) -> None:
        self._scanners: dict[frozenset[str], Scanner] = {}

    def scanner(self, rules: Iterable[str]) -> Scanner:
        key = frozenset(rules)
        found = self._scanners.get(key)
        if found is None:
            found = self._scanners[key] = Scanner(key)
        return found

    def load(self, session: Session) -> Snapshot:
        overrides: dict[tuple[str, int], dict[str, bool]] = {}
        for row in session.scalars(select(DlpRuleSetting)):
            overrides.setdefault((row.scope_kind, row.scope_id), {})[row.rule] = row.enabled
        allow = {row.key: row.value for row in session.scalars(
            select(Setting).where(Setting.key.startswith(KEY_PREFIX)))}

        def allow_for(kind: str, scope_id: int) -> AllowList:
            return AllowList.build([allow.get(setting_key("global", 0)),
                                    allow.get(setting_key(kind, scope_id))])

        orgs = {
            oid: Scope("org", oid, slug, oid, self.scanner(effective_rules(overrides, "org", oid)),
                       allow_for("org", oid))
            for oid, slug in session.execute(
                select(Organization.id, Organization.slug).where(Organization.dlp_enabled))
        }
        apps = {
            aid: Scope("app", aid, slug, org_id,
                       self.scanner(effective_rules(overrides, "app", aid)), allow_for("app", aid))
            for aid, slug, org_id in session.execute(
                select(App.id, App.slug, App.org_id).where(App.dlp_enabled))
        }
        grants = session.execute(select(DlpBypassGrant.user_id, DlpBypassGrant.app_id)).all()
        return Snapshot(
            orgs=orgs, apps=apps,
            bypass_users=frozenset(u for u, _ in grants if u is not None),
            bypass_apps=frozenset(a for _, a in grants if a is not None),
        )
