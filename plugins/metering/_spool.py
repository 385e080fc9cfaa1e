"""The durable spend spool: every call's log row and settlement reach a local append-only file
before they are queued for the database, so a database outage of any length, or a `kill -9`,
loses none of them.

One file per process (`<data dir>/spool/<lease id>.jsonl`, mode 0600): a line per record
written with one `write()` on the event loop — once it returns the bytes are the kernel's, so
killing the process loses nothing — and a line per committed batch (`{"a": [seq, …]}`). A log
row is written as its values (`{"s": seq, "l": [...], "b": bodies}`) under the column names of
the file's last `{"c": [...]}` line, written with it whenever they change (half the bytes and
half the encoding time of the row as an object); a settlement as `{"s": seq, "r": {...}}`, as
were log rows before (files written so are still replayed). A background thread fsyncs
(fdatasync) every half second while there is something new: a crash of the process loses nothing,
a power loss at most that half second. When every record is acknowledged the file is emptied.

Replay (`pending`) reads a file, skips a torn last line, and returns what was never acknowledged;
writing it again is idempotent (log rows by request id, settlements by reservation), so a record
replayed twice is booked once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.db.bulk import row_values
from gateway.jsontext import compact_ascii
from plugins.metering._ledger import Hold, Settlement
from plugins.metering._records import LogRecord

log = logging.getLogger("gateway.metering")
FSYNC_EVERY = 0.5
TRUNCATE_ABOVE = 1024 * 1024  # bytes: an emptied spool is cut back once it is this large


def encode(record: Settlement) -> str:
    """A settlement as one JSON object. Decimals become strings (`default=str`)."""
    hold = record.hold
    return compact_ascii({"k": "settle", "key": hold.reservation_id, "ledger": hold.ledger_ids,
                          "amount": hold.amount, "cost": record.cost})


def decode(data: dict[str, Any]) -> LogRecord | Settlement:
    if data["k"] == "settle":
        hold = Hold(data["key"], tuple(data["ledger"]), Decimal(data["amount"]))
        return Settlement(hold, Decimal(data["cost"]))
    row = {**data["row"], "cost_usd": Decimal(data["row"]["cost_usd"])}
    if isinstance(row["created_at"], str):
        row["created_at"] = datetime.fromisoformat(row["created_at"])
    bodies = data.get("bodies")
    if bodies is not None:
        bodies = {**bodies, "created_at": datetime.fromisoformat(bodies["created_at"]),
                  "expires_at": datetime.fromisoformat(bodies["expires_at"])}
    return LogRecord(row, bodies)


@dataclass(frozen=True)
class Spooled:
    """A record and its place in the spool."""

    seq: int
    record: LogRecord | Settlement


class Spool:
    def __init__(self, directory: Path, name: str) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = directory / f"{name}.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._lock = threading.Lock()
        self._seq = 0
        self._outstanding: set[int] = set()
        # The log rows' column names this file's lines are under, and their getter.
        self._columns: tuple[str, ...] | None = None
        self._values: Callable[[dict[str, Any]], Sequence[Any]] = tuple
        self._size = os.fstat(self._fd).st_size
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._syncer = threading.Thread(target=self._sync_loop, name="metering-spool",
                                        daemon=True)
        self._syncer.start()

    def append(self, record: LogRecord | Settlement) -> Spooled:
        with self._lock:
            self._seq += 1
            self._write(self._line(self._seq, record))
            self._outstanding.add(self._seq)
            return Spooled(self._seq, record)

    def _line(self, seq: int, record: LogRecord | Settlement) -> str:
        """The record's line (under the lock: the column names line goes with the first row
        under them, in the same write). Decimals and datetimes become strings (`default=str`):
        no copy of the row is made on the event loop."""
        if isinstance(record, Settlement):
            return f'{{"s":{seq},"r":{encode(record)}}}'
        head, columns = "", tuple(record.row)
        if columns != self._columns:
            self._columns, self._values = columns, row_values(columns)
            head = compact_ascii({"c": columns}) + "\n"
        return (f'{head}{{"s":{seq},"l":{compact_ascii(self._values(record.row))},'
                f'"b":{compact_ascii(record.bodies)}}}')

    def ack(self, seqs: list[int]) -> None:
        """The database committed these records."""
        seqs = [s for s in seqs if s]
        if not seqs:
            return
        with self._lock:
            self._outstanding.difference_update(seqs)
            if not self._outstanding and self._size > TRUNCATE_ABOVE:
                os.ftruncate(self._fd, 0)
                self._size = 0
                self._columns = None  # the next row names its columns again
            else:
                self._write(compact_ascii({"a": seqs}))

    def outstanding(self) -> int:
        return len(self._outstanding)

    def close(self) -> None:
        self._closed.set()
        self._dirty.set()
        self._syncer.join(5)
        with self._lock:
            os.fsync(self._fd)
            empty = not self._outstanding
            os.close(self._fd)
        if empty:  # everything reached the database: nothing to replay after us
            self.path.unlink(missing_ok=True)

    def _write(self, line: str) -> None:
        data = (line + "\n").encode()
        os.write(self._fd, data)
        self._size += len(data)
        if not self._dirty.is_set():  # set() takes a lock and notifies, on every call
            self._dirty.set()  # (set already: the syncer has not cleared it, so its next
            #                     fdatasync comes after this write)

    def _sync_loop(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait()
            self._dirty.clear()
            try:
                os.fdatasync(self._fd)
            except OSError:
                return  # closed under us at shutdown
            self._closed.wait(FSYNC_EVERY)


def pending(path: Path) -> list[Spooled]:
    """The records of a spool file that were never acknowledged, in order."""
    records: dict[int, dict[str, Any]] = {}
    acked: set[int] = set()
    columns: list[str] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line torn by a crash mid-write: its call had not finished
        if "a" in entry:
            acked.update(entry["a"])
        elif "c" in entry:
            columns = entry["c"]
        elif "l" in entry:
            records[entry["s"]] = {"k": "log", "row": dict(zip(columns, entry["l"], strict=True)),
                                   "bodies": entry.get("b")}
        elif "s" in entry:
            records[entry["s"]] = entry["r"]
    return [Spooled(seq, decode(data)) for seq, data in sorted(records.items())
            if seq not in acked]
