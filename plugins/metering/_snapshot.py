"""The in-memory view of caps and per-scope settings that every call reads: loaded at start and
again whenever an admin write bumps the revision (`ctx.on_change`), so a call never queries the
database to learn which caps apply to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from gateway.call import Principal
from gateway.db.models import App, Organization, User
from plugins.metering._caps import CapRule
from plugins.metering._models import ScopeSettings


@dataclass(frozen=True)
class ScopeConfig:
    cap: Decimal | None = None  # apps only: the org's cap lives on the organization
    cache_ttl: int | None = None
    store_bodies: bool = False
    retention_days: int = 30


@dataclass(frozen=True)
class OrgInfo:
    slug: str
    cap: Decimal | None
    rollover: bool
    created_at: datetime | None


@dataclass(frozen=True)
class Snapshot:
    user_caps: dict[int, Decimal] = field(default_factory=dict)
    orgs: dict[int, OrgInfo] = field(default_factory=dict)
    apps: dict[int, tuple[str, datetime | None]] = field(default_factory=dict)
    settings: dict[tuple[str, int], ScopeConfig] = field(default_factory=dict)

    def rules(self, p: Principal, org_period: str) -> list[CapRule]:
        """Every cap that holds a call by this principal."""
        rules = []
        if p.user_id is not None and (cap := self.user_caps.get(p.user_id)) is not None:
            rules.append(CapRule("user", p.user_id, cap, "week",
                                 f"weekly cap for user {p.user_email}"))
        if p.org_id is not None and (org := self.orgs.get(p.org_id)) is not None \
                and org.cap is not None:
            rules.append(CapRule("org", p.org_id, org.cap, org_period,
                                 f"{_adverb(org_period)} spend cap for organization {org.slug}",
                                 rollover=org.rollover, created_at=org.created_at))
        if p.app_id is not None:
            app_cap = self.settings.get(("app", p.app_id), ScopeConfig()).cap
            if app_cap is not None:
                rules.append(CapRule("app", p.app_id, app_cap, org_period,
                                     f"{_adverb(org_period)} spend cap for app {p.app_slug}",
                                     created_at=self.apps.get(p.app_id, ("", None))[1]))
        return rules

    def scope_config(self, p: Principal) -> ScopeConfig | None:
        """The app's settings for an app key, else the user's organization's."""
        if p.app_id is not None:
            return self.settings.get(("app", p.app_id))
        if p.org_id is not None:
            return self.settings.get(("org", p.org_id))
        return None


def _adverb(period: str) -> str:
    return "monthly" if period == "month" else "weekly"


def load_snapshot(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        users = conn.execute(select(User.id, User.weekly_cap_usd)
                             .where(User.weekly_cap_usd.is_not(None))).all()
        orgs = conn.execute(select(Organization.id, Organization.slug, Organization.spend_cap_usd,
                                   Organization.rollover, Organization.created_at)).all()
        apps = conn.execute(select(App.id, App.slug, App.created_at)).all()
        rows = conn.execute(select(ScopeSettings)).all()
    return Snapshot(
        user_caps={u.id: u.weekly_cap_usd for u in users},
        orgs={o.id: OrgInfo(o.slug, o.spend_cap_usd, bool(o.rollover), o.created_at) for o in orgs},
        apps={a.id: (a.slug, a.created_at) for a in apps},
        settings={(r.scope, r.scope_id): ScopeConfig(r.cap_usd, r.cache_ttl_seconds,
                                                     bool(r.store_bodies), r.retention_days)
                  for r in rows},
    )
