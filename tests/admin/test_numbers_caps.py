"""Caps on the admin pages against the database: spend is booked the way the proxy books it (the
metering snapshot's cap rules, reserve → settle on the ledger), then the organization page, the
app usage page and a member's dashboard are compared with the ledger rows read by plain SQL and
the rollover rule written out here."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from admin_web import fmt
from admin_web.db import database
from gateway import admin_ops
from gateway.call import Principal
from plugins.metering import _ledger
from plugins.metering import admin_api as metering
from plugins.metering._caps import month_period, previous_period
from plugins.metering._records import LogRecord
from plugins.metering._sink import Sink
from plugins.metering._snapshot import load_snapshot
from tests.admin.conftest import Site
from tests.admin.numbers import by_id, frame, get

D = Decimal


def spend(site: Site, email: str, cost: str, now: datetime | None = None,
          settle: bool = True) -> None:
    """One call of `email` costing `cost`, held and settled on every cap that holds it."""
    engine, now = database(site.app).engine, now or datetime.now(UTC)
    user = frame(site, "SELECT id, org_id FROM users WHERE email = :e", e=email).iloc[0]
    who = Principal(0, "-", "-", user_id=int(user["id"]), user_email=email,
                    org_id=int(user["org_id"]))
    rules = load_snapshot(engine).rules(who, "month")
    hold = _ledger.reserve(engine, rules, D(cost), f"req-{email}-{cost}", now, 0)
    if settle:
        _ledger.settle(engine, [_ledger.Settlement(hold, D(cost))], now)


def ledger(site: Site, scope: str, scope_id: int, start: datetime) -> dict[str, Decimal]:
    rows = frame(site, "SELECT period_start, spent_usd, reserved_usd, carry_usd "
                       "FROM metering_ledger WHERE scope = :s AND scope_id = :i",
                 s=scope, i=scope_id)
    for _, row in rows.iterrows():
        began = row["period_start"]
        began = datetime.fromisoformat(began) if isinstance(began, str) else began
        if began.replace(tzinfo=UTC) == start:
            return {k: D(str(row[k])) for k in ("spent_usd", "reserved_usd", "carry_usd")}
    return {"spent_usd": D(0), "reserved_usd": D(0), "carry_usd": D(0)}


def org_cap(site: Site, slug: str) -> tuple[int, Decimal]:
    org = frame(site, "SELECT id, spend_cap_usd FROM organizations WHERE slug = :s",
                s=slug).iloc[0]
    return int(org["id"]), D(str(org["spend_cap_usd"]))


def test_org_page_spend_against_its_cap(site):
    spend(site, "boss@acme.test", "300")
    spend(site, "boss@acme.test", "120.5")
    spend(site, "boss@acme.test", "10", settle=False)  # still in flight
    org_id, cap = org_cap(site, "acme")
    row = ledger(site, "org", org_id, month_period(datetime.now(UTC)).start)
    assert row["spent_usd"] == D("420.5") and row["reserved_usd"] == D("10")
    page = get(site.as_role("super_admin"), "/orgs/acme")
    used = row["spent_usd"] + row["reserved_usd"]
    assert by_id(page, "org-spent") == fmt.usd(row["spent_usd"])
    assert by_id(page, "org-cap") == fmt.usd(cap)
    assert by_id(page, "org-remaining") == fmt.usd(cap - used)
    assert by_id(page, "org-share") == fmt.pct(used / cap)
    assert "Organization cap nearly reached" in page  # 86 %
    assert get(site.as_role("org_admin"), "/orgs/acme").count('id="org-spent"') == 1


def test_org_page_shows_rollover_from_the_previous_period(site):
    with site.session() as session:
        org = admin_ops.get_org(session, "globex")
        org.spend_cap_usd, org.rollover = D("100"), True
        org.created_at = datetime.now(UTC) - timedelta(days=90)  # it had a previous period
        session.commit()
    now = datetime.now(UTC)
    current = month_period(now)
    before = previous_period("month", current)
    spend(site, "eve@globex.test", "3", now=before.start + timedelta(days=2))
    spend(site, "eve@globex.test", "4")
    org_id, cap = org_cap(site, "globex")
    prev, this = ledger(site, "org", org_id, before.start), ledger(site, "org", org_id,
                                                                   current.start)
    # The rule as documented: carry = min(cap, max(0, cap + previous carry − previous spend)).
    carry = min(cap, max(D(0), cap + prev["carry_usd"] - prev["spent_usd"]))
    assert this["carry_usd"] == carry == D("100")  # 3 spent of 200: at most one cap carries
    page = get(site.as_role("super_admin"), "/orgs/globex")
    assert by_id(page, "org-cap") == fmt.usd(cap + carry)
    assert f"{fmt.usd(cap)} + {fmt.usd(carry)} rolled over" in page
    assert by_id(page, "org-spent") == fmt.usd(this["spent_usd"])
    assert by_id(page, "org-remaining") == fmt.usd(cap + carry - this["spent_usd"])


def test_org_without_a_cap_says_so(site):
    page = get(site.as_role("super_admin"), "/orgs/globex")
    assert 'id="org-no-cap"' in page and 'id="org-spent"' not in page


def _warning(page: str, scope: str) -> str | None:
    found = re.search(r'class="flash [^"]*cap-warning"[^>]*data-scope="' + scope +
                      r'">(.*?)</div>', page, re.S)
    return re.sub(r"\s+", " ", found.group(1)) if found else None


def test_member_near_their_weekly_cap_is_warned_with_the_numbers(site):
    spend(site, "dev@acme.test", "21")  # of a 25 weekly cap: 84 %
    user_id = site.ids["dev@acme.test"]
    week = frame(site, "SELECT period_start, spent_usd, reserved_usd FROM metering_ledger "
                       "WHERE scope = 'user' AND scope_id = :i", i=user_id)
    spent = D(str(week["spent_usd"].iloc[0]))
    cap = D(str(frame(site, "SELECT weekly_cap_usd FROM users WHERE id = :i",
                      i=user_id)["weekly_cap_usd"].iloc[0]))
    warning = _warning(get(site.as_role("member"), "/me/"), "user")
    assert warning is not None
    assert f"{fmt.usd(spent)} spent" in warning and f"of {fmt.usd(cap)}" in warning
    assert fmt.pct(spent / cap, 0) in warning and f"{fmt.usd(cap - spent)} left" in warning
    assert _warning(get(site.as_role("member"), "/me/"), "org") is None  # 21 of 500


def test_member_is_warned_when_their_organization_cap_is_near(site):
    spend(site, "boss@acme.test", "450")
    page = get(site.as_role("member"), "/me/")
    assert _warning(page, "user") is None  # dev spent nothing
    warning = _warning(page, "org")
    assert warning is not None and "$450.00 spent" in warning and "$50.00 left" in warning


def test_member_far_from_caps_sees_no_warning(site):
    page = get(site.as_role("member"), "/me/")
    assert "cap-warning" not in page


def test_app_cap_on_the_app_usage_page(site):
    with site.session() as session:
        metering.set_scope_settings(session, app_slug="bot", cap_usd="40")
        session.commit()
    engine = database(site.app).engine
    who = Principal(0, "-", "-", app_id=site.ids["bot"], app_slug="bot", org_id=site.ids["acme"])
    now = datetime.now(UTC)
    hold = _ledger.reserve(engine, load_snapshot(engine).rules(who, "month"), D("12"), "r", now, 0)
    _ledger.settle(engine, [_ledger.Settlement(hold, D("12"))], now)
    row = ledger(site, "app", site.ids["bot"], month_period(now).start)
    page = get(site.as_role("super_admin"), "/usage/apps?app=bot")
    app_row = re.search(r'<tr class="cap-app"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert fmt.usd(row["spent_usd"]) in app_row and fmt.usd(D(40) - row["spent_usd"]) in app_row


def test_key_last_used_after_a_call(site):
    with site.session() as session:
        key = admin_ops.get_user(session, "dev@acme.test").keys[0]
        prefix = key.prefix
    when = datetime.now(UTC) - timedelta(minutes=3)
    row = {"request_id": "req-last-use", "created_at": when, "key_prefix": prefix,
           "key_name": "laptop", "user_id": site.ids["dev@acme.test"], "app_id": None,
           "org_id": site.ids["acme"], "endpoint": "/v1/chat/completions",
           "requested_model": "openai/gpt-4o-mini", "actual_model": "openai/gpt-4o-mini",
           "provider": "openai", "status": 200, "input_tokens": 1, "output_tokens": 1,
           "cached_tokens": 0, "cost_usd": D("0.001"), "latency_ms": 5, "cache_hit": False}
    Sink(database(site.app).engine, lambda: when).write([LogRecord(row)])
    used = frame(site, "SELECT last_used_at FROM api_keys WHERE prefix = :p",
                 p=prefix)["last_used_at"].iloc[0]
    used = datetime.fromisoformat(used) if isinstance(used, str) else used
    page = get(site.as_role("super_admin"), f"/users/{site.ids['dev@acme.test']}")
    assert f'title="{fmt.dt(used.replace(tzinfo=UTC))} UTC">3 minutes ago' in page
