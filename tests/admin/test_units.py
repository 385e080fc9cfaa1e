"""Pure helpers of the admin site: periods, SVG charts, number formats, keyset cursors and the
CSV record counter behind the export progress."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from admin_web import charts, fmt, keyset
from admin_web.export_jobs import RecordCounter
from admin_web.periods import parse_period
from admin_web.views.dashboard import per_minute, top_series

NOW = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)


def test_presets_and_custom_periods():
    assert parse_period({}, NOW).start == NOW - timedelta(hours=24)
    week = parse_period({"period": "7d"}, NOW)
    assert (week.start, week.end, week.label) == (NOW - timedelta(days=7), NOW, "Last 7 days")
    custom = parse_period({"period": "custom", "start": "2025-03-01", "end": "2025-03-02"}, NOW)
    assert custom.start == datetime(2025, 3, 1, tzinfo=UTC)
    assert custom.end == datetime(2025, 3, 3, tzinfo=UTC)  # the end day is included
    assert custom.query() == {"period": "custom", "start": "2025-03-01", "end": "2025-03-02"}
    today = parse_period({"period": "custom", "start": "2025-03-10", "end": "2025-03-10"}, NOW)
    assert today.end == NOW  # never in the future


@pytest.mark.parametrize("args,error", [
    ({"period": "custom", "start": "yesterday", "end": "2025-03-01"}, "invalid start date"),
    ({"period": "custom", "start": "2025-03-02", "end": "2025-03-01"}, "is before the start"),
    ({"period": "custom", "start": "2020-01-01", "end": "2025-03-01"}, "at most 366 days"),
    ({"period": "1y"}, "unknown period '1y'"),
])
def test_bad_periods_fall_back_and_say_why(args, error):
    period = parse_period(args, NOW)
    assert period.key == "24h" and error in period.error


def test_stacked_bars_scale_and_escape():
    svg = str(charts.stacked_bars(["Mon", "<b>"], {"open<ai>": [Decimal("1.5"), Decimal(0)],
                                                   "anthropic": [Decimal("0.5"), Decimal(3)]},
                                  lambda v: f"${v:g}"))
    assert svg.startswith("<svg") and "<b>" not in svg and "&lt;b&gt;" in svg
    assert "open&lt;ai&gt;" in svg and "open<ai>" not in svg
    assert ">$5<" in svg  # the axis tops out at a round number above the tallest bar (3)
    assert svg.count("<rect") == 3  # zero values draw nothing


@pytest.mark.parametrize("value,top", [(0, 1), (0.37, 0.5), (3, 5), (37, 50), (101, 200),
                                       (0.012, 0.02)])
def test_nice_max(value, top):
    assert charts.nice_max(value) == pytest.approx(top)


def test_sparkline_and_minutes():
    series = [{"minute": NOW - timedelta(minutes=2), "requests": 4},
              {"minute": NOW, "requests": 2}]
    values = per_minute(series, NOW + timedelta(seconds=20))
    assert len(values) == 60 and values[-1] == 2 and values[-3] == 4 and sum(values) == 6
    points = charts.sparkline_points(values).split()
    assert len(points) == 60 and points[-3].endswith(",2.0")  # the peak touches the top


def test_top_series_folds_the_rest_into_other():
    series = {f"m{i}": [Decimal(i), Decimal(1)] for i in range(10)}
    folded = top_series(series, 4)
    assert list(folded) == ["m9", "m8", "m7", "other"]
    assert folded["other"] == [Decimal(0 + 1 + 2 + 3 + 4 + 5 + 6), Decimal(7)]


@pytest.mark.parametrize("fn,value,text", [
    (fmt.usd, Decimal("1234.567"), "$1,234.57"), (fmt.usd, Decimal("0.00421"), "$0.0042"),
    (fmt.usd, Decimal("0.00001"), "<$0.0001"), (fmt.usd, None, "–"), (fmt.cap, None, "No cap"),
    (fmt.compact, 1_250_000, "1.2M"), (fmt.compact, 999, "999"), (fmt.num, 12345, "12,345"),
    (fmt.pct, 0.078, "7.8%"), (fmt.ms, 1500, "1.50 s"),
])
def test_formats(fn, value, text):
    assert fn(value) == text


def test_keyset_cursor_round_trip():
    row = SimpleNamespace(created_at=datetime(2025, 1, 2, 3, 4, 5, 678901, UTC), id=42)
    assert keyset.decode(keyset.encode(row)) == (row.created_at, 42)
    for bad in (None, "", "nonsense", "20250101~x", "x~1"):
        assert keyset.decode(bad) is None


def test_record_counter_counts_records_not_lines():
    out, seen = io.StringIO(), []
    counter = RecordCounter(out, seen.append)
    writer = csv.writer(counter, lineterminator="\n")
    writer.writerow(["time", "request"])
    writer.writerow(["t1", 'a "quoted"\nmulti-line\nvalue'])
    writer.writerow(["t2", "plain"])
    assert counter.records == 3 and seen[-1] == 3
    assert len(list(csv.reader(io.StringIO(out.getvalue())))) == 3


def test_rollup_ranges_use_day_rows_for_whole_days():
    from plugins.metering._periods import ranges

    day = timedelta(days=1)
    def at(d: int, h: int = 0, m: int = 0) -> datetime:
        return datetime(2025, 3, d, h, m, tzinfo=UTC)

    assert ranges(at(3, 7, 30), at(9, 12, 5), NOW) == [
        ("hour", at(3, 7), at(4)), ("day", at(4), at(9)), ("hour", at(9), at(9, 12, 5))]
    # No whole day inside: hour rows, from the hour the range starts in (as the plugin reads).
    assert ranges(NOW - day, NOW, NOW) == [("hour", NOW - day - timedelta(minutes=30), NOW)]
    midnight = datetime(2025, 3, 1, tzinfo=UTC)
    assert ranges(midnight, midnight + 2 * day, NOW) == [("day", midnight, midnight + 2 * day)]
    old = NOW - timedelta(days=200, hours=5)  # hour rows are pruned after 100 days
    assert ranges(old, NOW, NOW)[0] == ("day", old.replace(hour=0, minute=0), NOW.replace(
        hour=0, minute=0))
