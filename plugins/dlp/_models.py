"""The DLP plugin's tables (migration 0300_dlp). Raw sensitive values are never stored: events
keep a keyed hash (HMAC-SHA256) of each value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base, JsonText, UtcDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
SCOPE_KINDS = ("global", "org", "app")
EVENT_KINDS = ("redaction", "bypass", "bypass_denied")


class DlpRuleSetting(Base):
    """A rule switched on or off for a scope: gateway-wide (`global`, scope_id 0), an
    organization or an app. Rules without a row keep their built-in default."""

    __tablename__ = "dlp_rule_settings"
    __table_args__ = (
        UniqueConstraint("scope_kind", "scope_id", "rule", name="uq_dlp_rule_settings_scope_rule"),
        CheckConstraint("scope_kind IN ('global', 'org', 'app')", name="scope_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_kind: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[int] = mapped_column(Integer, default=0)
    rule: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class DlpBypassGrant(Base):
    """Keys of this user or app may send `X-DLP-Bypass: 1` (every use is audited)."""

    __tablename__ = "dlp_bypass_grants"
    __table_args__ = (
        CheckConstraint(
            "(user_id IS NULL AND app_id IS NOT NULL) OR (user_id IS NOT NULL AND app_id IS NULL)",
            name="one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    app_id: Mapped[int | None] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DlpEvent(Base):
    """One rule's matches in one call (kind `redaction`), or one use (or refused use) of the
    bypass header. No foreign keys: the audit trail outlives the org, app or key."""

    __tablename__ = "dlp_events"
    __table_args__ = (Index("ix_dlp_events_scope", "scope_kind", "scope_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    scope_kind: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[int] = mapped_column(Integer)
    scope_slug: Mapped[str] = mapped_column(String(63))
    org_id: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str | None] = mapped_column(String(64))
    match_count: Mapped[int] = mapped_column(Integer, default=0)
    request_size: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    key_prefix: Mapped[str | None] = mapped_column(String(20))
    value_hashes: Mapped[Any] = mapped_column(JsonText(), default=list)
