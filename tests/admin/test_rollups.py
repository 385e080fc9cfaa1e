"""`admin_web.rollups` answers exactly what the metering plugin's own queries answer, from fewer
rows (day rows for whole days)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from admin_web import rollups
from plugins.metering import _queries


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


@pytest.mark.parametrize("days", [1, 3, 7, 30])
@pytest.mark.parametrize("org", [None, "acme"])
def test_same_figures_as_the_metering_queries(seeded_site, days, org):
    now = datetime.now(UTC)
    start, org_id = now - timedelta(days=days), seeded_site.ids.get(org)
    with seeded_site.session() as session:
        args = (session, start, now, now)
        same(rollups.period_totals(*args, org_id), _queries.period_totals(*args, org_id))
        same(rollups.provider_load(*args, org_id), _queries.provider_load(*args, org_id))
        same(sorted(rollups.model_flows(*args, org_id), key=str),
             sorted(_queries.model_flows(*args, org_id), key=str))
        # (the seed gives several users the same spend: ties may come in either order)
        same(sorted(rollups.top_users(*args, 10, org_id), key=lambda u: u["user_id"]),
             sorted(_queries.top_users(*args, 10, org_id), key=lambda u: u["user_id"]))
        dev = seeded_site.ids["dev@acme.test"]
        same(rollups.user_usage(session, dev, start, now, now),
             _queries.user_usage(session, dev, start, now, now))
        assert rollups.period_totals(*args, org_id)["requests"] > 0


class CountingCache(rollups.DayCache):
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
        first = rollups.dashboard(session, start, now, now, cache=cache)
        same(first, rollups.dashboard(session, start, now, now))  # the same figures uncached
        same(rollups.dashboard(session, start, now, now, cache=cache), first)
    # Per grouped read (users, routes) one whole-day piece, computed once; partial days are
    # always read fresh and never cached.
    assert cache.computed == 2 and len(cache.asked) == 4
    assert all(hi <= now.replace(hour=0, minute=0, second=0, microsecond=0)
               for _, _, hi, _ in cache.asked)


def test_day_cache_expires():
    cache, computed = rollups.DayCache(ttl=0), []
    for _ in range(2):
        cache.get(("k",), lambda: computed.append(1) or [(1,)])
    assert len(computed) == 2
