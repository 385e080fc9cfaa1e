"""The period selector shared by the dashboard and the usage pages: 24h, 7d, 30d or custom days."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

PRESETS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
LABELS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    key: str  # "24h", "7d", "30d" or "custom"
    start: datetime
    end: datetime
    label: str
    error: str | None = None
    days: tuple[date, date] | None = None  # a custom period's first and last day

    def query(self) -> dict[str, str]:
        """The URL arguments that select this period again (for links and exports)."""
        if self.days is None:
            return {"period": self.key}
        return {"period": "custom", "start": self.days[0].isoformat(),
                "end": self.days[1].isoformat()}


def parse_period(args: Mapping[str, str], now: datetime | None = None,
                 default: str = "24h") -> Period:
    """The period named by `?period=…` (custom: `start` and `end` days, both included).
    Bad input falls back to the default and says why in `error`."""
    now = now or datetime.now(UTC)
    key = args.get("period") or default
    if key == "custom":
        try:
            return _custom(args.get("start", ""), args.get("end", ""), now)
        except ValueError as exc:
            return _preset(default, now, error=str(exc))
    if key not in PRESETS:
        return _preset(default, now, error=f"unknown period {key!r}")
    return _preset(key, now)


def _preset(key: str, now: datetime, error: str | None = None) -> Period:
    return Period(key, now - PRESETS[key], now, LABELS[key], error)


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"invalid {what} date {text!r}: expected YYYY-MM-DD") from None


def _custom(start_text: str, end_text: str, now: datetime) -> Period:
    first, last = _day(start_text, "start"), _day(end_text, "end")
    if last < first:
        raise ValueError(f"the end date {last} is before the start date {first}")
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f"a custom period is at most {MAX_DAYS} days")
    start = datetime.combine(first, time.min, UTC)
    end = min(datetime.combine(last + timedelta(days=1), time.min, UTC),
              max(now, start))
    label = f"{first.isoformat()} – {last.isoformat()}"
    return Period("custom", start, end, label, days=(first, last))
