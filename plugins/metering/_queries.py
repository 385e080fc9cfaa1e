"""The admin dashboard's live tiles and cost trend. Every figure comes from the rollups, never
from the raw request log, so a dashboard stays fast on millions of calls: minute rows for the
last hour, day rows for the trend (period figures: `_periods`). Pass `org_id` to limit every
figure to one organization (an org admin's view). Money comes back as Decimal, times as aware
UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from plugins.metering._models import Rollup
from plugins.metering._rollups import bucket

R = Rollup.__table__


def _where(grain: str, start: datetime, end: datetime, org_id: int | None) -> list[Any]:
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
