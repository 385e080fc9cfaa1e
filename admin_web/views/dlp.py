"""DLP: redactions and bypasses of the last 24 hours, the protected scopes (organizations and
apps) with their rules and allow-lists, and recent activity. Events carry counts, sizes and keyed
hashes only, never a raw value. An org admin sees and configures their organization and its apps;
the gateway-wide rules and allow-list are a super-admin's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from admin_web.access import ORG_ADMIN, SUPER, allow, check_org, is_super, org_scope
from admin_web.db import get_db
from admin_web.sources import api
from admin_web.writes import attempt, checkbox, field, refuse
from gateway import admin_ops
from gateway.db.models import App, Organization

bp = Blueprint("dlp", __name__, url_prefix="/dlp")
RECENT = 50


def scoped_counters(session: Session, org_id: int) -> dict[str, int]:
    DlpEvent = api("dlp").DlpEvent  # only called once the DLP plugin is known installed
    since = datetime.now(UTC) - timedelta(hours=24)
    recent = (DlpEvent.created_at >= since, DlpEvent.org_id == org_id)
    redactions = session.scalar(select(func.coalesce(func.sum(DlpEvent.match_count), 0))
                                .where(*recent, DlpEvent.kind == "redaction"))
    bypasses = session.scalar(select(func.count()).where(*recent, DlpEvent.kind == "bypass"))
    org = session.get(Organization, org_id)
    apps = session.scalar(select(func.count()).select_from(App)
                          .where(App.org_id == org_id, App.dlp_enabled))
    return {"redactions_24h": int(redactions or 0), "bypasses_24h": int(bypasses or 0),
            "orgs_protected": int(bool(org and org.dlp_enabled)), "apps_protected": int(apps or 0)}


def recent_events(session: Session, *, kind: str | None = None,
                  scope_id: int | None = None) -> list[Any]:
    DlpEvent = api("dlp").DlpEvent  # only called once the DLP plugin is known installed
    query = select(DlpEvent).order_by(DlpEvent.created_at.desc(), DlpEvent.id.desc()).limit(RECENT)
    if org_scope() is not None:
        query = query.where(DlpEvent.org_id == org_scope())
    if kind is not None:
        query = query.where(DlpEvent.scope_kind == kind, DlpEvent.scope_id == scope_id)
    return list(session.scalars(query))


def visible_scopes(session: Session, dlp: Any) -> list[dict[str, Any]]:
    """Every organization and app this admin may see, protected or not (an app's keys follow
    the app's own switch, never its organization's), with its rule count and newest event."""
    latest = {(s["scope_kind"], s["scope_id"]): s["last_event_at"]
              for s in dlp.last_activity(session)}
    orgs = select(Organization).order_by(Organization.name)
    apps = select(App).order_by(App.name)
    if org_scope() is not None:
        orgs = orgs.where(Organization.id == org_scope())
        apps = apps.where(App.org_id == org_scope())
    org_rows = list(session.scalars(orgs))
    org_names = {o.id: o.name for o in org_rows}  # the visible apps belong to these
    scopes = [("org", o, None) for o in org_rows]
    scopes += [("app", a, org_names.get(a.org_id)) for a in session.scalars(apps)]
    return [_scope_row(session, dlp, kind, row, owner, latest.get((kind, row.id)))
            for kind, row, owner in scopes]


def _scope_row(session: Session, dlp: Any, kind: str, row: Organization | App,
               owner: str | None, last_event_at: datetime | None) -> dict[str, Any]:
    rules = dlp.list_rules(session, **{kind: row.slug})
    return {"scope_kind": kind, "scope_id": row.id, "scope_slug": row.slug, "name": row.name,
            "org_name": owner, "protected": bool(row.dlp_enabled),
            "last_event_at": last_event_at, "rules_total": len(rules),
            "rules_enabled": sum(r["enabled"] for r in rules)}


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    dlp = api("dlp")
    if dlp is None:
        return render_template("dlp.html", available=False)
    session = get_db()
    counters = dlp.counters(session) if is_super() else scoped_counters(session, org_scope())
    return render_template("dlp.html", available=True, counters=counters,
                           scopes=visible_scopes(session, dlp), events=recent_events(session))


def scope_or_404(kind: str, slug: str) -> Organization | App | None:
    """The organization or app a DLP URL names; None for the gateway-wide defaults."""
    if kind == "global" and is_super():
        return None
    model = {"org": Organization, "app": App}.get(kind)
    if model is None:
        abort(404)
    row = get_db().scalar(select(model).where(model.slug == slug))
    if row is None:
        abort(404)
    check_org(row.id if kind == "org" else row.org_id)
    return row


def _dlp_scope(kind: str, slug: str):
    """(the DLP plugin's admin API, the scope's row or None for gateway-wide, the keyword that
    names the scope in that API) — or 404."""
    dlp = api("dlp")
    if dlp is None:
        abort(404)
    row = scope_or_404(kind, slug)
    return dlp, row, ({kind: slug} if row is not None else {})


@bp.get("/<kind>/<slug>")
@allow(SUPER, ORG_ADMIN)
def scope(kind: str, slug: str) -> str:
    dlp, row, target = _dlp_scope(kind, slug)
    session = get_db()
    rules = dlp.list_rules(session, **target)
    events = recent_events(session, kind=kind, scope_id=row.id) if row is not None else []
    allowlist = dlp.get_allowlist(session, **target)
    gateway_wide = dlp.get_allowlist(session) if row is not None else None
    return render_template("dlp_scope.html", kind=kind, slug=slug, row=row, rules=rules,
                           events=events, allowlist=allowlist, gateway_wide=gateway_wide)


@bp.post("/<kind>/<slug>/rules")
@allow(SUPER, ORG_ADMIN)
def save_rules(kind: str, slug: str) -> Response:
    dlp, _, target = _dlp_scope(kind, slug)
    current = {r["rule"]: r["enabled"] for r in dlp.list_rules(get_db(), **target)}
    wanted = set(request.form.getlist("rule"))
    enable = sorted(r for r, on in current.items() if r in wanted and not on)
    disable = sorted(r for r, on in current.items() if r not in wanted and on)
    attempt(lambda s: dlp.set_rules(s, enable=enable, disable=disable, **target),
            f"Rules saved: {len(enable)} turned on, {len(disable)} turned off.")
    return redirect(url_for("dlp.scope", kind=kind, slug=slug))


@bp.post("/<kind>/<slug>/protect")
@allow(SUPER, ORG_ADMIN)
def protect(kind: str, slug: str) -> Response:
    row = scope_or_404(kind, slug)
    if row is None:
        abort(404)
    on = checkbox("on")
    attempt(lambda s: admin_ops.set_dlp(s, on, **{f"{kind}_slug": slug}),
            f"DLP {'on' if on else 'off'} for {slug}.")
    return redirect(url_for("dlp.scope", kind=kind, slug=slug))


@bp.post("/<kind>/<slug>/allowlist")
@allow(SUPER, ORG_ADMIN)
def save_allowlist(kind: str, slug: str) -> Response:
    """Add a value and/or a pattern, or remove one entry; a bad pattern saves nothing."""
    dlp, _, target = _dlp_scope(kind, slug)
    changes = {"add_values": _one("value"), "add_patterns": _one("pattern"),
               "remove_values": _one("remove_value", strip=False),
               "remove_patterns": _one("remove_pattern", strip=False)}
    if not any(changes.values()):
        refuse("Enter a value or a pattern to allow.")
    else:
        attempt(lambda s: dlp.set_allowlist(s, **target, **changes), "Allow-list saved.")
    return redirect(url_for("dlp.scope", kind=kind, slug=slug) + "#allowlist")


def _one(name: str, strip: bool = True) -> list[str]:
    """A form field as a list of at most one entry; an entry to remove is taken as stored."""
    value = field(name, 1000) if strip else request.form.get(name) or ""
    return [value] if value else []
