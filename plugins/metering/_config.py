"""The `metering:` section of model_config.yaml, validated into a frozen dataclass.

    metering:
      week_start: monday            # when users' weekly caps reset (00:00 UTC of that day)
      org_period: month             # organizations' and apps' cap period: month | week
      default_max_output_tokens: 4096   # reserved when a request names no max tokens
      flush_interval_ms: 100        # request-log writer: flush at least this often …
      flush_rows: 500               # … or when this many rows wait
      queue_size: 20000             # rows held in memory while the database is away
      reservation_max_age_minutes: 180  # reservations older than this are released (crash)

Validated with the rest of the file (the plugin declares `MeteringSections`); errors name the
key at fault (`metering.week_start: …`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from gateway.config_schema import ConfigSection, validate

__all__ = ["PERIODS", "WEEKDAYS", "MeteringConfig", "MeteringSections", "parse_metering_config"]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PERIODS = ("month", "week")


def _weekday(value: Any) -> Any:
    """A weekday name (any case) → its number, 0 = Monday, as datetime.weekday()."""
    if isinstance(value, str):
        if value.strip().lower() not in WEEKDAYS:
            raise ValueError(f"must be a weekday name ({', '.join(WEEKDAYS)})")
        return WEEKDAYS.index(value.strip().lower())
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 7:
        return value
    raise ValueError(f"must be a weekday name ({', '.join(WEEKDAYS)})")


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Count = Annotated[int, Field(gt=0)]


class MeteringConfig(ConfigSection):
    week_start: Annotated[int, BeforeValidator(_weekday)] = 0  # 0 = Monday
    org_period: Annotated[Literal["month", "week"], BeforeValidator(_lower)] = "month"
    default_max_output_tokens: Count = 4096
    flush_interval_ms: Count = 100
    flush_rows: Count = 500
    queue_size: Count = 20000
    reservation_max_age_minutes: Count = 180


class MeteringSections(ConfigSection):
    """What the metering plugin owns of model_config.yaml."""

    metering: MeteringConfig = MeteringConfig()


def parse_metering_config(raw: Any) -> MeteringConfig:
    """`metering:` as written (a mapping or None), validated on its own."""
    return validate(MeteringConfig, {} if raw is None else raw, ("metering",))
