"""Per-minute, per-hour and per-day aggregates of the request log, updated by the log writer in the
same transaction as the rows they summarise (so they never disagree), one upsert per group.

Groups are (grain, bucket, user, org, app, requested model, actual model, provider); a missing id
is 0 and a missing name '' so the unique key can match. Minute rows are kept 3 days and hour rows
100 days (enough for "last 60 minutes" and 30-day hourly views); day rows are kept for good.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete

from plugins.metering._db import upsert_add
from plugins.metering._models import Rollup

ROLLUPS = Rollup.__table__
GRAINS = ("minute", "hour", "day")
KEEP = {"minute": timedelta(days=3), "hour": timedelta(days=100)}
GROUP = ["grain", "bucket", "user_id", "org_id", "app_id", "requested_model", "model", "provider"]
SUMS = ["requests", "errors", "cache_hits", "input_tokens", "output_tokens", "cached_tokens",
        "cost_usd", "latency_ms_sum"]


def bucket(when: datetime, grain: str) -> datetime:
    if grain == "minute":
        return when.replace(second=0, microsecond=0)
    if grain == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


_SECONDS = (("minute", 60), ("hour", 3600), ("day", 86400))


def _stamp(value: float | datetime) -> float:
    return value if isinstance(value, float) else value.timestamp()


def is_error(status: int) -> bool:
    # 499: the client hung up; that is its choice, not a failure of the gateway or provider.
    return status >= 400 and status != 499


def deltas(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sum the log rows into one delta per group and grain, sorted so that two writers always
    lock rollup rows in the same order. Buckets are computed on epoch seconds (UTC days start at
    multiples of 86400), which is much cheaper than datetime arithmetic per row. Rows are summed
    per minute, and the minutes into hours and days: a row is added once, not once per grain."""
    minutes: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        ts = _stamp(row["created_at"])
        key = (ts - ts % 60, row["user_id"] or 0, row["org_id"] or 0, row["app_id"] or 0,
               row["requested_model"] or "", row["actual_model"] or "", row["provider"] or "")
        values = (1, int(is_error(row["status"])), int(bool(row["cache_hit"])), row["input_tokens"],
                  row["output_tokens"], row["cached_tokens"], row["cost_usd"], row["latency_ms"])
        _add(minutes, key, values)
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for (minute, *names), sums in minutes.items():
        for grain, size in _SECONDS:
            _add(groups, (grain, minute - minute % size, *names), sums)
    out = []
    for key in sorted(groups):
        delta = dict(zip(GROUP, key))
        delta["bucket"] = datetime.fromtimestamp(key[1], UTC)
        delta.update(zip(SUMS, groups[key]))
        out.append(delta)
    return out


def _add(groups: dict[tuple[Any, ...], list[Any]], key: tuple[Any, ...], values: Sequence[Any]) -> None:
    sums = groups.get(key)
    if sums is None:
        groups[key] = list(values)
    else:
        for i, v in enumerate(values):
            sums[i] += v


def apply(conn: Connection, summed: list[dict[str, Any]]) -> None:
    """Add `deltas(rows)` onto the rollup rows."""
    upsert_add(conn, ROLLUPS, summed, GROUP, SUMS)


def prune(conn: Connection, now: datetime) -> None:
    for grain, keep in KEEP.items():
        conn.execute(delete(ROLLUPS).where(ROLLUPS.c.grain == grain, ROLLUPS.c.bucket < now - keep))
