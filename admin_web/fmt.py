"""Template filters: money, counts, times and shares, formatted the same way on every page.

All times are shown in UTC (the database stores UTC); money is Decimal and never goes through
float for display.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Flask


def init_app(app: Flask) -> None:
    for name, fn in (("usd", usd), ("num", num), ("compact", compact), ("dt", dt),
                     ("ago", ago), ("pct", pct), ("ms", ms), ("cap", cap)):
        app.add_template_filter(fn, name)
    from admin_web.charts import share_bar

    app.add_template_global(share_bar, "share_bar")


def usd(value: Any) -> str:
    """$1,234.56; amounts under a dollar keep enough places to tell calls apart ($0.0042)."""
    if value is None:
        return "–"
    amount = Decimal(str(value))
    if amount == 0:
        return "$0.00"
    places = Decimal("0.01") if abs(amount) >= 1 else Decimal("0.0001")
    rounded = amount.quantize(places, rounding=ROUND_HALF_UP)
    if rounded == 0:
        return "<$0.0001"
    return f"${rounded:,}"


def cap(value: Any) -> str:
    return "No cap" if value is None else usd(value)


def num(value: Any) -> str:
    if value is None:
        return "–"
    return f"{int(value):,}"


def compact(value: Any) -> str:
    """1.2k, 3.4M: for tiles, where a long number would not fit."""
    if value is None:
        return "–"
    number = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            return f"{number / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{int(number):,}"


def dt(value: datetime | None, seconds: bool = True) -> str:
    if value is None:
        return "–"
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' * (count != 1)} ago"
    return "just now"


def pct(value: Any, places: int = 1) -> str:
    if value is None:
        return "–"
    return f"{float(value) * 100:.{places}f}%"


def ms(value: Any) -> str:
    if value is None:
        return "–"
    number = float(value)
    return f"{number / 1000:.2f} s" if number >= 1000 else f"{number:.0f} ms"
