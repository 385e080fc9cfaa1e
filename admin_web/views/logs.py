"""Gateway Logs: one row per call, newest first, with filters (user, model, status, time range)
and keyset pagination, so a page costs an index seek even on millions of rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import or_, select

from admin_web import keyset
from admin_web.access import ORG_ADMIN, SUPER, allow, org_scope
from admin_web.db import get_db
from gateway.db.models import App, RequestLog, User

bp = Blueprint("logs", __name__, url_prefix="/logs")
FILTERS = ("user", "model", "status", "since", "until")
STATUSES = {"": "Any status", "ok": "Success (< 400)", "error": "Errors (≥ 400)"}


@dataclass(frozen=True)
class Filters:
    values: dict[str, str]
    user_id: int | None = None
    unknown_user: bool = False
    errors: tuple[str, ...] = ()

    def query(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if v}


def parse_time(text: str, what: str, errors: list[str]) -> datetime | None:
    """A `datetime-local` value (or an ISO date), taken as UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        errors.append(f"invalid {what} time {text!r}: expected YYYY-MM-DDTHH:MM")
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def parse_filters(args: Mapping[str, str]) -> tuple[Filters, list[Any]]:
    """The filters as shown back in the form, and the SQL conditions they make."""
    values = {name: (args.get(name) or "").strip()[:200] for name in FILTERS}
    conds: list[Any] = []
    errors: list[str] = []
    user_id, unknown = None, False
    if values["user"]:
        user = get_db().scalar(select(User).where(User.email == values["user"].lower()))
        unknown = user is None
        user_id = user.id if user else -1
        conds.append(RequestLog.user_id == user_id)
    if values["model"]:
        conds.append(or_(RequestLog.requested_model == values["model"],
                         RequestLog.actual_model == values["model"]))
    status = values["status"]
    if status == "ok":
        conds.append(RequestLog.status < 400)
    elif status == "error":
        conds.append(RequestLog.status >= 400)
    elif status.isdigit():
        conds.append(RequestLog.status == int(status))
    elif status:
        errors.append(f"invalid status {status!r}: use ok, error or a number like 429")
    since = parse_time(values["since"], "from", errors)
    until = parse_time(values["until"], "to", errors)
    if since:
        conds.append(RequestLog.created_at >= since)
    if until:
        conds.append(RequestLog.created_at < until)
    if org_scope() is not None:
        conds.append(RequestLog.org_id == org_scope())
    return Filters(values, user_id, unknown, tuple(errors)), conds


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    filters, conds = parse_filters(request.args)
    page = keyset.fetch(get_db(), select(RequestLog).where(*conds), RequestLog,
                        request.args.get("cursor"), request.args.get("dir", "older"))
    users, apps = owners(page.rows)
    query = filters.query()
    return render_template("logs.html", page=page, filters=filters, users=users, apps=apps,
                           statuses=STATUSES, **keyset.links("logs.index", page, query))


def owners(rows: list[RequestLog]) -> tuple[dict[int, User], dict[int, App]]:
    """The users and apps of one page of rows, in two queries."""
    session = get_db()
    user_ids = {r.user_id for r in rows if r.user_id}
    app_ids = {r.app_id for r in rows if r.app_id}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))} \
        if user_ids else {}
    apps = {a.id: a for a in session.scalars(select(App).where(App.id.in_(app_ids)))} \
        if app_ids else {}
    return users, apps
