"""What the admin site (and `llm-gateway dlp`) calls; the hooks live in the package itself.

Writes (each validates with a ValueError naming the value at fault, flushes and bumps the change
counter so every gateway process reloads within about a second; the caller commits):
    set_enabled(session, enabled, org=SLUG | app=SLUG) → the Organization/App row
    set_rules(session, org=None, app=None, enable=(), disable=()) → list_rules(...) after the
        change (no scope: the gateway-wide switches)
    grant_bypass(session, user=EMAIL | app=SLUG), revoke_bypass(session, user= | app=)
    set_allowlist(session, org=None, app=None, add_values=(), remove_values=(), add_patterns=(),
        remove_patterns=()) → get_allowlist(...) after the change (no scope: gateway-wide)

Reads (plain dicts; datetimes are aware UTC):
    get_allowlist(session, org=None, app=None) → {"values": [...], "patterns": [...]} of that
        scope alone (a scope's calls also honour the gateway-wide list)
    list_rules(session, org=None, app=None) → every rule: rule, label, family, enabled, default,
        source ("scope" | "gateway" | "default"), description
    counters(session) → redactions_24h (matches), redacted_calls_24h, bypasses_24h,
        orgs_protected, apps_protected
    last_activity(session) → per protected scope or scope with events: scope_kind, scope_id,
        scope_slug, protected, last_event_at
    recent_events(session, limit=50, kind=None, scope_kind=None, scope_id=None) → newest first;
        values appear only as keyed hashes (value_hashes)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from gateway import admin_ops
from gateway.db.engine import bump_revision, put_setting
from gateway.db.models import App, Organization, Setting
from plugins.dlp._allowlist import MAX_ENTRIES, compile_pattern, normalize, setting_key
from plugins.dlp._models import DlpBypassGrant, DlpEvent, DlpRuleSetting
from plugins.dlp._scanner import ALL_RULES
from plugins.dlp._snapshot import effective_rules


def resolve_scope(session: Session, org: str | None = None, app: str | None = None
                  ) -> tuple[str, int, Organization | App | None]:
    """("org", id, row), ("app", id, row), or ("global", 0, None) when neither is given."""
    if org and app:
        raise ValueError("name either an organization (--org) or an app (--app), not both")
    if org:
        org_row = admin_ops.get_org(session, org)
        return "org", org_row.id, org_row
    if app:
        app_row = admin_ops.get_app(session, app)
        return "app", app_row.id, app_row
    return "global", 0, None


def set_enabled(session: Session, enabled: bool, *, org: str | None = None,
                app: str | None = None) -> Organization | App:
    if org and app:
        raise ValueError("name either an organization (--org) or an app (--app), not both")
    if not org and not app:
        raise ValueError("name the organization (--org SLUG) or the app (--app SLUG)")
    return admin_ops.set_dlp(session, enabled, org_slug=org, app_slug=app)


def set_rules(session: Session, *, org: str | None = None, app: str | None = None,
              enable: Iterable[str] = (), disable: Iterable[str] = ()) -> list[dict[str, Any]]:
    enable, disable = list(enable), list(disable)
    for name in enable + disable:
        if name not in ALL_RULES:
            raise ValueError(f"unknown DLP rule {name!r}: expected one of {', '.join(ALL_RULES)}")
    both = set(enable) & set(disable)
    if both:
        raise ValueError(f"rule {sorted(both)[0]!r} is both enabled and disabled")
    kind, scope_id, _ = resolve_scope(session, org, app)
    for name, on in [(n, True) for n in enable] + [(n, False) for n in disable]:
        row = session.scalar(select(DlpRuleSetting).where(
            DlpRuleSetting.scope_kind == kind, DlpRuleSetting.scope_id == scope_id,
            DlpRuleSetting.rule == name))
        if row is None:
            session.add(DlpRuleSetting(scope_kind=kind, scope_id=scope_id, rule=name, enabled=on))
        else:
            row.enabled = on
    if enable or disable:
        session.flush()
        bump_revision(session)
    return list_rules(session, org=org, app=app)


def list_rules(session: Session, *, org: str | None = None, app: str | None = None
               ) -> list[dict[str, Any]]:
    """Every rule with its state in the scope and where that state comes from."""
    kind, scope_id, _ = resolve_scope(session, org, app)
    overrides: dict[tuple[str, int], dict[str, bool]] = {}
    for row in session.scalars(select(DlpRuleSetting).where(
            DlpRuleSetting.scope_kind.in_(("global", kind)),
            DlpRuleSetting.scope_id.in_((0, scope_id)))):
        overrides.setdefault((row.scope_kind, row.scope_id), {})[row.rule] = row.enabled
    enabled = effective_rules(overrides, kind, scope_id)
    own, gateway_wide = overrides.get((kind, scope_id), {}), overrides.get(("global", 0), {})
    return [{"rule": name, "label": rule.label, "family": rule.family,
             "enabled": name in enabled, "default": rule.default,
             "source": "scope" if name in own and kind != "global"
             else "gateway" if name in gateway_wide else "default",
             "description": rule.description}
            for name, rule in ALL_RULES.items()]


def get_allowlist(session: Session, *, org: str | None = None, app: str | None = None
                  ) -> dict[str, list[str]]:
    kind, scope_id, _ = resolve_scope(session, org, app)
    row = session.get(Setting, setting_key(kind, scope_id))
    return normalize(row.value if row is not None else None)


def set_allowlist(session: Session, *, org: str | None = None, app: str | None = None,
                  add_values: Iterable[str] = (), remove_values: Iterable[str] = (),
                  add_patterns: Iterable[str] = (), remove_patterns: Iterable[str] = ()
                  ) -> dict[str, list[str]]:
    """Values are matched exactly, patterns (Python regex) against the whole value."""
    kind, scope_id, _ = resolve_scope(session, org, app)
    doc = get_allowlist(session, org=org, app=app)
    for p in add_patterns:
        compile_pattern(p)
    for key, add, remove in (("values", add_values, remove_values),
                             ("patterns", add_patterns, remove_patterns)):
        add = [v.strip() for v in add if v and v.strip()]
        remove = set(remove)
        missing = remove - set(doc[key])
        if missing:
            raise ValueError(f"{sorted(missing)[0]!r} is not on the allow-list")
        doc[key] = sorted((set(doc[key]) | set(add)) - remove)
    if len(doc["values"]) + len(doc["patterns"]) > MAX_ENTRIES:
        raise ValueError(f"an allow-list holds at most {MAX_ENTRIES} entries")
    put_setting(session, setting_key(kind, scope_id), doc)
    session.flush()
    bump_revision(session)
    return doc


def _grant_owner(session: Session, user: str | None, app: str | None
                 ) -> tuple[ColumnElement[bool], dict[str, int]]:
    if (user is None) == (app is None):
        raise ValueError("a bypass grant belongs to exactly one of a user (--user) or an app (--app)")
    if user is not None:
        user_row = admin_ops.get_user(session, user)
        return DlpBypassGrant.user_id == user_row.id, {"user_id": user_row.id}
    assert app is not None, "checked above: exactly one of user and app"
    app_row = admin_ops.get_app(session, app)
    return DlpBypassGrant.app_id == app_row.id, {"app_id": app_row.id}


def grant_bypass(session: Session, *, user: str | None = None, app: str | None = None) -> None:
    where, values = _grant_owner(session, user, app)
    if session.scalar(select(DlpBypassGrant.id).where(where)) is not None:
        raise ValueError(f"{user or app!r} already holds the DLP bypass grant")
    session.add(DlpBypassGrant(**values))
    session.flush()
    bump_revision(session)


def revoke_bypass(session: Session, *, user: str | None = None, app: str | None = None) -> None:
    where, _ = _grant_owner(session, user, app)
    grant = session.scalar(select(DlpBypassGrant).where(where))
    if grant is None:
        raise ValueError(f"{user or app!r} holds no DLP bypass grant")
    session.delete(grant)
    session.flush()
    bump_revision(session)


# -- what the admin's DLP page reads -------------------------------------------------------------

def counters(session: Session, now: datetime | None = None) -> dict[str, int]:
    since = (now or datetime.now(UTC)) - timedelta(hours=24)
    recent = DlpEvent.created_at >= since
    redactions, calls = session.execute(
        select(func.coalesce(func.sum(DlpEvent.match_count), 0),
               func.count(func.distinct(DlpEvent.request_id)))
        .where(recent, DlpEvent.kind == "redaction")).one()
    bypasses = session.scalar(select(func.count()).where(recent, DlpEvent.kind == "bypass"))
    return {
        "redactions_24h": int(redactions), "redacted_calls_24h": int(calls),
        "bypasses_24h": int(bypasses or 0),
        "orgs_protected": session.scalar(
            select(func.count()).select_from(Organization).where(Organization.dlp_enabled)) or 0,
        "apps_protected": session.scalar(
            select(func.count()).select_from(App).where(App.dlp_enabled)) or 0,
    }


def last_activity(session: Session) -> list[dict[str, Any]]:
    """Per scope that is protected or has events: its newest event (None when it has none)."""
    latest = {(kind, sid): (slug, at) for kind, sid, slug, at in session.execute(
        select(DlpEvent.scope_kind, DlpEvent.scope_id, func.max(DlpEvent.scope_slug),
               func.max(DlpEvent.created_at)).group_by(DlpEvent.scope_kind, DlpEvent.scope_id))}
    scopes = {("org", i): (s, on) for i, s, on in session.execute(
        select(Organization.id, Organization.slug, Organization.dlp_enabled))}
    scopes.update({("app", i): (s, on) for i, s, on in session.execute(
        select(App.id, App.slug, App.dlp_enabled))})
    out = []
    for key in sorted(set(latest) | {k for k, (_, on) in scopes.items() if on}):
        slug, protected = scopes.get(key, (latest.get(key, (None,))[0], False))
        out.append({"scope_kind": key[0], "scope_id": key[1], "scope_slug": slug,
                    "protected": bool(protected), "last_event_at": latest.get(key, (None, None))[1]})
    return out


def recent_events(session: Session, limit: int = 50, *, kind: str | None = None,
                  scope_kind: str | None = None, scope_id: int | None = None
                  ) -> list[dict[str, Any]]:
    query = select(DlpEvent).order_by(DlpEvent.created_at.desc(), DlpEvent.id.desc()).limit(limit)
    if kind:
        query = query.where(DlpEvent.kind == kind)
    if scope_kind:
        query = query.where(DlpEvent.scope_kind == scope_kind)
    if scope_id is not None:
        query = query.where(DlpEvent.scope_id == scope_id)
    return [event_doc(e) for e in session.scalars(query)]


def event_doc(e: DlpEvent) -> dict[str, Any]:
    return {"id": e.id, "created_at": e.created_at, "kind": e.kind, "scope_kind": e.scope_kind,
            "scope_id": e.scope_id, "scope_slug": e.scope_slug, "org_id": e.org_id,
            "rule": e.rule, "match_count": e.match_count, "request_size": e.request_size,
            "request_id": e.request_id, "key_prefix": e.key_prefix,
            "value_hashes": list(e.value_hashes or [])}
