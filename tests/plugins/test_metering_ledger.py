"""Periods, rollover arithmetic and the reserve → settle ledger on SQLite and PostgreSQL, with
the clock passed in so period boundaries are crossed on purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.call import Usage
from gateway.config import ModelEntry
from gateway.errors import PaymentRequired
from plugins.metering import _ledger
from plugins.metering._caps import CapRule, carry_in, month_period, period_of, week_period
from plugins.metering._cost import cost_of, worst_case

UTC = UTC
D = Decimal


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_week_resets_monday_midnight_utc_or_the_configured_day():
    sunday_night = at(2031, 3, 2, 23, 59, 59)  # a Sunday
    assert week_period(sunday_night).start == at(2031, 2, 24)
    assert week_period(sunday_night).end == at(2031, 3, 3)  # Monday 00:00
    assert week_period(at(2031, 3, 3)).start == at(2031, 3, 3)
    assert week_period(sunday_night, week_start=6).start == at(2031, 3, 2)  # weeks from Sunday


def test_month_period_across_the_year_end():
    assert month_period(at(2031, 12, 31, 23, 59)) == period_of("month", at(2031, 12, 1))
    assert month_period(at(2031, 12, 31, 23, 59)).end == at(2032, 1, 1)
    assert month_period(at(2032, 1, 1)).start == at(2032, 1, 1)


def test_rollover_carries_unused_budget_at_most_one_cap():
    feb = month_period(at(2031, 2, 10))
    assert carry_in(D(100), D(0), D(30), None, feb) == D(70)
    assert carry_in(D(100), D(100), D(20), None, feb) == D(100)  # 180 unused, one cap at most
    assert carry_in(D(100), D(0), D(130), None, feb) == D(0)  # overspent: nothing, never negative
    assert carry_in(D(100), None, None, at(2031, 1, 5), feb) == D(100)  # existed, spent nothing
    assert carry_in(D(100), None, None, at(2031, 2, 5), feb) == D(0)  # born this period


def test_cost_uses_cached_and_cache_write_prices():
    entry = ModelEntry("anthropic/x", "anthropic", "x", input=D(3), output=D(15),
                       cached_input=D("0.30"), cache_write=D("3.75"))
    usage = Usage(input_tokens=1000, output_tokens=200, cached_input_tokens=400,
                  cache_write_tokens=100)
    assert cost_of(entry, usage) == (500 * D(3) + 400 * D("0.30") + 100 * D("3.75")
                                     + 200 * D(15)) / D(1_000_000)
    assert worst_case(entry, 1000, 200) == (1000 * D("3.75") + 200 * D(15)) / D(1_000_000)
    assert cost_of(ModelEntry("openai/free", "openai", "free"), usage) == 0  # unpriced


JAN_2030 = at(2030, 1, 1)


def rule(scope="org", cap="1.00", kind="month", rollover=True, created=JAN_2030):
    return CapRule(scope, 7, D(cap), kind, f"cap of {scope} 7", rollover=rollover,
                   created_at=created)


def test_reserve_settle_release_and_refuse(engine):
    now = at(2031, 1, 20, 12)
    r = rule(rollover=False)
    first = _ledger.reserve(engine, [r], D("0.60"), "req_1", now, 0)
    with pytest.raises(PaymentRequired) as refused:  # 0.60 held + 0.60 > 1.00
        _ledger.reserve(engine, [r], D("0.60"), "req_2", now, 0)
    assert "cap of org 7 ($1.00) reached" in refused.value.message
    assert "$0.60 held by calls in flight" in refused.value.message
    assert "resets Saturday 2031-02-01 00:00 UTC" in refused.value.message
    _ledger.settle(engine, [_ledger.Settlement(first, D("0.25"))], now)
    second = _ledger.reserve(engine, [r], D("0.60"), "req_2", now, 0)  # 0.25 spent + 0.60 fits
    _ledger.settle(engine, [_ledger.Settlement(second, D(0))], now)  # failed call: released
    with engine.connect() as conn:
        row = _ledger.current_row(conn, "org", 7, month_period(now))
    assert (row.spent_usd, row.reserved_usd, row.requests) == (D("0.25"), D(0), 2)


def test_rollover_across_the_month_boundary(engine):
    """An org born in January spends 0.30 of its 1.00 cap; February may spend 1.70 while
    rollover is on."""
    def rule(**kw):
        return globals()["rule"](created=at(2031, 1, 10), **kw)

    jan = at(2031, 1, 31, 23, 59, 30)
    hold = _ledger.reserve(engine, [rule()], D("0.50"), "req_jan", jan, 0)
    _ledger.settle(engine, [_ledger.Settlement(hold, D("0.30"))], jan)
    feb = jan + timedelta(minutes=1)
    big = _ledger.reserve(engine, [rule()], D("1.50"), "req_feb", feb, 0)  # > 1.00, < 1.70
    with pytest.raises(PaymentRequired) as refused:
        _ledger.reserve(engine, [rule()], D("0.25"), "req_feb2", feb, 0)  # 1.50 + 0.25 > 1.70
    assert "($1.70 including $0.70 rolled over)" in refused.value.message
    assert "resets Saturday 2031-03-01" in refused.value.message
    _ledger.settle(engine, [_ledger.Settlement(big, D("1.50"))], feb)
    # Without rollover the carry is ignored: the February cap is the plain 1.00, already spent.
    with pytest.raises(PaymentRequired):
        _ledger.reserve(engine, [rule(rollover=False)], D("0.01"), "req_feb3", feb, 0)
    # March inherits at most what February left: 1.70 − 1.50 = 0.20.
    march = at(2031, 3, 1, 0, 0, 1)
    _ledger.reserve(engine, [rule()], D("1.20"), "req_mar", march, 0)
    with pytest.raises(PaymentRequired):
        _ledger.reserve(engine, [rule()], D("0.01"), "req_mar2", march, 0)


def test_weekly_cap_resets_on_monday(engine):
    user = rule("user", cap="0.10", kind="week", rollover=False)
    sunday = at(2031, 3, 2, 23, 59)
    hold = _ledger.reserve(engine, [user], D("0.10"), "req_sun", sunday, 0)
    _ledger.settle(engine, [_ledger.Settlement(hold, D("0.10"))], sunday)
    with pytest.raises(PaymentRequired) as refused:
        _ledger.reserve(engine, [user], D("0.01"), "req_sun2", sunday, 0)
    assert "resets Monday 2031-03-03 00:00 UTC" in refused.value.message
    _ledger.reserve(engine, [user], D("0.10"), "req_mon", at(2031, 3, 3, 0, 0, 1), 0)


def test_every_cap_must_fit_and_refusal_holds_nothing(engine):
    now = at(2031, 5, 5)
    roomy, tight = rule("org", cap="5.00", rollover=False), rule("user", cap="0.05", kind="week",
                                                                   rollover=False)
    with pytest.raises(PaymentRequired) as refused:
        _ledger.reserve(engine, [roomy, tight], D("0.10"), "req_1", now, 0)
    assert "cap of user 7" in refused.value.message
    _ledger.reserve(engine, [roomy], D("5.00"), "req_2", now, 0)  # the refusal held nothing


def test_sweep_releases_reservations_of_a_dead_process(engine):
    now = at(2031, 6, 1, 12)
    _ledger.reserve(engine, [rule(rollover=False)], D("0.90"), "req_lost", now, 0)
    assert _ledger.sweep(engine, now - timedelta(hours=3), now + timedelta(hours=4)) == 0
    assert _ledger.sweep(engine, now + timedelta(minutes=1), now + timedelta(hours=4)) == 1
    _ledger.reserve(engine, [rule(rollover=False)], D("0.90"), "req_next", now, 0)
