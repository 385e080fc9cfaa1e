"""The `metering:` section of model_config.yaml, validated into a frozen dataclass.

    metering:
      week_start: monday            # when users' weekly caps reset (00:00 UTC of that day)
      org_period: month             # organizations' and apps' cap period: month | week
      default_max_output_tokens: 4096   # reserved when a request names no max tokens
      flush_interval_ms: 100        # request-log writer: flush at least this often …
      flush_rows: 500               # … or when this many rows wait
      queue_size: 20000             # rows held in memory while the database is away
      reservation_max_age_minutes: 180  # reservations older than this are released (crash)

Errors name the key at fault (`metering.week_start: …`), like the core's config errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import ConfigError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PERIODS = ("month", "week")


@dataclass(frozen=True)
class MeteringConfig:
    week_start: int = 0  # 0 = Monday, as datetime.weekday()
    org_period: str = "month"
    default_max_output_tokens: int = 4096
    flush_interval_ms: int = 100
    flush_rows: int = 500
    queue_size: int = 20000
    reservation_max_age_minutes: int = 180


def _positive_int(raw: dict, key: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"metering.{key}: must be a positive integer, got {value!r}")
    return value


def parse_metering_config(raw: Any) -> MeteringConfig:
    if raw is None:
        return MeteringConfig()
    if not isinstance(raw, dict):
        raise ConfigError("metering: must be a mapping")
    known = {"week_start", "org_period", "default_max_output_tokens", "flush_interval_ms",
             "flush_rows", "queue_size", "reservation_max_age_minutes"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"metering: unknown key(s) {', '.join(sorted(unknown))}")
    day = str(raw.get("week_start", "monday")).strip().lower()
    if day not in WEEKDAYS:
        raise ConfigError(f"metering.week_start: must be a weekday name, got {raw['week_start']!r}")
    period = str(raw.get("org_period", "month")).strip().lower()
    if period not in PERIODS:
        raise ConfigError(f"metering.org_period: must be one of {', '.join(PERIODS)}, "
                          f"got {raw['org_period']!r}")
    return MeteringConfig(
        week_start=WEEKDAYS.index(day), org_period=period,
        default_max_output_tokens=_positive_int(raw, "default_max_output_tokens", 4096),
        flush_interval_ms=_positive_int(raw, "flush_interval_ms", 100),
        flush_rows=_positive_int(raw, "flush_rows", 500),
        queue_size=_positive_int(raw, "queue_size", 20000),
        reservation_max_age_minutes=_positive_int(raw, "reservation_max_age_minutes", 180),
    )
