"""Apps (machine clients of an organization): create, list, activate/deactivate, DLP, and their
keys (a new key is shown once). An org admin manages their organization's apps only."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from admin_web.access import ORG_ADMIN, SUPER, allow, check_org, is_super, org_scope
from admin_web.db import get_db
from admin_web.views import _keys
from admin_web.writes import FAILED, attempt, checkbox, field
from gateway import admin_ops
from gateway.db.models import App, Organization

bp = Blueprint("apps", __name__, url_prefix="/apps")


def app_or_404(slug: str) -> App:
    app = get_db().scalar(select(App).where(App.slug == slug))
    if app is None:
        abort(404)
    check_org(app.org_id)
    return app


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    session = get_db()
    query = select(App).options(selectinload(App.org)).order_by(App.name)
    orgs = select(Organization).order_by(Organization.name)
    if org_scope() is not None:
        query = query.where(App.org_id == org_scope())
        orgs = orgs.where(Organization.id == org_scope())
    return render_template("apps.html", apps=list(session.scalars(query)),
                           orgs=list(session.scalars(orgs)))


@bp.post("/")
@allow(SUPER, ORG_ADMIN)
def create() -> Response:
    slug = field("slug", 63)
    org_slug = field("org", 63)
    if not is_super():
        org_slug = get_db().get(Organization, current_user.org_id).slug
    created = attempt(lambda s: admin_ops.create_app(
        s, slug, field("name", 200), org_slug=org_slug,
        contact_email=field("contact", 254) or None, dlp_enabled=checkbox("dlp")),
        f"App {slug} created. Create a key for it below.")
    if created is FAILED:
        return redirect(url_for("apps.index"))
    return redirect(url_for("apps.detail", slug=created.slug))


@bp.get("/<slug>")
@allow(SUPER, ORG_ADMIN)
def detail(slug: str) -> str:
    return render_detail(app_or_404(slug))


def render_detail(app: App, new_key: str | None = None) -> str:
    return render_template("app_detail.html", app=app, keys=_keys.keys_of(get_db(), app),
                           new_key=new_key)


@bp.post("/<slug>/active")
@allow(SUPER, ORG_ADMIN)
def set_active(slug: str) -> Response:
    app = app_or_404(slug)
    on = checkbox("on")
    attempt(lambda s: admin_ops.set_app_active(s, app.slug, on),
            f"App {app.slug} {'activated' if on else 'deactivated'}.")
    return redirect(url_for("apps.detail", slug=app.slug))


@bp.post("/<slug>/dlp")
@allow(SUPER, ORG_ADMIN)
def set_dlp(slug: str) -> Response:
    app = app_or_404(slug)
    on = checkbox("on")
    attempt(lambda s: admin_ops.set_dlp(s, on, app_slug=app.slug),
            f"DLP {'on' if on else 'off'} for {app.slug}.")
    return redirect(url_for("apps.detail", slug=app.slug))


@bp.post("/<slug>/keys")
@allow(SUPER, ORG_ADMIN)
def create_key(slug: str) -> Response | str:
    app = app_or_404(slug)
    key = attempt(lambda s: _keys.create(s, app, field("name", 200)))
    if key is FAILED:
        return redirect(url_for("apps.detail", slug=app.slug))
    return render_detail(app, new_key=key)


@bp.post("/<slug>/keys/revoke")
@allow(SUPER, ORG_ADMIN)
def revoke_key(slug: str) -> Response:
    app = app_or_404(slug)
    attempt(lambda s: _keys.revoke(s, app, field("prefix", 40)), "Key revoked.")
    return redirect(url_for("apps.detail", slug=app.slug))
