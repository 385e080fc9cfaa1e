"""Error Reports: the gateway's own failures and what clients reported, newest first, with
filters (text: any part, ignoring case, as in Logs) and keyset pagination (the metering plugin's
`metering_error_reports` table)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from admin_web import keyset
from admin_web.access import ORG_ADMIN, SUPER, allow, org_scope
from admin_web.db import get_db
from admin_web.sources import api
from admin_web.views.logs import (
    COUNT_LIMIT,
    contains,
    count_matching,
    owners,
    parse_time,
    who_matches,
)

bp = Blueprint("reports", __name__, url_prefix="/error-reports")
FILTERS = ("source", "type", "model", "user", "since", "until")
SOURCES = ("gateway", "provider", "client")  # suggestions; clients may name their own


def _model() -> Any:
    metering = api("metering")
    return metering.ErrorReport if metering is not None else None


def parse_filters(model: Any, args: Mapping[str, str]) -> tuple[dict[str, str], list[Any],
                                                               list[str]]:
    values = {name: (args.get(name) or "").strip()[:200] for name in FILTERS}
    conds: list[Any] = []
    errors: list[str] = []
    for name in ("source", "type", "model"):
        if values[name]:
            conds.append(contains(getattr(model, name), values[name]))
    if values["user"]:
        conds.append(who_matches(values["user"], model))
    since = parse_time(values["since"], "from", errors)
    until = parse_time(values["until"], "to", errors)
    if since:
        conds.append(model.created_at >= since)
    if until:
        conds.append(model.created_at < until)
    if org_scope() is not None:
        conds.append(model.org_id == org_scope())
    return values, conds, errors


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    model = _model()
    if model is None:
        return render_template("reports.html", available=False)
    values, conds, errors = parse_filters(model, request.args)
    page = keyset.fetch(get_db(), select(model).where(*conds), model,
                        request.args.get("cursor"), request.args.get("dir", "older"))
    users, apps = owners(page.rows)
    query = {k: v for k, v in values.items() if v}
    return render_template(
        "reports.html", available=True, page=page, values=values, errors=errors, users=users,
        apps=apps, sources=SOURCES, matched=count_matching(model, conds), count_limit=COUNT_LIMIT,
        **keyset.links("reports.index", page, query))
