"""Audit events written off the event loop: calls queue rows, one background thread inserts them
in batches. The queue is bounded; when the database is away long enough to fill it, further rows
are dropped and counted rather than blocking a call."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from plugins.dlp._models import DlpEvent

log = logging.getLogger("gateway.dlp")
_STOP: dict[str, Any] = {}  # the end-of-work marker, compared by identity
BATCH = 500


class EventWriter:
    def __init__(self, sessions: Callable[[], Session], max_queue: int = 50_000) -> None:
        self._sessions = sessions
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dlp-events", daemon=True)
        self._thread.start()

    def put(self, rows: list[dict[str, Any]]) -> None:
        """Never blocks: a full queue drops the row (and says so in the log, without values)."""
        for row in rows:
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                self.dropped += 1
                if self.dropped % 1000 == 1:
                    log.warning("dlp: audit queue full, %d event(s) dropped so far", self.dropped)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row was written (or given up on). For shutdown and tests."""
        end = time.monotonic() + timeout
        done = self._queue.all_tasks_done
        with done:
            while self._queue.unfinished_tasks:
                left = end - time.monotonic()
                if left <= 0 or not done.wait(left):
                    return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("dlp: audit queue still full at shutdown; %d event(s) lost",
                        self._queue.qsize())
            return
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [r for r in batch if r is not _STOP]
            try:
                if rows:
                    self._write(rows)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if len(rows) != len(batch):
                return

    def _write(self, rows: list[dict[str, Any]]) -> None:
        for attempt in (1, 2):
            try:
                with self._sessions() as session:
                    session.execute(insert(DlpEvent), rows)
                    session.commit()
                self.written += len(rows)
                return
            except Exception as exc:  # database away: retry once, then drop (never crash the thread)
                # The type only: a driver's message would quote the statement's parameters.
                log.warning("dlp: writing %d audit event(s) failed (attempt %d): %s",
                            len(rows), attempt, type(exc).__name__)
                time.sleep(0.5)
        self.dropped += len(rows)
