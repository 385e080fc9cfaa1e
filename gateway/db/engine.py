"""Engines, sessions and the change counter.

`make_engine` is the only place that knows backend quirks: SQLite gets WAL, a 30 s busy timeout
and enforced foreign keys on every connection; `postgresql://` URLs are driven by psycopg 3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.engine import URL, CursorResult, make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.models import Revision, Setting

_SQLITE_PRAGMAS = (
    # busy_timeout first: switching to WAL needs a lock another process may hold.
    "PRAGMA busy_timeout=30000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)


def normalize_url(url: str | URL) -> URL:
    """Parse `url`; plain `postgresql://` (or `postgres://`) becomes `postgresql+psycopg://`."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _private_file(path)
    connect_args = {"timeout": 30, "check_same_thread": False, **kwargs.pop("connect_args", {})}
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def _private_file(path: Path) -> None:
    """The database holds key hashes, spend and (encrypted) provider credentials: readable by its
    owner only, like the master key file (SQLite gives its -wal and -shm files the same mode)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except PermissionError:  # someone else's file, opened read-only for a report: leave it
        pass


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Rows stay readable after commit: the CLI and the admin render them after committing.
    return sessionmaker(bind=engine, expire_on_commit=False)


def bump_revision(session: Session) -> None:
    """Count one change, inside the caller's transaction; processes polling the counter reload
    their caches once the caller commits."""
    # Session.execute is typed as returning a plain Result; for an UPDATE it is a CursorResult.
    result = cast(CursorResult[Any], session.execute(
        update(Revision).where(Revision.id == 1).values(value=Revision.value + 1)
    ))
    if result.rowcount == 0:  # a database built without the migration's seed row
        session.add(Revision(id=1, value=1))
        session.flush()


def put_setting(session: Session, key: str, value: Any) -> Setting:
    """Insert or update one row of the core `settings` table (the caller flushes and commits)."""
    row = session.get(Setting, key)
    if row is None:
        row = Setting(key=key, value=value)
        session.add(row)
    else:
        row.value = value
    return row


def read_revision(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(select(Revision.value).where(Revision.id == 1)).scalar()
    return int(value or 0)
