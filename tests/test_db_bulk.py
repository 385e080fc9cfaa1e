"""`gateway.db.bulk.insert_many`: the background writers' INSERT stores exactly what SQLAlchemy's
own executemany stores (the same bind processors run), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Engine, delete, insert, select, text

from gateway.db.bulk import insert_many
from plugins.dlp._models import DlpEvent

EVENTS = DlpEvent.__table__
COLUMNS = [c for c in EVENTS.columns if c.key != "id"]


def _rows(start: int) -> list[dict]:
    zone = timezone(timedelta(hours=5, minutes=30))
    return [{"created_at": datetime(2026, 12, 7, 10, 0, i, 5 * i, tzinfo=UTC if i % 2 else zone),
             "kind": "redaction", "scope_kind": "org", "scope_id": i, "scope_slug": f"org-{i}",
             "org_id": None if i % 3 == 0 else i, "rule": "email", "match_count": i,
             "request_size": 100 + i, "request_id": f"req-{start + i}", "key_prefix": "sk-gw-ab",
             "value_hashes": ["é" * i, {"b": 1, "a": [i]}]} for i in range(6)]


def _stored(engine: Engine, raw: bool) -> list[tuple]:
    names = ", ".join(c.name for c in COLUMNS if c.key != "request_id")
    with engine.connect() as conn:
        if raw:  # what the database holds, before any result processing
            return [tuple(r) for r in conn.execute(text(
                f"SELECT {names} FROM dlp_events ORDER BY request_id"))]  # noqa: S608
        return [tuple(r) for r in conn.execute(
            select(*[c for c in COLUMNS if c.key != "request_id"]).order_by(EVENTS.c.request_id))]


def test_insert_many_stores_what_sqlalchemy_stores(engine):
    with engine.begin() as conn:
        conn.execute(insert(EVENTS), _rows(0))
    expected = _stored(engine, raw=False), _stored(engine, raw=True)
    with engine.begin() as conn:
        conn.execute(delete(EVENTS))
    with engine.begin() as conn:
        insert_many(conn, EVENTS, _rows(0))
    assert (_stored(engine, raw=False), _stored(engine, raw=True)) == expected
    assert expected[0][1][0] == datetime(2026, 12, 7, 10, 0, 1, 5, tzinfo=UTC)
    assert expected[0][0][0] == datetime(2026, 12, 7, 4, 30, 0, 0, tzinfo=UTC)


def test_a_column_left_to_its_python_default_still_gets_it(engine):
    rows = [{k: v for k, v in row.items() if k not in ("match_count", "value_hashes")}
            for row in _rows(0)]
    with engine.begin() as conn:
        insert_many(conn, EVENTS, rows)
        insert_many(conn, EVENTS, [])
    with engine.connect() as conn:
        stored = conn.execute(select(EVENTS.c.match_count, EVENTS.c.value_hashes)).all()
    assert [tuple(r) for r in stored] == [(0, [])] * 6
