"""On SQLite, `UtcDateTime`'s one-step bind processor stores exactly the text of the general path
(`process_bind_param`, then SQLite's DATETIME processor), and leaves every other value to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from gateway.db.base import UtcDateTime

VALUES = [
    None,
    datetime(2026, 12, 7, 21, 30, 5, 123456, tzinfo=UTC),
    datetime(2026, 12, 7, 21, 30, 5, tzinfo=UTC),  # no microseconds: still written
    datetime(2026, 12, 7, 21, 30, 5),  # naive: taken as UTC
    datetime(2026, 12, 8, 2, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 12, 7, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-8))),
    datetime(1, 1, 1), datetime(9, 3, 4, 5, 6, 7), datetime(9999, 12, 31, 23, 59, 59, 999999),
]


def test_the_sqlite_processor_writes_the_general_paths_text():
    dialect = sqlite.dialect()
    column = UtcDateTime().dialect_impl(dialect)  # as SQLAlchemy and gateway.db.bulk take it
    fast = column.bind_processor(dialect)
    general = TypeDecorator.bind_processor(column, dialect)
    assert fast is not None and general is not None and fast is not general
    for value in VALUES:
        assert fast(value) == general(value), value
    assert general(VALUES[2]) == "2026-12-07 21:30:05.000000"  # SQLite's DATETIME text, not the value
    with pytest.raises(AttributeError):
        fast("2026-12-07")  # not a datetime: the general path's own error


def test_other_databases_keep_the_general_path():
    dialect = postgresql.dialect()
    column = UtcDateTime().dialect_impl(dialect)
    general = TypeDecorator.bind_processor(column, dialect)
    processor = column.bind_processor(dialect)
    assert (processor is None) == (general is None)
