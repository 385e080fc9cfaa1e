"""The dashboard: live tiles of the last 60 minutes (refreshed by static/live.js), the period
totals, the 7-day cost trend, provider load and routing flows, and the top spenders.

Every figure comes from the metering plugin's rollups (never the raw request log), through its
admin API (`plugins.metering.admin_api`), which reads day rows for whole days. An org admin's
figures are limited to their organization.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from werkzeug.wrappers import Response

from admin_web import charts
from admin_web.access import ORG_ADMIN, SUPER, allow, org_scope
from admin_web.db import get_db
from admin_web.fmt import compact, num
from admin_web.periods import parse_period
from admin_web.sources import api

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
TREND_DAYS = 7
MAX_SERIES = 7


def utcnow() -> datetime:
    return datetime.now(UTC)


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    return render()


def render() -> str:
    queries = api("metering")
    period = parse_period(request.args)
    if queries is None:
        return render_template("dashboard.html", available=False, period=period)
    session, now, org_id = get_db(), utcnow(), org_scope()
    by = "model" if request.args.get("by") == "model" else "provider"
    trend = queries.cost_trend(session, now, TREND_DAYS, by, org_id)
    series = top_series(trend["series"], MAX_SERIES)
    figures = queries.dashboard(session, period.start, period.end, now, org_id,
                                cache=day_cache())
    return render_template(
        "dashboard.html", available=True, period=period, by=by,
        live=live_figures(queries.live_last_hour(session, now, org_id)),
        refresh=current_app.config["LIVE_REFRESH_SECONDS"],
        totals=figures["totals"],
        chart=charts.stacked_bars([d.strftime("%a %d") for d in trend["days"]], series,
                                  axis_usd, width=1000, height=260,
                                  title=f"Cost per day by {by}"),
        legend=charts.legend(list(series)), trend_total=sum(
            (sum(values, Decimal(0)) for values in trend["series"].values()), Decimal(0)),
        load=[dict(row, bar=charts.share_bar(row["share"], 72))
              for row in figures["load"]],
        flows=figures["flows"][:15], top=figures["top"],
    )


def day_cache() -> Any:
    """This app's cache of sums over whole past days (the metering plugin's `DayCache`); only
    called when the plugin is installed."""
    cache = current_app.extensions.get("admin_web.day_cache")
    if cache is None:
        cache = current_app.extensions["admin_web.day_cache"] = api("metering").DayCache(
            float(current_app.config["ROLLUP_CACHE_SECONDS"]))
    return cache


@bp.get("/live")
@allow(SUPER, ORG_ADMIN)
def live() -> Response:
    """The live tiles as JSON, already formatted, for static/live.js."""
    queries = api("metering")
    if queries is None:
        return jsonify(available=False)
    figures = live_figures(queries.live_last_hour(get_db(), utcnow(), org_scope()))
    return jsonify(available=True, **figures)


def live_figures(live: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    return {
        "active_users": num(live["active_users"]), "requests": num(live["requests"]),
        "input_tokens": compact(live["input_tokens"]),
        "output_tokens": compact(live["output_tokens"]),
        "points": charts.sparkline_points(per_minute(live["series"], now or utcnow())),
        "as_of": utcnow().strftime("%H:%M:%S UTC"),
    }


def per_minute(series: Sequence[Mapping[str, Any]], now: datetime) -> list[float]:
    """Requests in each of the last 60 minutes, oldest first (minutes without calls are 0)."""
    counts = {point["minute"].replace(second=0, microsecond=0): point["requests"]
              for point in series}
    last = now.replace(second=0, microsecond=0)
    return [float(counts.get(last - timedelta(minutes=59 - i), 0)) for i in range(60)]


def top_series(series: Mapping[str, Sequence[Decimal]], limit: int) -> dict[str, list[Decimal]]:
    """The `limit - 1` costliest series, the rest summed as "other" (a chart stays readable)."""
    ranked = sorted(series.items(), key=lambda item: -sum(item[1], Decimal(0)))
    if len(ranked) <= limit:
        return {name: list(values) for name, values in ranked}
    kept = {name: list(values) for name, values in ranked[:limit - 1]}
    rest = [values for _, values in ranked[limit - 1:]]
    kept["other"] = [sum(day, Decimal(0)) for day in zip(*rest, strict=True)]
    return kept


def axis_usd(value: float) -> str:
    if value == 0:
        return "$0"
    if value >= 10:
        return f"${value:,.0f}"
    # Axis steps are round numbers (1, 2, 2.5, 5 × 10^n): eight places show even tiny ones.
    return "$" + f"{value:.8f}".rstrip("0").rstrip(".")
