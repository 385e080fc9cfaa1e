"""Period figures from the rollups (the admin's dashboard and usage pages, `llm-gateway usage`),
reading day rows for whole days.

Reading hour rows for a whole range costs ~700 000 rows for "last 30 days" on a million calls a
month (the dashboard took 1.5 s). Here a range is split into the hour rows of its first and last
partial day and the day rows of the whole days between (about twelve times fewer rows). Pass
`org_id` to limit every figure to one organization. Money comes back as Decimal. Sums over whole
past days may come from a short-lived `DayCache`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import FromClause, and_, func, or_, select
from sqlalchemy.orm import Session

from gateway.db.models import User
from plugins.metering._models import Rollup
from plugins.metering._rollups import KEEP

HOUR_ROWS_KEPT = KEEP["hour"]  # hour rows older than this are pruned
Sums = tuple[Any, ...]  # group values, then sums (int or Decimal)
CacheKey = tuple[Any, ...]


def _table() -> FromClause:
    return Rollup.__table__


def _hour(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def _day(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def ranges(start: datetime, end: datetime, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(grain, from, to) pieces covering [start, end) with as few rows as possible."""
    first_whole = _day(start) if start == _day(start) else _day(start) + timedelta(days=1)
    last_whole = _day(end)
    hours_from = _hour(start)
    if hours_from < now - HOUR_ROWS_KEPT + timedelta(hours=1):
        first_whole = _day(start)  # hour rows are gone that far back: the whole first day
    if first_whole >= last_whole:
        return [("hour", hours_from, end)]
    pieces = [("day", first_whole, last_whole)]
    if hours_from < first_whole:
        pieces.insert(0, ("hour", hours_from, first_whole))
    if last_whole < end:
        pieces.append(("hour", last_whole, end))
    return pieces


def where(start: datetime, end: datetime, now: datetime, org_id: int | None) -> list[Any]:
    r = _table()
    pieces = [and_(r.c.grain == grain, r.c.bucket >= lo, r.c.bucket < hi)
              for grain, lo, hi in ranges(start, end, now)]
    conds: list[Any] = [or_(*pieces) if len(pieces) > 1 else pieces[0]]
    if org_id is not None:
        conds.append(r.c.org_id == org_id)
    return conds


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _number(value: Any) -> int | Decimal:
    """A sum as int (counts) or Decimal (money: SQLite hands back floats, PostgreSQL Decimals)."""
    if value is None:
        return 0
    return value if isinstance(value, int) else Decimal(str(value))


class DayCache:
    """Sums over whole past days, kept for `ttl` seconds: they no longer change (a call finishing
    around midnight lands within seconds), so a 30-day dashboard re-reads only its partial days.
    One per app (`app.extensions`); thread-safe."""

    def __init__(self, ttl: float = 60.0, max_entries: int = 256) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[CacheKey, tuple[float, list[Sums]]] = {}
        self._lock = threading.Lock()

    def get(self, key: CacheKey, compute: Callable[[], list[Sums]]) -> list[Sums]:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        rows = compute()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # distinct day ranges are few; never grow without bound
            self._entries[key] = (now + self.ttl, rows)
        return rows


# What each grouped query sums, after its group columns.
_USER_GROUP = ("user_id",)
_USER_SUMS = ("requests", "cost_usd", "input_tokens", "output_tokens", "cached_tokens", "errors",
              "cache_hits")
_ROUTE_GROUP = ("provider", "requested_model", "model")
_ROUTE_SUMS = ("requests", "errors", "latency_ms_sum")


def _grouped(session: Session, group: tuple[str, ...], sums: tuple[str, ...], start: datetime,
             end: datetime, now: datetime, org_id: int | None,
             cache: DayCache | None) -> list[Sums]:
    """(*group values, *sums) per group over [start, end): one query per piece of the range,
    the day piece from `cache` when given, merged here (sums add up across pieces)."""
    r = _table()
    merged: dict[Sums, list[Any]] = {}
    for grain, lo, hi in ranges(start, end, now):
        conds = [r.c.grain == grain, r.c.bucket >= lo, r.c.bucket < hi]
        if org_id is not None:
            conds.append(r.c.org_id == org_id)
        query = (select(*(r.c[g] for g in group), *(func.sum(r.c[s]) for s in sums))
                 .where(*conds).group_by(*(r.c[g] for g in group)))

        def fetch(query: Any = query) -> list[Sums]:
            return [tuple(row[:len(group)]) + tuple(_number(v) for v in row[len(group):])
                    for row in session.execute(query)]

        key = (group, lo, hi, org_id)
        rows = cache.get(key, fetch) if cache is not None and grain == "day" else fetch()
        for row in rows:
            values = merged.setdefault(row[:len(group)], [0] * len(sums))
            for i, value in enumerate(row[len(group):]):
                values[i] += value
    return [key + tuple(values) for key, values in merged.items()]


def _by_user(session: Session, start: datetime, end: datetime, now: datetime,
             org_id: int | None, cache: DayCache | None = None) -> list[Sums]:
    """One row of sums per user (0: calls with app keys): totals and top spenders alike."""
    return _grouped(session, _USER_GROUP, _USER_SUMS, start, end, now, org_id, cache)


def _by_route(session: Session, start: datetime, end: datetime, now: datetime,
              org_id: int | None, cache: DayCache | None = None) -> list[Sums]:
    """One row of sums per (provider, requested model, actual model): load and flows alike."""
    return _grouped(session, _ROUTE_GROUP, _ROUTE_SUMS, start, end, now, org_id, cache)


def _totals(rows: list[Any]) -> dict[str, Any]:
    def total(i: int) -> int:
        return sum(int(row[i] or 0) for row in rows)

    requests, hits = total(1), total(7)
    cost = sum((_dec(row[2]) for row in rows), Decimal(0))
    return {"requests": requests, "cost_usd": cost,
            "active_users": sum(1 for row in rows if row[0]),
            "avg_cost_per_request_usd": cost / requests if requests else Decimal(0),
            "input_tokens": total(3), "output_tokens": total(4), "cached_tokens": total(5),
            "errors": total(6), "cache_hits": hits,
            "cache_hit_rate": hits / requests if requests else 0.0}


def _top(session: Session, rows: list[Any], limit: int) -> list[dict[str, Any]]:
    ranked = sorted((row for row in rows if row[0]), key=lambda row: (-_dec(row[2]), row[0]))
    ranked = ranked[:limit]
    ids = [row[0] for row in ranked]
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} \
        if ids else {}
    return [{"user_id": uid, "email": people[uid].email if uid in people else None,
             "name": people[uid].name if uid in people else None, "requests": int(n or 0),
             "cost_usd": _dec(c), "input_tokens": int(i or 0), "output_tokens": int(o or 0)}
            for uid, n, c, i, o, *_ in ranked]


def _load(rows: list[Any]) -> list[dict[str, Any]]:
    sums: dict[str, list[int]] = {}
    for provider, _, _, n, errors, latency in rows:
        if provider:
            entry = sums.setdefault(provider, [0, 0, 0])
            entry[0] += int(n or 0)
            entry[1] += int(errors or 0)
            entry[2] += int(latency or 0)
    total = sum(n for n, _, _ in sums.values()) or 1
    load = [{"provider": p, "requests": n, "share": n / total, "errors": e,
             "avg_latency_ms": lat / n if n else 0.0} for p, (n, e, lat) in sums.items()]
    return sorted(load, key=lambda row: -row["requests"])


def _flows(rows: list[Any]) -> list[dict[str, Any]]:
    sums: dict[tuple[str, str], int] = {}
    for _, requested, model, n, _, _ in rows:
        if model:
            sums[(requested, model)] = sums.get((requested, model), 0) + int(n or 0)
    return sorted(({"requested_model": a, "model": b, "requests": n}
                   for (a, b), n in sums.items()), key=lambda row: -row["requests"])


def dashboard(session: Session, start: datetime, end: datetime, now: datetime,
              org_id: int | None = None, top: int = 10,
              cache: DayCache | None = None) -> dict[str, Any]:
    """Totals, provider load, model flows and top spenders of a period: two grouped reads."""
    users = _by_user(session, start, end, now, org_id, cache)
    routes = _by_route(session, start, end, now, org_id, cache)
    return {"totals": _totals(users), "load": _load(routes), "flows": _flows(routes),
            "top": _top(session, users, top)}


def period_totals(session: Session, start: datetime, end: datetime, now: datetime,
                  org_id: int | None = None) -> dict[str, Any]:
    return _totals(_by_user(session, start, end, now, org_id))


def provider_load(session: Session, start: datetime, end: datetime, now: datetime,
                  org_id: int | None = None) -> list[dict[str, Any]]:
    return _load(_by_route(session, start, end, now, org_id))


def model_flows(session: Session, start: datetime, end: datetime, now: datetime,
                org_id: int | None = None) -> list[dict[str, Any]]:
    return _flows(_by_route(session, start, end, now, org_id))


def top_users(session: Session, start: datetime, end: datetime, now: datetime, limit: int = 10,
              org_id: int | None = None, cache: DayCache | None = None) -> list[dict[str, Any]]:
    return _top(session, _by_user(session, start, end, now, org_id, cache), limit)


def user_usage(session: Session, user_id: int, start: datetime, end: datetime,
               now: datetime) -> dict[str, Any]:
    """One user's calls, tokens and cost in a range, in all and per actual model."""
    r = _table()
    rows = session.execute(select(r.c.model, func.sum(r.c.requests), func.sum(r.c.input_tokens),
                                  func.sum(r.c.output_tokens), func.sum(r.c.cost_usd))
                           .where(*where(start, end, now, None), r.c.user_id == user_id)
                           .group_by(r.c.model)).all()
    by_model: list[dict[str, Any]] = [
        {"model": m or None, "requests": int(n or 0), "input_tokens": int(i or 0),
         "output_tokens": int(o or 0), "cost_usd": _dec(c)} for m, n, i, o, c in rows]
    return {"requests": sum(row["requests"] for row in by_model),
            "input_tokens": sum(row["input_tokens"] for row in by_model),
            "output_tokens": sum(row["output_tokens"] for row in by_model),
            "cost_usd": sum((row["cost_usd"] for row in by_model), Decimal(0)),
            "by_model": sorted(by_model, key=lambda row: -row["cost_usd"])}
