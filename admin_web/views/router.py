"""Model Router: aliases (requested model → routed model), global or per organization. An org
admin sees the global aliases and manages their own organization's."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from admin_web.access import ORG_ADMIN, SUPER, allow, is_super
from admin_web.db import get_db
from admin_web.sources import api, model_config
from admin_web.writes import attempt, field
from gateway.db.models import Organization

bp = Blueprint("router", __name__, url_prefix="/router")


def _own_slug() -> str | None:
    org = get_db().get(Organization, current_user.org_id) if current_user.org_id else None
    return org.slug if org else None


def _scope_from_form() -> str | None:
    """The organization slug of the alias a form names (None: global). Only a super admin may
    name the global scope or another organization; an org admin's aliases are their org's."""
    scope = field("scope", 63) or None
    if is_super():
        return scope
    if scope not in (None, _own_slug()):
        abort(403)
    return _own_slug()


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    routing = api("routing")
    if routing is None:
        return render_template("router.html", available=False)
    session = get_db()
    aliases = routing.list_aliases(session, None if is_super() else _own_slug())
    orgs = {o.id: o for o in session.scalars(select(Organization).order_by(Organization.name))}
    scopes = list(orgs.values()) if is_super() else [o for o in orgs.values()
                                                     if o.id == current_user.org_id]
    return render_template("router.html", available=True, aliases=aliases, orgs=orgs,
                           scopes=scopes, catalog=sorted(model_config().models))


@bp.post("/")
@allow(SUPER, ORG_ADMIN)
def save() -> Response:
    routing = api("routing")
    if routing is None:
        abort(404)
    requested, routed, scope = field("requested", 200), field("routed", 200), _scope_from_form()
    attempt(lambda s: routing.set_alias(s, requested, routed, model_config(), org_slug=scope),
            f"{requested} now routes to {routed} for {scope or 'everyone'}.")
    return redirect(url_for("router.index"))


@bp.post("/delete")
@allow(SUPER, ORG_ADMIN)
def delete() -> Response:
    routing = api("routing")
    if routing is None:
        abort(404)
    requested, scope = field("requested", 200), _scope_from_form()
    attempt(lambda s: routing.delete_alias(s, requested, org_slug=scope),
            f"Alias {requested} removed.")
    return redirect(url_for("router.index"))
