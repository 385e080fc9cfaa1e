"""Bring a database to the newest schema: `upgrade(url)`.

Safe to call from several processes at once on a fresh database (every `llm-gateway` command and
every worker calls it at start): PostgreSQL serialises on a session advisory lock, SQLite on an
exclusive `flock` of `<database>.migrate-lock` beside the file, and the threads of one process
on a lock of their own (alembic keeps global state). The loser of the race waits, then finds the
schema at its heads and does nothing. No alembic.ini is needed: the config is built here.

The scripts form one core line (0001, …) and one branch per built-in plugin (branch label = plugin
name, based on a core revision); `upgrade` goes to all heads. For developers:
`python -m gateway.db.migrate revision -m "add things" --head routing@head` (or a core revision id)
autogenerates a new script against GATEWAY_DATABASE_URL (review it before committing).
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from gateway.db.engine import make_engine, normalize_url, sqlite_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's own locking is all we have
    fcntl = None  # type: ignore[assignment]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works as long as every gateway process uses the same one ("llmgw" in ASCII).
ADVISORY_LOCK_KEY = 0x6C6C6D6777
# Alembic's `context` and `op` are module-level proxies: two threads migrating at once corrupt
# each other (seen as hangs and crashes), whatever the database locks say.
_THREAD_LOCK = threading.Lock()


def alembic_config(url: str | URL) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["url"] = normalize_url(url).render_as_string(hide_password=False)
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    parsed = normalize_url(url)
    cfg = alembic_config(parsed)
    engine = make_engine(parsed, poolclass=NullPool)
    try:
        with _THREAD_LOCK, _file_lock(sqlite_path(parsed)), _quiet_alembic():
            with engine.connect() as conn, _advisory_lock(conn):
                _disable_sqlite_foreign_keys(conn)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
    finally:
        engine.dispose()


def current_heads(url: str) -> tuple[str, ...]:
    """The revisions the database is at (one per branch); empty when it was never migrated."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    finally:
        engine.dispose()


def script_heads() -> tuple[str, ...]:
    """The newest revision of every branch among the scripts."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


@contextmanager
def _file_lock(db_path: Path | None) -> Iterator[None]:
    if db_path is None or fcntl is None:
        yield
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db_path.with_name(db_path.name + ".migrate-lock")
    # flock, not lockf: a flock belongs to the open file, so even threads exclude each other.
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(conn: Connection) -> Iterator[None]:
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    conn.commit()  # the lock belongs to the session and outlives this transaction
    try:
        yield
    finally:
        conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        conn.commit()


def _disable_sqlite_foreign_keys(conn: Connection) -> None:
    # Batch mode drops and re-creates tables; enforced foreign keys would cascade or refuse that
    # (alembic batch.rst). The engine uses NullPool, so the setting dies with this connection.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Keep alembic's INFO chatter off the console unless someone configured its logger."""
    logger = logging.getLogger("alembic")
    if logger.level != logging.NOTSET:
        yield
        return
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


def _main(argv: list[str] | None = None) -> None:  # pragma: no cover - developer tool
    from gateway.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m gateway.db.migrate")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("upgrade")
    rev = sub.add_parser("revision", help="autogenerate a new migration script")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--rev-id")
    rev.add_argument("--head", default="head",
                     help="what to extend: a branch (routing@head) or a revision id")
    args = parser.parse_args(argv)
    url = Settings.from_env().database_url
    upgrade(url)
    if args.action == "revision":
        command.revision(alembic_config(url), message=args.message, autogenerate=True,
                         rev_id=args.rev_id, head=args.head)


if __name__ == "__main__":  # pragma: no cover
    _main()
