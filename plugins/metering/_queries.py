"""Read side for the admin dashboard (issue 7) and the `usage` command. Every figure comes from
the rollups, never from the raw request log, so a dashboard stays fast on millions of calls.

Ranges use minute rows for the last hour, hour rows when the range starts within the hour rows'
retention (100 days), day rows beyond. Pass `org_id` to limit every figure to one organization
(an org admin's view). Money comes back as Decimal, times as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from gateway.db.models import User
from plugins.metering._models import Rollup
from plugins.metering._rollups import KEEP, bucket

R = Rollup.__table__


def _grain(start: datetime, now: datetime) -> str:
    return "hour" if start >= now - KEEP["hour"] + timedelta(hours=1) else "day"


def _where(grain: str, start: datetime, end: datetime, org_id: int | None) -> list:
    conds = [R.c.grain == grain, R.c.bucket >= bucket(start, grain), R.c.bucket < end]
    if org_id is not None:
        conds.append(R.c.org_id == org_id)
    return conds


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def live_last_hour(session: Session, now: datetime, org_id: int | None = None) -> dict[str, Any]:
    """"Live · last 60 min": active users, requests, tokens in and out, and a per-minute series."""
    conds = _where("minute", now - timedelta(minutes=60), now + timedelta(minutes=1), org_id)
    users = session.execute(select(func.count(distinct(R.c.user_id)))
                            .where(*conds, R.c.user_id != 0)).scalar() or 0
    rows = session.execute(select(R.c.bucket, func.sum(R.c.requests), func.sum(R.c.input_tokens),
                                  func.sum(R.c.output_tokens))
                           .where(*conds).group_by(R.c.bucket).order_by(R.c.bucket)).all()
    series = [{"minute": b, "requests": int(n or 0), "input_tokens": int(i or 0),
               "output_tokens": int(o or 0)} for b, n, i, o in rows]
    return {"active_users": int(users), "requests": sum(s["requests"] for s in series),
            "input_tokens": sum(s["input_tokens"] for s in series),
            "output_tokens": sum(s["output_tokens"] for s in series), "series": series}


def period_totals(session: Session, start: datetime, end: datetime, now: datetime,
                  org_id: int | None = None) -> dict[str, Any]:
    conds = _where(_grain(start, now), start, end, org_id)
    row = session.execute(select(
        func.sum(R.c.requests), func.sum(R.c.cost_usd), func.sum(R.c.input_tokens),
        func.sum(R.c.output_tokens), func.sum(R.c.cached_tokens), func.sum(R.c.errors),
        func.sum(R.c.cache_hits)).where(*conds)).one()
    users = session.execute(select(func.count(distinct(R.c.user_id)))
                            .where(*conds, R.c.user_id != 0)).scalar() or 0
    requests, cost = int(row[0] or 0), _dec(row[1])
    return {"requests": requests, "cost_usd": cost, "active_users": int(users),
            "avg_cost_per_request_usd": cost / requests if requests else Decimal(0),
            "input_tokens": int(row[2] or 0), "output_tokens": int(row[3] or 0),
            "cached_tokens": int(row[4] or 0), "errors": int(row[5] or 0),
            "cache_hits": int(row[6] or 0),
            "cache_hit_rate": (int(row[6] or 0) / requests) if requests else 0.0}


def cost_trend(session: Session, now: datetime, days: int = 7, by: str = "provider",
               org_id: int | None = None) -> dict[str, Any]:
    """Cost per day for the last `days` days (today included), one series per provider or model:
    {"days": [date, …], "series": {name: [Decimal per day]}}."""
    if by not in ("provider", "model"):
        raise ValueError(f"cost trend by {by!r}: expected 'provider' or 'model'")
    first = bucket(now, "day") - timedelta(days=days - 1)
    column = R.c.provider if by == "provider" else R.c.model
    rows = session.execute(select(R.c.bucket, column, func.sum(R.c.cost_usd))
                           .where(*_where("day", first, now + timedelta(days=1), org_id))
                           .group_by(R.c.bucket, column)).all()
    day_list = [(first + timedelta(days=i)).date() for i in range(days)]
    frame = pd.DataFrame([(b.date(), name or "none", _dec(c)) for b, name, c in rows],
                         columns=["day", "name", "cost"])
    table = frame.pivot_table(index="day", columns="name", values="cost", aggfunc="sum") \
        .reindex(day_list) if not frame.empty else pd.DataFrame(index=day_list)
    series = {str(name): [_dec(v) if pd.notna(v) else Decimal(0) for v in table[name]]
              for name in table.columns}
    return {"days": day_list, "series": series}


def provider_load(session: Session, start: datetime, end: datetime, now: datetime,
                  org_id: int | None = None) -> list[dict[str, Any]]:
    rows = session.execute(select(R.c.provider, func.sum(R.c.requests), func.sum(R.c.errors),
                                  func.sum(R.c.latency_ms_sum))
                           .where(*_where(_grain(start, now), start, end, org_id), R.c.provider != "")
                           .group_by(R.c.provider)).all()
    total = sum(int(r[1] or 0) for r in rows) or 1
    load = [{"provider": p, "requests": int(n or 0), "share": int(n or 0) / total,
             "errors": int(e or 0), "avg_latency_ms": int(lat or 0) / int(n) if n else 0.0}
            for p, n, e, lat in rows]
    return sorted(load, key=lambda r: -r["requests"])


def model_flows(session: Session, start: datetime, end: datetime, now: datetime,
                org_id: int | None = None) -> list[dict[str, Any]]:
    """Requested → actual model, with how many calls took each path."""
    rows = session.execute(select(R.c.requested_model, R.c.model, func.sum(R.c.requests))
                           .where(*_where(_grain(start, now), start, end, org_id), R.c.model != "")
                           .group_by(R.c.requested_model, R.c.model)).all()
    return sorted(({"requested_model": a, "model": b, "requests": int(n or 0)} for a, b, n in rows),
                  key=lambda r: -r["requests"])


def top_users(session: Session, start: datetime, end: datetime, now: datetime, limit: int = 10,
              org_id: int | None = None) -> list[dict[str, Any]]:
    cost = func.sum(R.c.cost_usd)
    rows = session.execute(select(R.c.user_id, func.sum(R.c.requests), cost,
                                  func.sum(R.c.input_tokens), func.sum(R.c.output_tokens))
                           .where(*_where(_grain(start, now), start, end, org_id), R.c.user_id != 0)
                           .group_by(R.c.user_id).order_by(cost.desc()).limit(limit)).all()
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_([r[0] for r in rows])))}
    return [{"user_id": uid, "email": people[uid].email if uid in people else None,
             "name": people[uid].name if uid in people else None, "requests": int(n or 0),
             "cost_usd": _dec(c), "input_tokens": int(i or 0), "output_tokens": int(o or 0)}
            for uid, n, c, i, o in rows]


def user_usage(session: Session, user_id: int, start: datetime, end: datetime,
               now: datetime) -> dict[str, Any]:
    """One user's calls, tokens and cost in a range, in all and per actual model."""
    rows = session.execute(select(R.c.model, func.sum(R.c.requests), func.sum(R.c.input_tokens),
                                  func.sum(R.c.output_tokens), func.sum(R.c.cost_usd))
                           .where(*_where(_grain(start, now), start, end, None),
                                  R.c.user_id == user_id).group_by(R.c.model)).all()
    by_model = [{"model": m or None, "requests": int(n or 0), "input_tokens": int(i or 0),
                 "output_tokens": int(o or 0), "cost_usd": _dec(c)} for m, n, i, o, c in rows]
    return {"requests": sum(r["requests"] for r in by_model),
            "input_tokens": sum(r["input_tokens"] for r in by_model),
            "output_tokens": sum(r["output_tokens"] for r in by_model),
            "cost_usd": sum((r["cost_usd"] for r in by_model), Decimal(0)),
            "by_model": sorted(by_model, key=lambda r: -r["cost_usd"])}
