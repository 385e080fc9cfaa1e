"""Reserve → settle against the spend ledger, atomically across processes.

`reserve_many` runs in the reserver thread before the provider is contacted, for every call that
arrived meanwhile: in one transaction that owns the write lock (SQLite `BEGIN IMMEDIATE`;
PostgreSQL `SELECT … FOR UPDATE` on each scope's row for the period, rows locked in key order so
two gateways never deadlock) it checks every cap, adds each admitted call's worst case to
`reserved_usd` and records a reservation row. `settle` runs in the log writer's thread for a
batch of finished calls: the real cost goes to `spent_usd`, the reservation leaves
`reserved_usd`. A process that dies with calls in flight leaves reservation rows that `sweep`
releases as soon as its lease is known dead (`_lease`), or once they are older than any call can
last. Money is Decimal in Python; rows are read,
computed and written back under the lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, delete, insert, select, update

from gateway.errors import PaymentRequired
from plugins.metering._caps import (
    CapRule,
    Period,
    carry_in,
    effective_cap,
    period_of,
    previous_period,
    refusal_message,
)
from plugins.metering._db import begin_write, insert_ignore
from plugins.metering._models import LedgerRow, Reservation

# The longest a capped call waits for the ledger's write lock (another process holding SQLite's
# lock, a long PostgreSQL row lock) before it is refused with 503 instead of hanging.
LOCK_WAIT_SECONDS = 5.0
LEDGER = LedgerRow.__table__
RESERVATIONS = Reservation.__table__
ZERO = Decimal(0)
_Key = tuple[str, int, datetime]  # a ledger row: scope, scope id, period start

# Built once: constructing a statement costs more than running it on SQLite, and a reused
# statement object also keeps its compiled-cache key.
_ROW = select(LEDGER).where(LEDGER.c.scope == bindparam("scope"),
                            LEDGER.c.scope_id == bindparam("scope_id"),
                            LEDGER.c.period_start == bindparam("start"))
_ROW_LOCKED = _ROW.with_for_update()
_HOLD = update(LEDGER).where(LEDGER.c.id == bindparam("row_id")).values(
    reserved_usd=bindparam("reserved"), updated_at=bindparam("now"))
_BOOK = update(LEDGER).where(LEDGER.c.id == bindparam("row_id")).values(
    spent_usd=bindparam("spent"), reserved_usd=bindparam("reserved"),
    requests=bindparam("calls"), updated_at=bindparam("now"))
_RESERVE = insert(RESERVATIONS)


@dataclass(frozen=True)
class Hold:
    """What one call holds: its reservation row and the ledger rows it holds money on."""

    reservation_id: str
    ledger_ids: tuple[int, ...]
    amount: Decimal


@dataclass(frozen=True)
class Settlement:
    hold: Hold
    cost: Decimal  # what the call really cost (0 when it failed before any token)


@dataclass(frozen=True)
class Ask:
    """One call's request to hold `amount` under every rule."""

    rules: tuple[CapRule, ...]
    amount: Decimal
    request_id: str
    now: datetime
    week_start: int = 0
    lease_id: str | None = None  # the process holding it (its holds end with it)


def reserve(engine: Engine, rules: list[CapRule], amount: Decimal, request_id: str,
            now: datetime, week_start: int) -> Hold:
    """Hold `amount` on every rule's ledger row, or raise PaymentRequired naming the first cap
    it would break (and when that cap resets)."""
    result = reserve_many(engine, [Ask(tuple(rules), amount, request_id, now, week_start)])[0]
    if isinstance(result, PaymentRequired):
        raise result
    return result


def reserve_many(engine: Engine, asks: list[Ask]) -> list[Hold | PaymentRequired]:
    """Decide a batch of asks in one transaction (one lock, one commit), in order, each seeing
    what the ones before it held: the same outcome as one transaction per ask."""
    wanted: dict[_Key, tuple[CapRule, Period, Ask]] = {}
    for ask in asks:
        for rule in ask.rules:
            period = period_of(rule.period_kind, ask.now, ask.week_start)
            wanted.setdefault((rule.scope, rule.scope_id, period.start), (rule, period, ask))
    with engine.connect() as conn:
        begin_write(conn, wait=LOCK_WAIT_SECONDS)
        try:
            rows: dict[_Key, Row[Any]] = {}
            for key in sorted(wanted):  # one lock order for every process: no deadlocks
                rule, period, ask = wanted[key]
                rows[key] = _locked_row(conn, rule, period, ask.now, ask.week_start)
            held = {key: row.reserved_usd for key, row in rows.items()}
            results: list[Hold | PaymentRequired] = []
            reservations: list[dict[str, Any]] = []
            for ask in asks:
                results.append(_decide(ask, rows, held, reservations))
            for key, amount in held.items():
                if amount != rows[key].reserved_usd:
                    conn.execute(_HOLD, {"row_id": rows[key].id, "reserved": amount,
                                         "now": asks[-1].now})
            if reservations:
                conn.execute(_RESERVE, reservations)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return results


def _decide(ask: Ask, rows: dict[_Key, Row[Any]], held: dict[_Key, Decimal],
            reservations: list[dict[str, Any]]) -> Hold | PaymentRequired:
    keyed: list[_Key] = []
    for rule in sorted(ask.rules, key=lambda r: (r.scope, r.scope_id)):
        period = period_of(rule.period_kind, ask.now, ask.week_start)
        key = (rule.scope, rule.scope_id, period.start)
        row, cap = rows[key], effective_cap(rule, rows[key].carry_usd)
        if row.spent_usd + held[key] + ask.amount > cap:
            return PaymentRequired(
                refusal_message(rule, cap, row.spent_usd, held[key], ask.amount, period),
                headers={"x-gateway-cap-reset": period.end.isoformat()})
        keyed.append(key)
    for key in keyed:
        held[key] += ask.amount
    ids = tuple(rows[key].id for key in keyed)
    hold = Hold(uuid.uuid4().hex, ids, ask.amount)
    reservations.append({"key": hold.reservation_id, "request_id": ask.request_id,
                         "ledger_ids": ",".join(map(str, ids)), "amount_usd": ask.amount,
                         "created_at": ask.now, "lease_id": ask.lease_id})
    return hold


def _locked_row(conn: Connection, rule: CapRule, period: Period, now: datetime,
                week_start: int) -> Row[Any]:
    row = _select_row(conn, rule, period)
    if row is None:
        carry = carry_for(conn, rule, period, week_start)
        insert_ignore(conn, LEDGER, dict(
            scope=rule.scope, scope_id=rule.scope_id, period_start=period.start,
            period_end=period.end, carry_usd=carry, spent_usd=ZERO, reserved_usd=ZERO, requests=0,
            updated_at=now), ("scope", "scope_id", "period_start"))
        row = _select_row(conn, rule, period)
        assert row is not None, f"ledger row {rule.scope} {rule.scope_id} vanished after insert"
    return row


def _select_row(conn: Connection, rule: CapRule, period: Period) -> Row[Any] | None:
    query = _ROW_LOCKED if conn.dialect.name == "postgresql" else _ROW
    return conn.execute(query, {"scope": rule.scope, "scope_id": rule.scope_id,
                                "start": period.start}).first()


def carry_for(conn: Connection, rule: CapRule, period: Period, week_start: int) -> Decimal:
    """Computed once, when the period's row is born; used only while rollover is on."""
    before = previous_period(rule.period_kind, period, week_start)
    prev = conn.execute(select(LEDGER.c.carry_usd, LEDGER.c.spent_usd).where(
        LEDGER.c.scope == rule.scope, LEDGER.c.scope_id == rule.scope_id,
        LEDGER.c.period_start == before.start)).first()
    return carry_in(rule.cap, prev.carry_usd if prev else None, prev.spent_usd if prev else None,
                    rule.created_at, period)


def settle(engine: Engine, settlements: list[Settlement], now: datetime) -> None:
    """Book a batch of finished calls in one transaction, each exactly once: a reservation still
    held gives its money back and books the cost; one a dead process left (released, kept as a
    tombstone) books only the cost; one already settled (gone) is skipped — so replaying a spool
    after a crash never books a call twice."""
    if not settlements:
        return
    with engine.connect() as conn:
        begin_write(conn)
        try:
            ids = [s.hold.reservation_id for s in settlements]
            known = dict(conn.execute(select(RESERVATIONS.c.key, RESERVATIONS.c.released_at)
                                      .where(RESERVATIONS.c.key.in_(ids))).all())
            deltas: dict[int, list[Decimal | int]] = {}
            for s in settlements:
                key = s.hold.reservation_id
                if key not in known:
                    continue  # settled before (a replay), nothing to do
                held = ZERO if known.pop(key) is not None else s.hold.amount
                for lid in s.hold.ledger_ids:
                    d = deltas.setdefault(lid, [ZERO, ZERO, 0])
                    d[0] += s.cost
                    d[1] += held
                    d[2] += 1
            if deltas:
                _apply(conn, deltas, now)
            conn.execute(delete(RESERVATIONS).where(RESERVATIONS.c.key.in_(ids)))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def _apply(conn: Connection, deltas: dict[int, list[Decimal | int]], now: datetime) -> None:
    query = select(LEDGER.c.id, LEDGER.c.spent_usd, LEDGER.c.reserved_usd, LEDGER.c.requests) \
        .where(LEDGER.c.id.in_(sorted(deltas))).order_by(LEDGER.c.id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    for row in conn.execute(query).all():
        spent, released, calls = deltas[row.id]
        conn.execute(_BOOK, {"row_id": row.id, "spent": row.spent_usd + spent,
                             "reserved": max(ZERO, row.reserved_usd - released),
                             "calls": row.requests + calls, "now": now})


def sweep(engine: Engine, older_than: datetime, now: datetime,
          dead_leases: tuple[str, ...] = ()) -> int:
    """Release the money of reservations a dead process left: those of `dead_leases`, and any
    older than a call can last. They stay as tombstones (`released_at`) until settled or purged.
    Returns how many were released."""
    stale_if = RESERVATIONS.c.created_at < older_than
    if dead_leases:
        stale_if = stale_if | RESERVATIONS.c.lease_id.in_(dead_leases)
    unreleased = RESERVATIONS.c.released_at.is_(None)
    with engine.connect() as conn:  # most sweeps find nothing: no write lock for that
        if conn.execute(select(RESERVATIONS.c.key).where(unreleased, stale_if).limit(1)).first() \
                is None:
            return 0
    with engine.connect() as conn:
        begin_write(conn)
        try:
            stale = conn.execute(select(RESERVATIONS).where(unreleased, stale_if)).all()
            deltas: dict[int, list[Decimal | int]] = {}
            for r in stale:
                for lid in (int(x) for x in r.ledger_ids.split(",") if x):
                    deltas.setdefault(lid, [ZERO, ZERO, 0])[1] += r.amount_usd
            if stale:
                _apply(conn, deltas, now)
                conn.execute(update(RESERVATIONS)
                             .where(RESERVATIONS.c.key.in_([r.key for r in stale]))
                             .values(released_at=now))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return len(stale)


def purge_tombstones(engine: Engine, older_than: datetime) -> None:
    """Forget released reservations nobody settled for a long time (their spool is gone)."""
    with engine.begin() as conn:
        conn.execute(delete(RESERVATIONS).where(RESERVATIONS.c.released_at < older_than))


def current_row(conn: Connection, scope: str, scope_id: int, period: Period) -> Row[Any] | None:
    return conn.execute(select(LEDGER).where(
        LEDGER.c.scope == scope, LEDGER.c.scope_id == scope_id,
        LEDGER.c.period_start == period.start)).first()
