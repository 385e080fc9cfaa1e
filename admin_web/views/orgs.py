"""Organizations: create and edit (super admin), view and switch DLP on or off (their org admin).
An organization's page shows its spend against its cap this period, as the proxy counts it.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from admin_web.access import ORG_ADMIN, SUPER, allow, check_org, org_scope
from admin_web.db import get_db
from admin_web.views import _caps
from admin_web.writes import attempt, checkbox, field
from gateway import admin_ops
from gateway.db.models import App, Organization, User

bp = Blueprint("orgs", __name__, url_prefix="/orgs")


def org_or_404(slug: str) -> Organization:
    org = get_db().scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        abort(404)
    check_org(org.id)
    return org


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    query = select(Organization).options(selectinload(Organization.owner)) \
        .order_by(Organization.name)
    if org_scope() is not None:
        query = query.where(Organization.id == org_scope())
    orgs = list(get_db().scalars(query))
    members = admin_ops.member_counts(get_db(), [o.id for o in orgs])
    return render_template("orgs.html", orgs=orgs, members=members)


@bp.post("/")
@allow(SUPER)
def create() -> Response:
    slug = field("slug", 63)
    attempt(lambda s: admin_ops.create_org(
        s, slug, field("name", 200), spend_cap_usd=field("spend_cap", 30) or None,
        rollover=checkbox("rollover"), dlp_enabled=checkbox("dlp")),
        f"Organization {slug} created.")
    return redirect(url_for("orgs.index"))


@bp.get("/<slug>")
@allow(SUPER, ORG_ADMIN)
def detail(slug: str) -> str:
    org = org_or_404(slug)
    session = get_db()
    members = list(session.scalars(select(User).where(User.org_id == org.id)
                                   .order_by(User.name).limit(500)))
    apps = list(session.scalars(select(App).where(App.org_id == org.id).order_by(App.name)))
    return render_template("org_detail.html", org=org, members=members, apps=apps,
                           caps=_caps.standing(org_id=org.id))


@bp.post("/<slug>")
@allow(SUPER)
def update(slug: str) -> Response:
    org = org_or_404(slug)
    attempt(lambda s: admin_ops.update_org(s, org.slug, name=field("name", 200),
                                           spend_cap_usd=field("spend_cap", 30) or None,
                                           rollover=checkbox("rollover"),
                                           owner_email=field("owner", 254) or None), "Saved.")
    return redirect(url_for("orgs.detail", slug=org.slug))


@bp.post("/<slug>/dlp")
@allow(SUPER, ORG_ADMIN)
def set_dlp(slug: str) -> Response:
    org = org_or_404(slug)
    on = checkbox("on")
    attempt(lambda s: admin_ops.set_dlp(s, on, org_slug=org.slug),
            f"DLP {'on' if on else 'off'} for {org.slug}: calls from its users' keys are "
            f"{'now' if on else 'no longer'} redacted.")
    return redirect(url_for("orgs.index"))
