"""What the writer thread does with a batch: settle the ledger, then write request logs, stored
conversations, rollups, error reports and cache entries in one transaction. Each part that
committed is taken out of the batch (and acknowledged in the spool), so a retry after a failure
never writes anything twice.

`replay` writes records read back from a spool (after an outage or a crash); it is idempotent:
log rows already in the database (by request id) are skipped, settlements are booked once by the
ledger itself."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, or_, select, update

from gateway.db.bulk import insert_many
from gateway.db.models import ApiKey, RequestLog
from plugins.metering import _ledger, _rollups
from plugins.metering._db import upsert_replace
from plugins.metering._models import CacheEntry, ErrorReport, StoredBodies
from plugins.metering._records import CacheRecord, ErrorRecord, LogRecord
from plugins.metering._spool import Spooled

log = logging.getLogger("gateway.metering")
LOGS = RequestLog.__table__
KEYS = ApiKey.__table__
BODIES = StoredBodies.__table__
ERRORS = ErrorReport.__table__
CACHE = CacheEntry.__table__
# What the log writer carries: spend records wrapped in their spool entry, the rest as they are.
Item = Spooled | LogRecord | _ledger.Settlement | ErrorRecord | CacheRecord
Record = LogRecord | _ledger.Settlement | ErrorRecord | CacheRecord


def _seq(item: Item) -> int:
    return item.seq if isinstance(item, Spooled) else 0


def _record(item: Item) -> Record:
    return item.record if isinstance(item, Spooled) else item


class Sink:
    def __init__(self, engine: Engine, clock: Callable[[], datetime],
                 ack: Callable[[list[int]], None] = lambda seqs: None) -> None:
        self.engine = engine
        self.clock = clock
        self.ack = ack

    def write(self, batch: list[Item]) -> None:
        settles = [(i, r) for i in batch if isinstance(r := _record(i), _ledger.Settlement)]
        if settles:
            _ledger.settle(self.engine, [r for _, r in settles], self.clock())
            self.ack([_seq(i) for i, _ in settles])
            batch[:] = [i for i in batch if not isinstance(_record(i), _ledger.Settlement)]
        if batch:
            self._write_rows([_record(i) for i in batch])
            self.ack([_seq(i) for i in batch])
            batch.clear()

    def replay(self, items: list[Spooled]) -> int:
        """Write records from a spool; returns how many log rows were missing and written."""
        settles = [i.record for i in items if isinstance(i.record, _ledger.Settlement)]
        _ledger.settle(self.engine, settles, self.clock())
        logs = [i.record for i in items if isinstance(i.record, LogRecord)]
        ids = [r.row["request_id"] for r in logs]
        with self.engine.connect() as conn:
            present: set[str] = set()
            for start in range(0, len(ids), 500):
                present.update(conn.execute(select(LOGS.c.request_id).where(
                    LOGS.c.request_id.in_(ids[start:start + 500]))).scalars())
        missing = [r for r in logs if r.row["request_id"] not in present]
        if missing:
            self._write_rows(missing)
        return len(missing)

    def _write_rows(self, batch: Sequence[Record]) -> None:
        logs = [r for r in batch if isinstance(r, LogRecord)]
        rows = [dict(r.row) for r in logs]
        bodies = [r.bodies for r in logs if r.bodies is not None]
        errors = [r.row for r in batch if isinstance(r, ErrorRecord)]
        cache = _latest_by_key([r.row for r in batch if isinstance(r, CacheRecord)])
        rollups = _rollups.deltas(rows)
        for row in rows:
            if isinstance(row["created_at"], float):
                row["created_at"] = datetime.fromtimestamp(row["created_at"], UTC)
        with self.engine.begin() as conn:
            if rows:
                insert_many(conn, LOGS, rows)
                _rollups.apply(conn, rollups)
                _mark_keys_used(conn, rows)
            upsert_replace(conn, BODIES, bodies, ["request_id"])
            if errors:
                conn.execute(insert(ERRORS), errors)
            upsert_replace(conn, CACHE, cache, ["key"])


def _mark_keys_used(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Each key's last use (shown in the admin), once per key per batch."""
    latest: dict[str, datetime] = {}
    for row in rows:
        prefix = row.get("key_prefix")
        if prefix and (prefix not in latest or row["created_at"] > latest[prefix]):
            latest[prefix] = row["created_at"]
    if latest:
        conn.execute(_MARK_USED, [{"p": p, "t": t} for p, t in sorted(latest.items())])


# Built once: building it for every batch cost four times its execution (102 against 23 µs).
_MARK_USED = (update(KEYS).where(KEYS.c.prefix == bindparam("p"),
                                 or_(KEYS.c.last_used_at.is_(None), KEYS.c.last_used_at < bindparam("t")))
              .values(last_used_at=bindparam("t")))


def _latest_by_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # One statement may not upsert the same key twice (PostgreSQL refuses it).
    return sorted({r["key"]: r for r in rows}.values(), key=lambda r: r["key"])
