"""Gateway Logs: one row per call, newest first, with filters (who, model, path, request id,
status, time range) and keyset pagination, so a page costs an index seek even on millions of rows.

Text filters match a case-insensitive substring, in SQL (`LIKE` with `%`, `_` and the escape
character escaped, so a typed `_` is a literal on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import func, or_, select

from admin_web import keyset
from admin_web.access import ORG_ADMIN, SUPER, allow, org_scope
from admin_web.db import get_db
from gateway.db.models import App, RequestLog, User

bp = Blueprint("logs", __name__, url_prefix="/logs")
FILTERS = ("user", "model", "path", "request", "status", "since", "until")
STATUSES = {"": "Any status", "ok": "Success (< 400)", "error": "Errors (≥ 400)"}
COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class Filters:
    values: dict[str, str]
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
    conds = text_conditions(values)
    errors: list[str] = []
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
    return Filters(values, tuple(errors)), conds


def contains(column: Any, text: str) -> Any:
    # autoescape: a typed % or _ is matched literally, not as a wildcard.
    return column.icontains(text, autoescape=True)


def text_conditions(values: Mapping[str, str]) -> list[Any]:
    conds: list[Any] = []
    if values["user"]:
        conds.append(who_matches(values["user"]))
    if values["model"]:
        conds.append(or_(contains(RequestLog.requested_model, values["model"]),
                         contains(RequestLog.actual_model, values["model"])))
    if values["path"]:
        conds.append(contains(RequestLog.endpoint, values["path"]))
    if values["request"]:
        conds.append(contains(RequestLog.request_id, values["request"]))
    return conds


def who_matches(text: str, model: Any = RequestLog) -> Any:
    """The user (email or name), the app (slug or name) or the key (prefix, and name where
    the table keeps it) of a call or report."""
    users = select(User.id).where(or_(contains(User.email, text), contains(User.name, text)))
    apps = select(App.id).where(or_(contains(App.slug, text), contains(App.name, text)))
    keys = [contains(model.key_prefix, text)]
    if hasattr(model, "key_name"):
        keys.append(contains(model.key_name, text))
    return or_(model.user_id.in_(users), model.app_id.in_(apps), *keys)


def count_matching(model: Any, conds: list[Any]) -> int:
    """Rows matching, counted up to COUNT_LIMIT + 1: a bounded cost on millions of rows (the
    page itself is a keyset seek)."""
    ids = select(model.id).where(*conds).limit(COUNT_LIMIT + 1).subquery()
    return int(get_db().scalar(select(func.count()).select_from(ids)) or 0)


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    filters, conds = parse_filters(request.args)
    page = keyset.fetch(get_db(), select(RequestLog).where(*conds), RequestLog,
                        request.args.get("cursor"), request.args.get("dir", "older"))
    users, apps = owners(page.rows)
    query = filters.query()
    return render_template("logs.html", page=page, filters=filters, users=users, apps=apps,
                           statuses=STATUSES, matched=count_matching(RequestLog, conds),
                           count_limit=COUNT_LIMIT, **keyset.links("logs.index", page, query))


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
