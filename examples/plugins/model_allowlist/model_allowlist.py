"""A per-team model allow-list: a team (the caller's organization) with a list may use only the
models on it; fallback candidates off the list are skipped. Org admins edit their own team's
list on the admin page "Model allow-list" (super admins: every team's); every proxy takes a change
within about a second.

The lists live in the core `settings` table under the key `model_allowlist`. Settings, in
model_config.yaml:

    plugins:
      model_allowlist:
        deny_unlisted: false    # true: a team without a list may use no model at all
"""

from __future__ import annotations

import re
from typing import Any

from gateway.errors import Forbidden
from gateway.pluginmanager import (
    AdminPages,
    ConfigSection,
    NavLink,
    SettingsSection,
    hookimpl,
    plugin_config,
)

NAME = "model_allowlist"
SETTING_KEY = "model_allowlist"
_SPLIT = re.compile(r"[\s,]+")


class Config(ConfigSection):
    deny_unlisted: bool = False


# --- the lists: one public surface for the proxy, the admin page and tests ----------------------

def get_lists(session) -> dict[str, list[str]]:
    from gateway.db.models import Setting

    row = session.get(Setting, SETTING_KEY)
    return dict(row.value) if row is not None and isinstance(row.value, dict) else {}


def set_list(session, org_slug: str, models: list[str]) -> None:
    """Replace team `org_slug`'s list (an empty list removes it); the caller commits."""
    from gateway.admin_ops import get_org
    from gateway.db.engine import bump_revision
    from gateway.db.models import Setting

    get_org(session, org_slug)  # ValueError naming an unknown organization
    lists = get_lists(session)
    if models:
        lists[org_slug] = sorted(set(models))
    else:
        lists.pop(org_slug, None)
    row = session.get(Setting, SETTING_KEY)
    if row is None:
        session.add(Setting(key=SETTING_KEY, value=lists))
    else:
        row.value = lists
    session.flush()
    bump_revision(session)  # every proxy reloads within about a second


# --- proxy workers ------------------------------------------------------------------------------

@hookimpl
def gateway_plugin_config_schema() -> type[ConfigSection]:
    return Config


@hookimpl
def gateway_startup(ctx) -> None:
    def reload() -> None:
        with ctx.sessions() as session:
            ctx.extensions[NAME] = get_lists(session)

    reload()
    ctx.on_change(reload)


@hookimpl
def gateway_admit(call) -> None:
    team = call.principal.org_slug if call.principal else None
    allowed = call.ctx.extensions.get(NAME, {}).get(team)
    if allowed is None:
        if team and plugin_config(call.ctx, NAME).deny_unlisted:
            raise Forbidden(f"team {team!r} has no model allow-list")
        return
    if call.route is None or call.route.model not in allowed:
        model = call.route.model if call.route else call.requested_model
        raise Forbidden(f"model {model!r} is not on the allow-list of team {team!r}")
    call.candidates[:] = [c for c in call.candidates if c.model in allowed]


# --- admin process ------------------------------------------------------------------------------

PAGE = """{% extends "base.html" %}
{% block title %}Model allow-list{% endblock %}
{% block crumbs %}Model allow-list{% endblock %}
{% block content %}
<div class="page-head"><h1>Model allow-list</h1>
<p class="subtle">A team with a list may use only these models
(names as <code>provider/model</code>).</p></div>
<section class="card">
<table class="table"><thead><tr><th>Team</th><th>Models</th></tr></thead><tbody>
{% for org in orgs %}<tr><td>{{ org.slug }}</td><td>
<form method="post" action="{{ url_for('model_allowlist.save') }}" class="inline">
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input type="hidden" name="org" value="{{ org.slug }}">
<input type="text" name="models" value="{{ lists.get(org.slug, []) | join(', ') }}"
  aria-label="Models of {{ org.slug }}" size="60">
<button type="submit" class="btn small">Save</button></form></td></tr>
{% endfor %}</tbody></table></section>
{% endblock %}"""


@hookimpl
def gateway_admin_pages() -> AdminPages:
    from flask import (
        Blueprint,
        abort,
        flash,
        redirect,
        render_template_string,
        request,
        url_for,
    )
    from sqlalchemy import select

    from admin_web.access import ORG_ADMIN, SUPER, allow, can_see_org, org_scope
    from admin_web.db import get_db
    from gateway.db.models import Organization

    bp = Blueprint(NAME, __name__, url_prefix="/plugins/model-allowlist")

    @bp.get("/")
    @allow(SUPER, ORG_ADMIN)
    def index() -> str:
        query = select(Organization).order_by(Organization.slug)
        if org_scope() is not None:
            query = query.where(Organization.id == org_scope())
        session = get_db()
        return render_template_string(PAGE, orgs=session.scalars(query), lists=get_lists(session))

    @bp.post("/")
    @allow(SUPER, ORG_ADMIN)
    def save() -> Any:
        session = get_db()
        org = session.scalar(select(Organization).where(
            Organization.slug == request.form.get("org", "")))
        if org is None or not can_see_org(org.id):
            abort(404)
        models = [m for m in _SPLIT.split(request.form.get("models", "")) if m]
        set_list(session, org.slug, models)
        session.commit()
        flash(f"Allow-list of {org.slug} saved.", "success")
        return redirect(url_for(f"{NAME}.index"))

    return AdminPages(bp, links=(NavLink(f"{NAME}.index", "Model allow-list",
                                         roles=("super_admin", "org_admin"), section="Routing"),))


@hookimpl
def gateway_admin_settings_section(config: Config) -> SettingsSection:
    return SettingsSection("Model allow-list", rows=(
        ("Teams without a list", "may use no model" if config.deny_unlisted else "may use any model"),
    ), link=f"{NAME}.index", link_label="Edit the allow-lists")
