"""Audit events written off the event loop: calls queue rows (a `deque.append`, no thread woken
per row), one background thread inserts what accumulated in batches (`gateway.batch_writer`).
The queue is bounded; when the database is away long enough to fill it, further rows are dropped
and counted rather than blocking a call. A failed write is retried for about ten seconds, then
given up and counted; the log names the exception's type only (a driver's message would quote
the statement's parameters)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from gateway.batch_writer import BatchWriter
from gateway.db.bulk import insert_many
from plugins.dlp._models import DlpEvent

log = logging.getLogger("gateway.dlp")
EVENTS = DlpEvent.__table__
BATCH = 500
INTERVAL = 0.25  # seconds: at most this much of the audit trail waits in memory


class EventWriter:
    def __init__(self, sessions: Callable[[], Session], max_queue: int = 50_000) -> None:
        self._sessions = sessions
        self._writer = BatchWriter[dict[str, Any]](
            self._write, interval=INTERVAL, max_rows=BATCH, queue_size=max_queue,
            name="dlp-events", log=log, label="dlp audit events",
            describe=lambda exc: type(exc).__name__)
        self.written = 0
        self.running = False

    @property
    def dropped(self) -> int:
        """Rows that never reached the database: queue full, or given up after retries."""
        return self._writer.dropped + max(0, self._writer.finished - self.written)

    def start(self) -> None:
        self._writer.start()
        self.running = True

    def put(self, rows: list[dict[str, Any]]) -> None:
        """Never blocks: a full queue drops the row (and says so in the log, without values)."""
        for row in rows:
            self._writer.put(row)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row was written (or given up on). For shutdown and tests."""
        return self._writer.flush(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self.running:
            self._writer.stop(timeout)
            self.running = False

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self._sessions() as session:
            # Not the ORM's bulk insert: no per-row bookkeeping on a thread that holds the event
            # loop's GIL while it runs Python.
            insert_many(session.connection(), EVENTS, rows)
            session.commit()
        self.written += len(rows)
