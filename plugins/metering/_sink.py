"""What the writer thread does with a batch: settle the ledger, then write request logs, stored
conversations, rollups, error reports and cache entries in one transaction. Each part that
committed is taken out of the batch, so a retry after a failure never writes anything twice."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import Engine, delete, insert

from gateway.db.models import RequestLog
from plugins.metering import _ledger, _rollups
from plugins.metering._db import upsert_replace
from plugins.metering._models import CacheEntry, ErrorReport, StoredBodies
from plugins.metering._records import CacheRecord, ErrorRecord, LogRecord

log = logging.getLogger("gateway.metering")
LOGS = RequestLog.__table__
BODIES = StoredBodies.__table__
ERRORS = ErrorReport.__table__
CACHE = CacheEntry.__table__


class Sink:
    def __init__(self, engine: Engine, clock: Callable[[], datetime],
                 reservation_max_age: Callable[[], timedelta]) -> None:
        self.engine = engine
        self.clock = clock
        self.reservation_max_age = reservation_max_age

    def write(self, batch: list[Any]) -> None:
        settlements = [r for r in batch if isinstance(r, _ledger.Settlement)]
        if settlements:
            _ledger.settle(self.engine, settlements, self.clock())
            batch[:] = [r for r in batch if not isinstance(r, _ledger.Settlement)]
        if batch:
            self._write_rows(batch)
            batch.clear()

    def _write_rows(self, batch: list[Any]) -> None:
        logs = [r for r in batch if isinstance(r, LogRecord)]
        rows = [r.row for r in logs]
        bodies = [r.bodies for r in logs if r.bodies is not None]
        errors = [r.row for r in batch if isinstance(r, ErrorRecord)]
        cache = _latest_by_key([r.row for r in batch if isinstance(r, CacheRecord)])
        rollups = _rollups.deltas(rows)
        for row in rows:
            if isinstance(row["created_at"], float):
                row["created_at"] = datetime.fromtimestamp(row["created_at"], timezone.utc)
        with self.engine.begin() as conn:
            if rows:
                conn.execute(insert(LOGS), rows)
                _rollups.apply(conn, rollups)
            upsert_replace(conn, BODIES, bodies, ["request_id"])
            if errors:
                conn.execute(insert(ERRORS), errors)
            upsert_replace(conn, CACHE, cache, ["key"])

    def housekeeping(self) -> None:
        """Every minute or so, in the writer's thread: release reservations of dead processes,
        forget expired cache entries and conversations, prune fine-grained rollups."""
        now = self.clock()
        released = _ledger.sweep(self.engine, now - self.reservation_max_age(), now)
        if released:
            log.warning(
                "metering: released %d reservation(s) older than %s (a gateway process ended "
                "mid-call)", released, self.reservation_max_age())
        with self.engine.begin() as conn:
            conn.execute(delete(CACHE).where(CACHE.c.expires_at < now))
            conn.execute(delete(BODIES).where(BODIES.c.expires_at < now))
            _rollups.prune(conn, now)


def _latest_by_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # One statement may not upsert the same key twice (PostgreSQL refuses it).
    return sorted({r["key"]: r for r in rows}.values(), key=lambda r: r["key"])
