"""Which caps hold a call, their periods, and the rollover arithmetic. Pure functions: the clock is
always an argument, so period boundaries can be tested without waiting for them.

- A user's weekly cap resets at 00:00 UTC of the configured weekday (Monday by default).
- An organization's cap (and an app's) runs per calendar month (or week), UTC.
- Rollover: the unused budget of the previous period carries into the current one, at most one
  period's cap: carry = min(cap, max(0, cap + previous carry − previous spend)). A scope with no
  ledger row for the previous period spent nothing then: it carries a whole cap if it already
  existed when the current period began, nothing if it is newer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive: the moment the cap resets


@dataclass(frozen=True)
class CapRule:
    """One cap that applies to a call."""

    scope: str  # "user" | "org" | "app"
    scope_id: int
    cap: Decimal
    period_kind: str  # "week" | "month"
    label: str  # names the cap in a refusal: "weekly cap for user dev@acme.test"
    rollover: bool = False
    created_at: datetime | None = None  # of the scope, for rollover without a previous row


def week_period(now: datetime, week_start: int = 0) -> Period:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = day - timedelta(days=(day.weekday() - week_start) % 7)
    return Period(start, start + timedelta(days=7))


def month_period(now: datetime) -> Period:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 \
        else start.replace(month=start.month + 1)
    return Period(start, end)


def period_of(kind: str, now: datetime, week_start: int = 0) -> Period:
    return week_period(now, week_start) if kind == "week" else month_period(now)


def previous_period(kind: str, current: Period, week_start: int = 0) -> Period:
    return period_of(kind, current.start - timedelta(microseconds=1), week_start)


def carry_in(cap: Decimal, previous_carry: Decimal | None, previous_spent: Decimal | None,
             scope_created: datetime | None, current: Period) -> Decimal:
    """What rolls over into `current` from the period before it."""
    if previous_spent is None:  # no row: nothing was spent in the previous period
        existed = scope_created is None or scope_created < current.start
        return cap if existed else ZERO
    unused = cap + (previous_carry or ZERO) - previous_spent
    return min(cap, max(ZERO, unused))


def effective_cap(rule: CapRule, carry: Decimal) -> Decimal:
    return rule.cap + carry if rule.rollover else rule.cap


def describe_reset(period: Period) -> str:
    return period.end.strftime("%A %Y-%m-%d %H:%M UTC")


def usd(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.01')):,}" if amount >= Decimal("0.01") or amount == 0 \
        else f"${amount.normalize():f}"


def refusal_message(rule: CapRule, cap: Decimal, spent: Decimal, reserved: Decimal,
                    need: Decimal, period: Period) -> str:
    held = f", {usd(reserved)} held by calls in flight" if reserved > 0 else ""
    rolled = f" including {usd(cap - rule.cap)} rolled over" if cap != rule.cap else ""
    return (f"{rule.label} ({usd(cap)}{rolled}) reached: {usd(spent)} spent{held}, this call "
            f"may cost up to {usd(need)}; it resets {describe_reset(period)}")
