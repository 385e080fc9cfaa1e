"""Per-User Usage: calls, tokens and cost per user in a period (from the metering rollups), one
user's breakdown by model, and the way to their activity export. Per-app usage (`/usage/apps`):
the same figures for apps, whose calls carry no user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from admin_web.access import ORG_ADMIN, SUPER, allow, check_org, org_scope
from admin_web.db import get_db
from admin_web.periods import parse_period
from admin_web.sources import api
from admin_web.views import _caps
from admin_web.views.dashboard import day_cache
from gateway.db.models import App, User

bp = Blueprint("usage", __name__, url_prefix="/usage")
MAX_USERS = 1000


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    queries = api("metering")
    period = parse_period(request.args, default="30d")
    if queries is None:
        return render_template("usage.html", available=False, period=period, extra={})
    session, now = get_db(), datetime.now(UTC)
    focus = _focus_user(request.args.get("user", ""))
    if focus is not None:
        detail = queries.user_usage(session, focus.id, period.start, period.end, now)
        return render_template("usage.html", available=True, period=period, focus=focus,
                               detail=detail, extra={"user": focus.id})
    spent = {row["user_id"]: row for row in queries.top_users(
        session, period.start, period.end, now, MAX_USERS, org_scope(), cache=day_cache())}
    people = select(User).order_by(User.name).limit(MAX_USERS)
    if org_scope() is not None:
        people = people.where(User.org_id == org_scope())
    users = list(session.scalars(people))
    known = {u.id for u in users}
    extra = list(session.scalars(select(User).where(User.id.in_(set(spent) - known)))) \
        if set(spent) - known else []
    rows = _by_spend([(u, spent.get(u.id)) for u in users + extra])
    return render_template("usage.html", available=True, period=period, rows=rows,
                           extra={}, truncated=len(users) >= MAX_USERS)


def _by_spend(rows: list[tuple[Any, dict[str, Any] | None]]) -> list[tuple[Any, dict[str, Any] | None]]:
    """Most cost first, then most requests, then by name; rows without usage last."""
    return sorted(rows, key=lambda pair: (-(pair[1]["cost_usd"] if pair[1] else 0),
                                          -(pair[1]["requests"] if pair[1] else 0), pair[0].name))


def _focus_user(text: str) -> User | None:
    if not text:
        return None
    if not text.isdigit():
        abort(404)
    user = get_db().get(User, int(text))
    if user is None:
        abort(404)
    check_org(user.org_id)
    return user


@bp.get("/apps")
@allow(SUPER, ORG_ADMIN)
def apps() -> str:
    queries = api("metering")
    period = parse_period(request.args, default="30d")
    if queries is None:
        return render_template("app_usage.html", available=False, period=period, extra={})
    session, now = get_db(), datetime.now(UTC)
    focus = _focus_app(request.args.get("app", ""))
    if focus is not None:
        detail = queries.app_usage(session, focus.id, period.start, period.end, now)
        return render_template("app_usage.html", available=True, period=period, focus=focus,
                               detail=detail, extra={"app": focus.slug},
                               caps=_caps.standing(app_id=focus.id))
    spent = queries.app_totals(session, period.start, period.end, now, org_scope())
    query = select(App).order_by(App.name)
    if org_scope() is not None:
        query = query.where(App.org_id == org_scope())
    rows = _by_spend([(app, spent.get(app.id)) for app in session.scalars(query)])
    return render_template("app_usage.html", available=True, period=period, rows=rows, extra={})


def _focus_app(slug: str) -> App | None:
    if not slug:
        return None
    app = get_db().scalar(select(App).where(App.slug == slug))
    if app is None:
        abort(404)
    check_org(app.org_id)
    return app
