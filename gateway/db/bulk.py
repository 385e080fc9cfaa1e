"""Many-row INSERTs for the background writers (metering's call log, DLP's audit events).

SQLAlchemy's executemany path works through every row in Python (its parameter dict, each
column's bind processor, its bookkeeping): under callgrind about three quarters of a writer
thread's instructions, on the one core the event loop also needs. On SQLite (the default
database) `insert_many` compiles the statement and takes the columns' bind processors once per
table and set of columns, then hands the driver one tuple per row: the values stored are the same
(the same processors run), the work around them is gone. On PostgreSQL SQLAlchemy's own path
stays: it folds the rows into multi-row VALUES (`insertmanyvalues`), which one statement per row
through the driver would lose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

# The statement, a row's values in its order, and (position, bind processor) where one is needed.
_Plan = tuple[str, Callable[[dict[str, Any]], Sequence[Any]], tuple[tuple[int, Callable[[Any], Any]], ...]]
_plans: dict[tuple[Table, tuple[str, ...]], _Plan | None] = {}


def insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) into `table`, as `conn.execute(insert(table),
    rows)` would."""
    if not rows:
        return
    plan = _plan(conn, table, tuple(rows[0])) if conn.dialect.name == "sqlite" else None
    if plan is None:
        conn.execute(insert(table), list(rows))
        return
    sql, values, converters = plan
    if not converters:
        conn.exec_driver_sql(sql, [values(row) for row in rows])
        return
    params = []
    for row in rows:
        vals = list(values(row))
        for i, convert in converters:
            vals[i] = convert(vals[i])
        params.append(tuple(vals))  # SQLAlchemy takes tuples or dicts, not lists
    conn.exec_driver_sql(sql, params)


def _plan(conn: Connection, table: Table, keys: tuple[str, ...]) -> _Plan | None:
    """The statement and the per-column bind processors, or None (SQLAlchemy's path) when a row
    leaves out a column that has a Python-side default, which only that path fills in."""
    cache_key = (table, keys)
    if cache_key not in _plans:
        dialect = conn.dialect
        missing = [c for c in table.columns if c.key not in keys and c.default is not None]
        plan: _Plan | None = None
        if not missing and dialect.positional:
            compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
            order = compiled.positiontup or []
            processors = [table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
                          for key in order]
            plan = (compiled.string, row_values(order),
                    tuple((i, p) for i, p in enumerate(processors) if p is not None))
        _plans[cache_key] = plan
    return _plans[cache_key]


def row_values(keys: Sequence[str]) -> Callable[[dict[str, Any]], Sequence[Any]]:
    """A function giving a row's values for `keys`, in their order (an `itemgetter`, which for
    one key gives the value itself and for none fails: both made to give a sequence)."""
    if len(keys) < 2:
        return lambda row: tuple(row[k] for k in keys)
    return itemgetter(*keys)
