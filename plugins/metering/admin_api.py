"""What the admin site and the CLI use of the metering plugin; the hooks live in the package itself.

Reads (rollups, never the raw request log; money as Decimal, times as aware UTC; `org_id` limits
a figure to one organization):
    live_last_hour(session, now, org_id=None) → active users, requests, tokens, per-minute series
    cost_trend(session, now, days=7, by="provider" | "model", org_id=None) → {"days", "series"}
    dashboard(session, start, end, now, org_id=None, top=10, cache=None) → totals, load, flows
        and top spenders in two grouped reads; `cache` is a `DayCache` for whole past days
    period_totals, provider_load, model_flows, top_users, user_usage: one figure each
    week_start_day(section) → the weekday (0 = Monday) users' weekly caps reset on, from the
        `metering` section of model_config.yaml (ConfigError naming the key when it is bad)
    ErrorReport: the table of the Error Reports page (client and provider error reports)
    app_totals(session, start, end, now, org_id=None) → {app id: requests, tokens, cost}
    app_usage(session, app_id, start, end, now) → one app's figures (the shape of user_usage)
    cap_standing(session, section, now, user_id= | org_id= | app_id=) → where every cap that
        holds such a call stands (the proxy's own rules and ledger rows): spent, held, cap in
        force, carry, remaining, share, near (≥ 80 %), reached, resets_at

Writes (validate with a ValueError naming the value at fault, flush, bump the change counter;
the caller commits): set_user_cap, set_org_cap, set_scope_settings; cap_status(session, rule,
config, now) tells where a cap stands.

Export: write_user_csv(session, user_id, out) → rows written (a user's calls as CSV).
"""

from __future__ import annotations

from typing import Any

from plugins.metering._admin import cap_status, set_org_cap, set_scope_settings, set_user_cap
from plugins.metering._config import parse_metering_config
from plugins.metering._export import write_user_csv
from plugins.metering._models import ErrorReport
from plugins.metering._periods import (
    DayCache,
    dashboard,
    model_flows,
    period_totals,
    provider_load,
    top_users,
    user_usage,
)
from plugins.metering._queries import cost_trend, live_last_hour
from plugins.metering._standing import app_totals, app_usage, cap_standing


def week_start_day(section: Any) -> int:
    """0 (Monday) … 6: the day weekly caps reset, from the plugin's configuration section."""
    return parse_metering_config(section).week_start


__all__ = ["DayCache", "ErrorReport", "app_totals", "app_usage", "cap_standing", "cap_status",
           "cost_trend", "dashboard", "live_last_hour", "model_flows", "period_totals", "provider_load",
           "set_org_cap", "set_scope_settings", "set_user_cap", "top_users", "user_usage",
           "week_start_day", "write_user_csv"]
