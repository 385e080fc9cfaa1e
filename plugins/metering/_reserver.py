"""Reservations off the event loop, grouped: calls that arrive while the ledger is busy are
decided together in one transaction (`_ledger.reserve_many`: one lock, one commit), so capped
calls cost one database round trip per batch instead of one per call, and the event loop never
waits on the database. A lone call is decided at once (the thread wakes on each submission).

A call whose client left before its reservation was decided gets its hold released right away.
If the ledger cannot be reached, capped calls are refused with a 503 rather than let through
unmetered.

Settlements (a finished call's cost, a failed call's release) go through the same queue, in
order: a client whose call just failed gets its money back before its next call is decided, so it
never meets a false 402 "held by calls in flight". A settlement the database refuses for now goes
to `fallback` (the log writer, which keeps retrying).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Engine

from gateway.errors import GatewayError, PaymentRequired
from plugins.metering._ledger import Ask, Hold, Settlement, reserve_many, settle
from plugins.metering._records import LogRecord
from plugins.metering._spool import Spooled

log = logging.getLogger("gateway.metering")
MAX_BATCH = 200

# The queue holds asks (with the future their caller awaits, on its loop) and settlements.
_Waiting = tuple[Ask, asyncio.Future[Hold], asyncio.AbstractEventLoop]
_Booking = tuple[Settlement | Spooled, None, None]
_Entry = _Waiting | _Booking
_Outcome = tuple[asyncio.Future[Hold], Hold | GatewayError]  # a decided ask


class LedgerUnavailable(GatewayError):
    status = 503
    error_type = "ledger_unavailable"


class Reserver:
    def __init__(self, engine: Engine, release: Callable[[Hold], None],
                 clock: Callable[[], datetime],
                 fallback: Callable[[Settlement | Spooled], object],
                 ack: Callable[[list[int]], None] = lambda seqs: None) -> None:
        self.engine = engine
        self._release = release  # gives back a hold nobody waits for any more
        self._clock = clock
        self._fallback = fallback
        self._ack = ack
        self._pending: collections.deque[_Entry] = collections.deque()
        self._wake = threading.Event()
        self._busy = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metering-reserver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def submit(self, ask: Ask) -> asyncio.Future[Hold]:
        """On the event loop: a future that resolves to the Hold or raises the refusal."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Hold] = loop.create_future()
        if self._stop.is_set():
            future.set_exception(LedgerUnavailable("the gateway is shutting down"))
            return future
        self._pending.append((ask, future, loop))
        self._wake.set()
        return future

    def settle(self, settlement: Settlement | Spooled) -> None:
        """From any thread: book a finished call, ahead of every ask submitted after it."""
        if self._stop.is_set() or not self._thread.is_alive():
            self._fallback(settlement)
            return
        self._pending.append((settlement, None, None))
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set() or self._pending:
            self._wake.wait(0.5)
            self._wake.clear()
            while self._pending:
                self._busy = True
                batch = [self._pending.popleft()
                         for _ in range(min(MAX_BATCH, len(self._pending)))]
                for run in _runs(batch):  # each run holds entries of one kind
                    if _is_settlement(run[0][0]):
                        self._settle([cast(_Booking, entry)[0] for entry in run])
                    else:
                        self._decide(cast(list[_Waiting], run))
            self._busy = False

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far was decided or settled (tests, commands)."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while self._pending or self._busy:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _settle(self, items: list[Settlement | Spooled]) -> None:
        try:
            settle(self.engine, [_settlement(i) for i in items], self._clock())
        except Exception as exc:  # the database is away: the writer (and the spool) keep it
            log.warning("metering: settling %d call(s) failed, queued for retry: %s",
                        len(items), exc)
            for item in items:
                self._fallback(item)
            return
        self._ack([i.seq for i in items if isinstance(i, Spooled)])

    def _decide(self, batch: list[_Waiting]) -> None:
        results: Sequence[Hold | GatewayError]
        try:
            results = reserve_many(self.engine, [ask for ask, _, _ in batch])
        except Exception as exc:  # the database is away: refuse, never admit unmetered
            log.error("metering: reserving %d call(s) failed: %s", len(batch), exc)
            results = [LedgerUnavailable("the spend ledger is unavailable, so calls under a cap "
                                         "cannot be admitted right now; try again shortly")
                       for _ in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for (_, future, loop), result in zip(batch, results):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._deliver, pairs)
            except RuntimeError:  # that loop is closed: nobody waits, give the money back
                self._deliver(pairs, loop_gone=True)

    def _deliver(self, pairs: list[_Outcome], loop_gone: bool = False) -> None:
        for future, result in pairs:
            if loop_gone or future.cancelled():
                if isinstance(result, Hold):
                    self._release(result)
            elif isinstance(result, (PaymentRequired, GatewayError)):
                future.set_exception(result)
            else:
                future.set_result(result)


def _is_settlement(item: Ask | Settlement | Spooled) -> bool:
    return isinstance(_unwrap(item), Settlement)


def _unwrap(item: Ask | Settlement | Spooled) -> Ask | Settlement | LogRecord:
    return item.record if isinstance(item, Spooled) else item


def _settlement(item: Settlement | Spooled) -> Settlement:
    record = _unwrap(item)
    if not isinstance(record, Settlement):
        raise TypeError(f"the reserver books settlements, not {type(record).__name__}")
    return record


def _runs(batch: list[_Entry]) -> list[list[_Entry]]:
    """Consecutive settlements and consecutive asks, in order."""
    return [list(group) for _, group in
            itertools.groupby(batch, key=lambda entry: _is_settlement(entry[0]))]
