"""Small server-rendered SVG charts: no JavaScript, no external resources, allowed by the CSP
(`img-src 'self'` does not apply to inline SVG elements, and SVG geometry attributes are not
inline styles).

Every label is escaped here; the result is `Markup` only because this module built all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from markupsafe import Markup, escape

PALETTE = ("#4f6bed", "#12a594", "#e5484d", "#f59e0b", "#8b5cf6", "#0ea5e9", "#d6409f",
           "#65a30d", "#64748b")


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n at or above `value` (for round axis labels)."""
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value))) / 10 if value >= 1 else 10 ** -_decimals(value)
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _decimals(value: float) -> int:
    places = 0
    while value < 1:
        value *= 10
        places += 1
    return places


def stacked_bars(labels: Sequence[str], series: Mapping[str, Sequence[Decimal | float]],
                 fmt: Callable[[float], str], *, width: int = 760, height: int = 240,
                 title: str = "") -> Markup:
    """One bar per label, stacked by series, with a y axis, gridlines and a legend."""
    left, right, top, bottom = 64, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(float(values[i]) for values in series.values()) for i in range(len(labels))]
    top_value = nice_max(max(totals, default=0.0))
    slot = plot_w / max(1, len(labels))
    bar_w = max(4.0, min(56.0, slot * 0.6))
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">']
    for step in range(5):
        value = top_value * step / 4
        y = top + plot_h - plot_h * step / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(fmt(value))}</text>')
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h
        for index, (name, values) in enumerate(series.items()):
            value = float(values[i])
            if value <= 0:
                continue
            h = plot_h * value / top_value
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{color(index)}"><title>{escape(label)} · {escape(name)}: '
                         f'{escape(fmt(value))}</title></rect>')
        parts.append(f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{height - 8}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(names: Sequence[str]) -> Markup:
    items = "".join(f'<li><svg width="10" height="10" aria-hidden="true"><rect width="10" '
                    f'height="10" rx="2" fill="{color(i)}"/></svg>{escape(name)}</li>'
                    for i, name in enumerate(names))
    return Markup(f'<ul class="legend">{items}</ul>')


def sparkline_points(values: Sequence[float], width: int = 120, height: int = 28) -> str:
    """The `points` of a polyline drawing `values` left to right (also sent to live.js)."""
    if not values:
        return f"0,{height} {width},{height}"
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (height - 4) * v / top:.1f}"
                    for i, v in enumerate(values))


def share_bar(share: float, width: int = 120) -> Markup:
    """A horizontal bar for a share between 0 and 1."""
    filled = max(0.0, min(1.0, float(share))) * width
    return Markup(f'<svg class="share" width="{width}" height="8" aria-hidden="true">'
                  f'<rect width="{width}" height="8" rx="4" class="track"/>'
                  f'<rect width="{filled:.1f}" height="8" rx="4" class="fill"/></svg>')
