"""The metering plugin's period figures (`plugins.metering.admin_api`, day rows for whole days)
against the same figures computed straight from the request log, and its cache of whole days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from gateway.db.models import RequestLog
from plugins.metering import admin_api as metering


def same(a, b):
    """Equal, with money compared to the cent-millionth (SQLite sums Numeric as floats)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            same(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, (Decimal, float)):
        assert float(a) == pytest.approx(float(b), rel=1e-9, abs=1e-9)
    else:
        assert a == b


def from_the_log(session, start, now, org_id=None, user_id=None):
    """Calls, cost, tokens and active users from the raw log, over whole hours as the rollups
    count them (a call lands in the hour bucket it started in)."""
    log = RequestLog
    conds = [log.created_at >= start.replace(minute=0, second=0, microsecond=0),
             log.created_at < now]
    conds += [log.org_id == org_id] if org_id is not None else []
    conds += [log.user_id == user_id] if user_id is not None else []
    n, cost, tin, tout, users = session.execute(select(
        func.count(), func.sum(log.cost_usd), func.sum(log.input_tokens),
        func.sum(log.output_tokens), func.count(func.distinct(log.user_id))).where(*conds)).one()
    return {"requests": n, "cost_usd": Decimal(str(cost or 0)), "input_tokens": int(tin or 0),
            "output_tokens": int(tout or 0), "active_users": users}


@pytest.mark.parametrize("days", [1, 3, 7, 30])
@pytest.mark.parametrize("org", [None, "acme"])
def test_period_figures_match_the_request_log(seeded_site, days, org):
    now = datetime.now(UTC)
    start, org_id = now - timedelta(days=days), seeded_site.ids.get(org)
    with seeded_site.session() as session:
        expected = from_the_log(session, start, now, org_id)
        totals = metering.period_totals(session, start, now, now, org_id)
        same({k: totals[k] for k in expected}, expected)
        assert totals["requests"] > 0
        load = metering.provider_load(session, start, now, now, org_id)
        assert sum(row["requests"] for row in load) == expected["requests"]
        top = metering.top_users(session, start, now, now, 10, org_id)
        dev = seeded_site.ids["dev@acme.test"]
        mine = from_the_log(session, start, now, user_id=dev)
        assert {u["user_id"]: u["requests"] for u in top}[dev] == mine["requests"]
        usage = metering.user_usage(session, dev, start, now, now)
        same({k: usage[k] for k in ("requests", "cost_usd", "input_tokens", "output_tokens")},
             {k: mine[k] for k in ("requests", "cost_usd", "input_tokens", "output_tokens")})
        figures = metering.dashboard(session, start, now, now, org_id)
        same(figures["totals"], totals)


class CountingCache(metering.DayCache):
    def __init__(self) -> None:
        super().__init__(ttl=60)
        self.asked: list[tuple] = []
        self.computed = 0

    def get(self, key, compute):
        self.asked.append(key)

        def counted():
            self.computed += 1
            return compute()
        return super().get(key, counted)


def test_day_cache_reuses_whole_past_days_only(seeded_site):
    now = datetime.now(UTC)
    start = now - timedelta(days=5)
    cache = CountingCache()
    with seeded_site.session() as session:
        first = metering.dashboard(session, start, now, now, cache=cache)
        same(first, metering.dashboard(session, start, now, now))  # the same figures uncached
        same(metering.dashboard(session, start, now, now, cache=cache), first)
    # Per grouped read (users, routes) one whole-day piece, computed once; partial days are
    # always read fresh and never cached.
    assert cache.computed == 2 and len(cache.asked) == 4
    assert all(hi <= now.replace(hour=0, minute=0, second=0, microsecond=0)
               for _, _, hi, _ in cache.asked)


def test_day_cache_expires():
    cache, computed = metering.DayCache(ttl=0), []
    for _ in range(2):
        cache.get(("k",), lambda: computed.append(1) or [(1,)])
    assert len(computed) == 2
