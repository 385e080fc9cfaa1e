"""The metering state of one gateway process, kept in `ctx.extensions["metering"]`: settings, the
caps snapshot, the response cache, the metrics registry and the background writer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import InterfaceError, OperationalError

from gateway.batch_writer import BatchWriter
from gateway.errors import ConfigError
from gateway.host import PluginHost
from plugins.metering._cache import ResponseCache
from plugins.metering._config import MeteringConfig, MeteringSections
from plugins.metering._lease import TICK_SECONDS, Keeper
from plugins.metering._ledger import Hold, Settlement
from plugins.metering._metrics import Metrics
from plugins.metering._records import LogRecord
from plugins.metering._reserver import Reserver
from plugins.metering._sink import Sink
from plugins.metering._snapshot import Snapshot, load_snapshot
from plugins.metering._spool import Spool, Spooled

log = logging.getLogger("gateway.metering")
KEY = "metering"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Metering:
    def __init__(self, ctx: PluginHost, clock: Callable[[], datetime] | None = None) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        # Replaceable (tests move time across period boundaries); every "now" goes through it.
        self.clock = clock or utcnow
        self.config: MeteringConfig = ctx.config.sections_of(MeteringSections).metering
        self.snapshot: Snapshot = load_snapshot(self.engine)
        self.cache = ResponseCache(self.engine)
        spool_dir = ctx.settings.ensure_data_dir() / "spool"
        self.sink = Sink(self.engine, self.now)
        cfg = self.config
        self.writer = BatchWriter(self.sink.write, interval=cfg.flush_interval_ms / 1000,
                                  max_rows=cfg.flush_rows, queue_size=cfg.queue_size,
                                  periodic_every=TICK_SECONDS, transient=transient)
        self.keeper = Keeper(self.engine, self.now, self.sink, spool_dir,
                             self._reservation_max_age, self.writer.depth)
        self.spool = Spool(spool_dir, self.keeper.id)
        self.sink.ack = self.spool.ack
        self.writer.set_periodic(self.keeper.tick)
        self.writer.set_deferred(self.keeper.defer)
        self.metrics = Metrics(queue_depth=self.writer.depth,
                               catalog=lambda: ctx.config.models)
        self.reserver = Reserver(self.engine, self.release, self.now, self.writer.put,
                                 self.spool.ack)

    def now(self) -> datetime:
        return self.clock()

    def _reservation_max_age(self) -> timedelta:
        return timedelta(minutes=self.config.reservation_max_age_minutes)

    def release(self, hold: Hold) -> None:
        """Give back a hold whose call will never settle it."""
        self.reserver.settle(Settlement(hold, Decimal(0)))

    def spooled(self, record: LogRecord | Settlement) -> Spooled:
        """`record` written to the local spool (on the event loop; one write() call)."""
        return self.spool.append(record)

    def start(self) -> None:
        self.keeper.start()  # recover what ended processes left, before the first call
        self.writer.start()
        self.reserver.start()
        self.ctx.on_change(self.reload)

    def reload(self) -> None:
        """In the watcher thread after an admin write or a model_config.yaml change. Each
        snapshot is replaced whole, so a call sees either the old or the new one."""
        try:
            self.config = self.ctx.config.sections_of(MeteringSections).metering
        except ConfigError as exc:
            log.error("metering: keeping the previous settings: %s", exc)
        self.snapshot = load_snapshot(self.engine)

    def flush(self, timeout: float = 10.0) -> bool:
        return self.reserver.drain(timeout) and self.writer.flush(timeout)

    def stop(self) -> None:
        self.reserver.stop()
        self.writer.stop()
        self.spool.close()
        self.keeper.end()


def transient(exc: Exception) -> bool:
    """Worth retrying: the database is unreachable, restarting or locked. Anything else (a bad
    row) would fail again the same way."""
    return isinstance(exc, (OperationalError, InterfaceError, ConnectionError, TimeoutError)) or \
        bool(getattr(exc, "connection_invalidated", False))


def state_of(ctx: PluginHost | None) -> Metering | None:
    state: Metering | None = ctx.extensions.get(KEY) if ctx is not None else None
    return state
