"""Every page's headline numbers against the database: the seeded calls went through the metering
plugin's own sink (log rows, rollups, keys' last use); each figure a page shows is computed here
again from the tables with plain SQL and pandas, never with the plugin's queries.

Formatting goes through `admin_web.fmt` (the same filters the pages use): what is checked is the
number, not its spelling.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from admin_web import fmt
from tests.admin.numbers import by_id, frame, get, money, rows_by, tile

CALLS = "SELECT * FROM request_logs"


@pytest.fixture(scope="module")
def root(seeded_site):
    return seeded_site.as_role("super_admin")


@pytest.fixture(scope="module")
def calls(seeded_site):
    df = frame(seeded_site, CALLS)
    df["created_at"] = df["created_at"].map(_aware)
    return df


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _figures(df) -> dict[str, str]:
    requests, cost = len(df), money(df["cost_usd"])
    errors = int(((df["status"] >= 400) & (df["status"] != 499)).sum())  # 499: client hung up
    return {"Total Requests": fmt.num(requests), "Total Cost": fmt.usd(cost),
            "Active Users": fmt.num(df["user_id"].dropna().nunique()),
            "Avg Cost / Request": fmt.usd(cost / requests if requests else 0),
            "Input Tokens": fmt.compact(int(df["input_tokens"].sum())),
            "Output Tokens": fmt.compact(int(df["output_tokens"].sum())),
            "Errors": fmt.num(errors),
            "Cache Hit Rate": fmt.pct(df["cache_hit"].astype(bool).sum() / requests)}


@pytest.mark.parametrize("role", ["super_admin", "org_admin"])
def test_dashboard_period_tiles(seeded_site, calls, role):
    page = get(seeded_site.as_role(role), "/dashboard/?period=30d")  # every seeded call
    mine = calls if role == "super_admin" else calls[calls["org_id"] == seeded_site.ids["acme"]]
    assert {label: tile(page, label) for label in _figures(mine)} == _figures(mine)


def test_dashboard_live_tiles(root, calls):
    # The seed puts calls 1–50 and 70+ minutes back: the 60-minute edge falls between them.
    last_hour = calls[calls["created_at"] >= datetime.now(UTC) - timedelta(minutes=60)]
    page = get(root, "/dashboard/")
    assert by_id(page, "live-requests") == fmt.num(len(last_hour))
    assert by_id(page, "live-active_users") == fmt.num(last_hour["user_id"].dropna().nunique())
    assert by_id(page, "live-input_tokens") == fmt.compact(int(last_hour["input_tokens"].sum()))


def _usage(df) -> dict[str, str]:
    return {"requests": fmt.num(len(df)), "input": fmt.num(int(df["input_tokens"].sum())),
            "output": fmt.num(int(df["output_tokens"].sum())),
            "cost": fmt.usd(money(df["cost_usd"]))}


def test_per_user_usage_rows(seeded_site, root, calls):
    rows = rows_by(get(root, "/usage/?period=30d"), "data-user")
    users = frame(seeded_site, "SELECT id FROM users")["id"]
    assert set(rows) == {str(u) for u in users}
    for user_id in users:
        assert rows[str(user_id)] == _usage(calls[calls["user_id"] == user_id]), user_id


def test_per_app_usage_rows_and_one_app(seeded_site, root, calls):
    apps = frame(seeded_site, "SELECT id, slug FROM apps")
    rows = rows_by(get(root, "/usage/apps?period=30d"), "data-app")
    assert set(rows) == set(apps["slug"])
    for app_id, slug in zip(apps["id"], apps["slug"], strict=True):
        assert rows[slug] == _usage(calls[calls["app_id"] == app_id]), slug
    bot = calls[calls["app_id"] == seeded_site.ids["bot"]]
    assert len(bot) > 0  # the seed's app calls: the page has something to show
    page = get(root, "/usage/apps?app=bot&period=30d")
    assert by_id(page, "app-requests") == fmt.num(len(bot))
    assert by_id(page, "app-cost") == fmt.usd(money(bot["cost_usd"]))


def test_one_users_usage_tiles(seeded_site, root, calls):
    dev = seeded_site.ids["dev@acme.test"]
    page = get(root, f"/usage/?user={dev}&period=30d")
    mine = calls[calls["user_id"] == dev]
    assert tile(page, "Requests") == fmt.num(len(mine))
    assert tile(page, "Cost") == fmt.usd(money(mine["cost_usd"]))
    assert tile(page, "Input Tokens") == fmt.compact(int(mine["input_tokens"].sum()))


def _count(page: str) -> str:
    return by_id(page, "match-count")


def test_logs_match_counts(root, calls):
    def has(column, needle):
        return calls[column].fillna("").str.lower().str.contains(needle, regex=False)

    assert _count(get(root, "/logs/")) == fmt.num(len(calls))
    model = calls[has("requested_model", "gpt-4") | has("actual_model", "gpt-4")]
    assert _count(get(root, "/logs/?model=GPT-4")) == fmt.num(len(model))
    # "_" is a literal, not LIKE's any-character wildcard: no seeded model has one.
    assert _count(get(root, "/logs/?model=gpt_4")) == "0"
    errors = calls[calls["status"] >= 400]
    assert _count(get(root, "/logs/?status=error")) == fmt.num(len(errors))
    assert _count(get(root, "/logs/?path=CHAT/COMPL")) == fmt.num(
        int(has("endpoint", "chat/compl").sum()))
    assert _count(get(root, "/logs/?request=REQ-000")) == fmt.num(
        int(has("request_id", "req-000").sum()))


def test_logs_who_filter_counts(seeded_site, root, calls):
    users = frame(seeded_site, "SELECT id, email, name FROM users")
    apps = frame(seeded_site, "SELECT id, slug, name FROM apps")
    for needle in ("GLOBEX", "bot", "devlap"):
        n = needle.lower()
        user_ids = set(users[users["email"].str.lower().str.contains(n, regex=False) |
                             users["name"].str.lower().str.contains(n, regex=False)]["id"])
        app_ids = set(apps[apps["slug"].str.lower().str.contains(n, regex=False) |
                           apps["name"].str.lower().str.contains(n, regex=False)]["id"])
        keys = calls["key_prefix"].fillna("").str.lower().str.contains(n, regex=False) | \
            calls["key_name"].fillna("").str.lower().str.contains(n, regex=False)
        expected = calls[calls["user_id"].isin(user_ids) | calls["app_id"].isin(app_ids) | keys]
        assert _count(get(root, f"/logs/?user={needle}")) == fmt.num(len(expected)), needle


def test_error_reports_counts(seeded_site, root):
    reports = frame(seeded_site, "SELECT model, type FROM metering_error_reports")
    assert _count(get(root, "/error-reports/")) == fmt.num(len(reports))
    openai = reports["model"].fillna("").str.lower().str.contains("openai", regex=False)
    assert _count(get(root, "/error-reports/?model=OpenAI")) == fmt.num(int(openai.sum()))
    acme = frame(seeded_site, "SELECT COUNT(*) AS n FROM metering_error_reports r "
                              "JOIN organizations o ON o.id = r.org_id WHERE o.slug = 'acme'")
    assert _count(get(seeded_site.as_role("org_admin"), "/error-reports/")) == fmt.num(
        int(acme["n"][0]))


def test_dlp_counts_and_scopes(seeded_site, root):
    since = datetime.now(UTC) - timedelta(hours=24)
    events = frame(seeded_site, "SELECT kind, match_count, created_at FROM dlp_events")
    events = events[events["created_at"].map(_aware) >= since]
    page = get(root, "/dlp/")
    redactions = int(events[events["kind"] == "redaction"]["match_count"].sum())
    assert tile(page, "Redactions · 24h") == fmt.num(redactions)
    assert tile(page, "Bypasses · 24h") == fmt.num(int((events["kind"] == "bypass").sum()))
    orgs = frame(seeded_site, "SELECT slug, dlp_enabled FROM organizations")
    apps = frame(seeded_site, "SELECT slug, dlp_enabled FROM apps")
    assert tile(page, "Organizations protected") == fmt.num(int(orgs["dlp_enabled"].sum()))
    assert tile(page, "Apps protected") == fmt.num(int(apps["dlp_enabled"].sum()))
    listed = re.findall(r'<tr data-href="/dlp/(org|app)/([^"]+)"', page)
    assert sorted(listed) == sorted([("org", s) for s in orgs["slug"]] +
                                    [("app", s) for s in apps["slug"]])


def test_keys_last_used_matches_the_key_table(seeded_site, root):
    keys = frame(seeded_site, "SELECT prefix, last_used_at FROM api_keys WHERE user_id = :u",
                 u=seeded_site.ids["dev@acme.test"])
    rows = rows_by(get(root, f"/users/{seeded_site.ids['dev@acme.test']}"), "data-key")
    assert set(rows) == set(keys["prefix"])
    for prefix, used in zip(keys["prefix"], keys["last_used_at"], strict=True):
        expected = "never" if used is None or used != used else fmt.ago(_aware(used))
        assert rows[prefix]["last_used"] == expected, prefix
