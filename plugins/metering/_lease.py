"""The process lease, and the recovery and housekeeping that hang on it (in the writer thread).

Every proxy process holds a lease row and renews it every few seconds. Its reservations carry the
lease id. A lease is dead when its process is gone from this host (the pid no longer runs) or its
heartbeat is older than `LEASE_TTL` (another host, or a hung process). At start and on every tick,
a process:
1. replays the spool files in its data dir whose lease is not live (a `kill -9`, a crash), so their
   finished calls are logged and booked — before anything is released;
2. releases the holds of dead leases (in seconds, not hours) and of any reservation older than a
   call can last, and forgets the dead leases;
3. replays its own spool when records were kept there while the database was away.
Every minute it also drops expired cache entries and conversations, prunes rollups and purges
tombstones of reservations nobody settled for a week.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select, update

from plugins.metering import _ledger, _rollups
from plugins.metering._models import CacheEntry, Lease, StoredBodies
from plugins.metering._sink import Item, Sink
from plugins.metering._spool import pending

log = logging.getLogger("gateway.metering")
LEASES = Lease.__table__
LEASE_TTL = timedelta(seconds=30)
TICK_SECONDS = 5.0
_PURGE_EVERY = 60.0
_TOMBSTONE_AGE = timedelta(days=7)
HOST = socket.gethostname()[:255]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Keeper:
    def __init__(self, engine: Engine, clock: Callable[[], datetime], sink: Sink,
                 spool_dir: Path, max_age: Callable[[], timedelta],
                 queue_depth: Callable[[], int]) -> None:
        self.id = uuid.uuid4().hex
        self.engine, self.clock, self.sink = engine, clock, sink
        self.spool_dir, self.max_age, self.queue_depth = spool_dir, max_age, queue_depth
        self.registered = False
        self.backlog = threading.Event()  # records wait in our own spool for the database
        self._next_purge = time.monotonic() + _PURGE_EVERY

    # -- the lease ----------------------------------------------------------------------------

    def start(self) -> None:
        """Before the first call: register, then recover what dead processes left."""
        try:
            self.tick()
        except Exception as exc:  # the database is away: the writer's ticks keep trying
            log.error("metering: could not register this process or recover others' spend "
                      "yet (will retry every %.0fs): %s", TICK_SECONDS, exc)

    def end(self) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(LEASES).where(LEASES.c.id == self.id))
        except Exception as exc:  # our lease will simply expire
            log.warning("metering: could not end this process's lease: %s", exc)

    def _heartbeat(self) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            renewed = conn.execute(update(LEASES).where(LEASES.c.id == self.id)
                                   .values(heartbeat_at=now)).rowcount
            if not renewed:  # first tick, or someone took us for dead: (re)register
                conn.execute(insert(LEASES), [{"id": self.id, "host": HOST, "pid": os.getpid(),
                                               "started_at": now, "heartbeat_at": now}])
        self.registered = True

    # -- every tick ---------------------------------------------------------------------------

    def tick(self) -> None:
        self._heartbeat()
        self.recover()
        if self.backlog.is_set() and self.queue_depth() == 0:
            self._replay_own()
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + _PURGE_EVERY
            self._purge()

    def recover(self) -> None:
        now = self.clock()
        with self.engine.connect() as conn:
            leases = conn.execute(select(LEASES)).all()
        dead = tuple(lease.id for lease in leases if lease.id != self.id and self._dead(lease, now))
        live = {lease.id for lease in leases} - set(dead)
        for path in sorted(self.spool_dir.glob("*.jsonl")):
            if path.stem != self.id and path.stem not in live:
                self._replay_file(path)
        released = _ledger.sweep(self.engine, now - self.max_age(), now, dead)
        if released:
            log.warning("metering: released %d hold(s) of %d ended gateway process(es)",
                        released, len(dead))
        if dead:
            with self.engine.begin() as conn:
                conn.execute(delete(LEASES).where(LEASES.c.id.in_(dead)))

    def _dead(self, lease: Row[Any], now: datetime) -> bool:
        if lease.heartbeat_at < now - LEASE_TTL:
            return True
        return lease.host == HOST and (lease.pid == os.getpid() or not pid_alive(lease.pid))

    def _replay_file(self, path: Path) -> None:
        items = pending(path)
        written = self.sink.replay(items) if items else 0
        path.unlink(missing_ok=True)
        if items:
            log.warning("metering: replayed %d record(s) left by an ended process (%s): %d "
                        "call log row(s) were missing", len(items), path.name, written)

    def _replay_own(self) -> None:
        path = self.spool_dir / f"{self.id}.jsonl"
        items = pending(path)
        written = self.sink.replay(items)
        self.sink.ack([item.seq for item in items])
        self.backlog.clear()
        log.warning("metering: the database is back: %d record(s) written from the spool "
                    "(%d call log row(s))", len(items), written)

    def defer(self, records: list[Item]) -> None:
        """The writer could not write these; they are in our spool, replayed on a later tick."""
        self.backlog.set()

    def _purge(self) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(delete(CacheEntry.__table__).where(CacheEntry.__table__.c.expires_at < now))
            conn.execute(delete(StoredBodies.__table__)
                         .where(StoredBodies.__table__.c.expires_at < now))
            _rollups.prune(conn, now)
        _ledger.purge_tombstones(self.engine, now - _TOMBSTONE_AGE)
