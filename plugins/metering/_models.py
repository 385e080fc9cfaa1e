"""The metering plugin's own tables (migration 0400).

No foreign keys to users, apps or organizations, like `request_logs`: money and history must
outlive a deleted key, user or app. Scope ids of 0 in the rollups mean "none" (a NULL would break
the unique key that the upserts rely on: NULLs never conflict).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base, UtcDateTime, utcnow
from gateway.db.models import BigId

Money = Numeric(18, 8)


class LedgerRow(Base):
    """Spend of one scope (user, org or app) in one period: what was settled and what calls in
    flight hold. Reservations lock this row (BEGIN IMMEDIATE / SELECT … FOR UPDATE)."""

    __tablename__ = "metering_ledger"
    __table_args__ = (UniqueConstraint("scope", "scope_id", "period_start",
                                       name="uq_metering_ledger_scope_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[datetime] = mapped_column(UtcDateTime())
    period_end: Mapped[datetime] = mapped_column(UtcDateTime())
    carry_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    spent_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    reserved_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Reservation(Base):
    """Money held by one call in flight. Settling deletes it; a dead process's reservations are
    released (their money freed) and kept as tombstones with `released_at`, so a settlement that
    arrives later (replayed from the dead process's spool) still books the cost, exactly once."""

    __tablename__ = "metering_reservations"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # chosen by the gateway
    request_id: Mapped[str] = mapped_column(String(64))
    ledger_ids: Mapped[str] = mapped_column(String(100))  # "12,40": the rows it holds money on
    amount_usd: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    lease_id: Mapped[str | None] = mapped_column(String(32), index=True)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Lease(Base):
    """A live proxy process: it renews `heartbeat_at` every few seconds; its holds are released
    once it is gone (dead pid on this host, or a heartbeat older than the lease's lifetime)."""

    __tablename__ = "metering_leases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class ScopeSettings(Base):
    """Per organization or app: optional app cap, response cache TTL, stored conversations."""

    __tablename__ = "metering_settings"
    __table_args__ = (UniqueConstraint("scope", "scope_id", name="uq_metering_settings_scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))  # "org" | "app"
    scope_id: Mapped[int] = mapped_column(Integer)
    cap_usd: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))  # apps only
    cache_ttl_seconds: Mapped[int | None] = mapped_column(Integer)  # None: cache off
    store_bodies: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class StoredBodies(Base):
    """The conversation of one call (request after DLP redaction, answer text), kept for the
    activity export until `expires_at`."""

    __tablename__ = "metering_bodies"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    request_body: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)


class CacheEntry(Base):
    """A provider's raw 2xx answer; the key already binds tenant, model, body and DLP scope."""

    __tablename__ = "metering_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int | None] = mapped_column(Integer)
    app_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)


class ErrorReport(Base):
    __tablename__ = "metering_error_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(32))  # "gateway" or what the client said
    type: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    agent: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    app_id: Mapped[int | None] = mapped_column(Integer)
    org_id: Mapped[int | None] = mapped_column(Integer)
    key_prefix: Mapped[str | None] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(64))


class Rollup(Base):
    """Aggregates per minute, hour and day by user, org, app, requested and actual model and
    provider; the dashboard reads these, never the raw logs."""

    __tablename__ = "metering_rollups"
    __table_args__ = (
        UniqueConstraint("grain", "bucket", "user_id", "org_id", "app_id", "requested_model",
                         "model", "provider", name="uq_metering_rollups_group"),  # also the range index
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    grain: Mapped[str] = mapped_column(String(6))  # minute | hour | day
    bucket: Mapped[datetime] = mapped_column(UtcDateTime())
    user_id: Mapped[int] = mapped_column(Integer, default=0)
    org_id: Mapped[int] = mapped_column(Integer, default=0)
    app_id: Mapped[int] = mapped_column(Integer, default=0)
    requested_model: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    provider: Mapped[str] = mapped_column(String(100), default="")
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_hits: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    latency_ms_sum: Mapped[int] = mapped_column(BigInteger, default=0)
