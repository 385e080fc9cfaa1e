"""User activity exports as background jobs, so a large history never holds a request open and
the admin sees progress.

A job counts the user's calls first (an index range), then a thread writes the metering plugin's
CSV to a private file (mode 0600) in the export directory while counting finished records. The
file is for the admin who started the job; it is deleted an hour after it was finished.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.db.models import RequestLog

log = logging.getLogger("admin_web.exports")
KEEP_SECONDS = 3600


@dataclass
class Job:
    id: str
    user_id: int
    user_email: str
    owner_id: int  # the admin who started it: the only one who may download it
    total: int
    path: Path
    done: int = 0
    status: str = "running"  # running | done | failed
    error: str | None = None
    finished_at: float | None = None

    @property
    def progress(self) -> float:
        if self.status == "done":
            return 1.0
        return min(0.99, self.done / self.total) if self.total else 0.0

    @property
    def filename(self) -> str:
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in self.user_email)
        return f"activity-{safe}.csv"

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "done": self.done, "total": self.total,
                "progress": round(self.progress, 4), "error": self.error}


class RecordCounter:
    """A text stream that counts complete CSV records as they are written: a newline outside a
    quoted field ends one (doubled quotes inside a field toggle twice, so they cancel out)."""

    def __init__(self, out: IO[str], on_record: Callable[[int], None]) -> None:
        self.out, self.on_record = out, on_record
        self.records, self._quoted = 0, False

    def write(self, text: str) -> int:
        parts = text.split('"')
        for i, part in enumerate(parts):
            if not self._quoted:
                self.records += part.count("\n")
            if i < len(parts) - 1:
                self._quoted = not self._quoted
        self.on_record(self.records)
        return self.out.write(text)


class Jobs:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start(self, engine: Engine, writer: Callable[[Session, int, IO[str]], int], user_id: int,
              user_email: str, owner_id: int) -> Job:
        self._forget_old()
        with Session(engine) as session:
            total = session.scalar(select(func.count()).select_from(RequestLog)
                                   .where(RequestLog.user_id == user_id)) or 0
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        job_id = secrets.token_urlsafe(16)
        job = Job(job_id, user_id, user_email, owner_id, total, self.directory / f"{job_id}.csv")
        with self._lock:
            self._jobs[job_id] = job
        threading.Thread(target=self._run, args=(job, engine, writer), daemon=True,
                         name=f"export-{user_id}").start()
        return job

    def _run(self, job: Job, engine: Engine, writer: Callable) -> None:
        def progress(records: int) -> None:
            job.done = max(0, records - 1)  # the header line is not a call

        try:
            fd = os.open(job.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh, Session(engine) as session:
                job.done = writer(session, job.user_id, RecordCounter(fh, progress))
            job.status = "done"
        except Exception as exc:  # a failed export must say so on the page, not vanish
            log.exception("export of user %s failed", job.user_id)
            job.status, job.error = "failed", type(exc).__name__
        job.finished_at = time.monotonic()

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - KEEP_SECONDS
        with self._lock:
            old = [j for j in self._jobs.values() if j.finished_at and j.finished_at < cutoff]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            job.path.unlink(missing_ok=True)
