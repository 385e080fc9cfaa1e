"""The two backend differences the metering plugin cares about, in one place: how to take the
write lock for a read-modify-write transaction, and the dialect's INSERT … ON CONFLICT."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PgInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert


def begin_write(conn: Connection, wait: float | None = None) -> None:
    """Start a transaction that owns the right to write.

    SQLite: `BEGIN IMMEDIATE` takes the database's write lock now, so a read-check-update
    sequence cannot interleave with another process's (pysqlite would otherwise begin a deferred
    transaction that only locks at the first write). PostgreSQL: an ordinary transaction; callers
    lock the rows they read with `SELECT … FOR UPDATE`."""
    if conn.dialect.name == "sqlite":
        if wait is not None:  # this connection's own bound (the engine default is 30 s)
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(wait * 1000)}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.begin()
        if wait is not None:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(wait * 1000)}ms'")


def _insert(conn: Connection, table: Table) -> PgInsert | SqliteInsert:
    return _insert_for(conn.dialect.name, table)


def _insert_for(dialect: str, table: Table) -> PgInsert | SqliteInsert:
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql
        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite
    return sqlite.insert(table)


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any],
                  keys: Iterable[str]) -> None:
    stmt = _insert(conn, table).values(**values).on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt)


def upsert_add(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str],
               add: list[str]) -> None:
    """Insert rows, or add their `add` columns onto the existing row with the same `keys`."""
    if rows:
        conn.execute(_upsert_add_stmt(conn.dialect.name, table, tuple(keys), tuple(add)), rows)


@functools.lru_cache(maxsize=32)
def _upsert_add_stmt(dialect: str, table: Table, keys: tuple[str, ...],
                     add: tuple[str, ...]) -> PgInsert | SqliteInsert:
    # Built once: constructing the SET clause costs more than executing a small batch.
    stmt = _insert_for(dialect, table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in add})


def upsert_replace(conn: Connection, table: Table, rows: list[dict[str, Any]],
                   keys: list[str]) -> None:
    """Insert rows, or overwrite every non-key column of the existing row."""
    if not rows:
        return
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c: stmt.excluded[c] for c in rows[0] if c not in keys})
    conn.execute(stmt, rows)
