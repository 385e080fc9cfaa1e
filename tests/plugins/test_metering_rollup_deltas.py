"""The writer's rollup deltas equal the per-row, per-grain sums the rollups are defined as, across
minute, hour and day boundaries, for rows stamped as floats (the event loop's) or datetimes
(replayed from a spool)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

from plugins.metering import _rollups

START = datetime(2026, 12, 7, 22, 58, 30, tzinfo=UTC).timestamp()  # near an hour and a day's end


def rows(n: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ts = START + rnd.uniform(0, 3 * 3600)
        out.append({
            "created_at": ts if i % 3 else datetime.fromtimestamp(ts, UTC),
            "user_id": rnd.choice([None, 1, 2]), "org_id": rnd.choice([None, 7]),
            "app_id": rnd.choice([None, 3]), "requested_model": rnd.choice([None, "a", "b"]),
            "actual_model": rnd.choice([None, "a"]), "provider": rnd.choice([None, "openai"]),
            "status": rnd.choice([200, 200, 429, 499, 502]), "cache_hit": rnd.random() < 0.2,
            "input_tokens": rnd.randrange(100), "output_tokens": rnd.randrange(100),
            "cached_tokens": rnd.randrange(10), "cost_usd": Decimal(rnd.randrange(10**6)) / 10**9,
            "latency_ms": rnd.randrange(5000)})
    return out


def reference(log_rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list] = {}
    for row in log_rows:
        when = row["created_at"]
        when = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
        values = [1, int(_rollups.is_error(row["status"])), int(row["cache_hit"]), row["input_tokens"],
                  row["output_tokens"], row["cached_tokens"], row["cost_usd"], row["latency_ms"]]
        for grain in _rollups.GRAINS:
            key = (grain, _rollups.bucket(when, grain), row["user_id"] or 0, row["org_id"] or 0,
                   row["app_id"] or 0, row["requested_model"] or "", row["actual_model"] or "",
                   row["provider"] or "")
            sums = groups.setdefault(key, [0] * len(values))
            for i, v in enumerate(values):
                sums[i] += v
    return [dict(zip(_rollups.GROUP, key)) | dict(zip(_rollups.SUMS, groups[key]))
            for key in sorted(groups, key=lambda k: (k[0], k[1].timestamp(), *k[2:]))]


def test_deltas_are_the_per_grain_sums_of_the_rows():
    for seed in range(5):
        log_rows = rows(400, seed)
        assert _rollups.deltas(log_rows) == reference(log_rows)
        assert len({(d["grain"], d["bucket"]) for d in _rollups.deltas(log_rows)}) > 3 * 2
