"""A background writer for plugins (metering's call log, DLP's audit events): the event loop only
appends to a bounded in-memory queue; one thread writes what accumulated every ~100 ms (or as soon
as N records wait) in one batch.

Appending is a `deque.append` (atomic under the GIL, no lock, no thread woken per record): waking
the writer for every call measurably slowed the event loop. The writer sleeps for the interval and
takes everything that arrived meanwhile.

When the database is briefly away the batch is retried with growing pauses for about ten seconds
(meanwhile new records wait in the queue, up to its bound); after that the batch is handed to
`deferred` (metering's spool holds every spend record, and replays them once the database is
back) or, for records nobody keeps elsewhere, given up with one clear error naming how many were
lost. A full queue does the same with the newest record and says so (at most once every ten
seconds), never blocking a call.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0)  # ≈ 11 s in all
_COMPLAIN_EVERY = 10.0
R = TypeVar("R")  # a record


class BatchWriter(Generic[R]):
    def __init__(self, write: Callable[[list[R]], None], *, interval: float = 0.1,
                 max_rows: int = 500, queue_size: int = 20000,
                 periodic: Callable[[], None] | None = None, periodic_every: float = 60.0,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS, name: str = "metering-writer",
                 log: logging.Logger | None = None, label: str = "metering",
                 describe: Callable[[Exception], str] = str,
                 transient: Callable[[Exception], bool] = lambda exc: True,
                 deferred: Callable[[list[R]], None] | None = None) -> None:
        self._write = write
        # Where problems are reported, as whom, and how much of an exception's text a line may
        # quote (a driver's message can quote the statement's parameters).
        self._log = log or logging.getLogger(f"gateway.{label}")
        self._label, self._describe = label, describe
        self._transient = transient
        self._deferred = deferred
        self.interval, self.max_rows, self.queue_size = interval, max_rows, queue_size
        self._items: collections.deque[R] = collections.deque()
        self._periodic, self._periodic_every = periodic, periodic_every
        self._next_periodic = time.monotonic() + periodic_every
        self._delays = retry_delays
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._done = threading.Condition()
        self.submitted = self.finished = self.dropped = 0
        self._last_complaint = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set_periodic(self, periodic: Callable[[], None]) -> None:
        self._periodic = periodic

    def set_deferred(self, deferred: Callable[[list[R]], None]) -> None:
        self._deferred = deferred

    def put(self, record: R) -> bool:
        """Queue `record` without blocking; False (and a log line) when the queue is full."""
        waiting = len(self._items)
        if waiting >= self.queue_size:
            self._full()
            if self._deferred is not None:
                self._deferred([record])
            return False
        self._items.append(record)
        self.submitted += 1
        if waiting + 1 == self.max_rows:
            self._wake.set()  # a full batch waits: no need to sleep out the interval
        return True

    def _full(self) -> None:
        self.dropped += 1
        now = time.monotonic()
        if now - self._last_complaint > _COMPLAIN_EVERY:
            self._last_complaint = now
            kept = " (they stay in the spool)" if self._deferred else ""
            self._log.error("%s: the write queue is full (%d records); %d left memory so far%s "
                            "— is the database reachable?", self._label, self.queue_size,
                            self.dropped, kept)

    def depth(self) -> int:
        return len(self._items)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far was written (or given up). For tests and
        commands; calls never wait on the writer."""
        deadline = time.monotonic() + timeout
        target = self.submitted
        self._wake.set()
        with self._done:
            while self.finished < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(min(left, 0.05))
                self._wake.set()
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is queued, then end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            if len(self._items) < self.max_rows and not self._stop.is_set():
                self._wake.wait(self.interval)
            self._wake.clear()
            batch = self._take()
            if batch:
                self._write_with_retry(batch)
            elif self._stop.is_set():
                return
            self._maybe_periodic()

    def _take(self) -> list[R]:
        batch: list[R] = []
        items = self._items
        while items and len(batch) < self.max_rows:
            batch.append(items.popleft())
        return batch

    def _write_with_retry(self, batch: list[R]) -> None:
        """`write` may take what it committed out of `batch`, so a retry redoes only the rest."""
        started = time.monotonic()
        count, attempts = len(batch), 0
        try:
            for delay in (*self._delays, None):
                attempts += 1
                try:
                    self._write(batch)
                    return
                except Exception as exc:  # the database is away, or a bug: retry, then say so
                    if not self._transient(exc) and len(batch) > 1:
                        self._one_by_one(batch, exc)
                        return
                    if delay is None and self._deferred is not None and self._transient(exc):
                        self._log.error("%s: the database is still away after %.1fs; %d "
                                        "record(s) wait in the spool: %s", self._label,
                                        time.monotonic() - started, len(batch), self._describe(exc))
                        self._deferred(batch)
                        return
                    if delay is None or not self._transient(exc):
                        self._log.error("%s: gave up writing %d records after %d attempts over "
                                        "%.1fs; they are lost: %s", self._label, len(batch),
                                        attempts, time.monotonic() - started, self._describe(exc))
                        return
                    if attempts == 1:
                        self._log.warning("%s: writing %d records failed, retrying: %s",
                                          self._label, len(batch), self._describe(exc))
                    time.sleep(delay)
        finally:
            with self._done:
                self.finished += count
                self._done.notify_all()

    def _one_by_one(self, batch: list[R], exc: Exception) -> None:
        """A record the database refuses must not take the rest of its batch down with it."""
        lost = 0
        for record in list(batch):
            try:
                self._write([record])
            except Exception:  # this record is the bad one (or one of them)
                lost += 1
        self._log.error("%s: %d of %d records were refused by the database and are lost: %s",
                        self._label, lost, len(batch), self._describe(exc))

    def _maybe_periodic(self) -> None:
        if self._periodic is None or time.monotonic() < self._next_periodic:
            return
        self._next_periodic = time.monotonic() + self._periodic_every
        try:
            self._periodic()
        except Exception as exc:  # housekeeping waits for the next round
            self._log.warning("%s: housekeeping failed, will retry: %s", self._label,
                              self._describe(exc))
