"""The tables shared by the gateway and the admin site.

Money is `Numeric` (Decimal in Python), timestamps are aware UTC datetimes. `RequestLog` carries
ids without foreign keys on purpose: logs must survive the deletion of the key, user or app.
`Revision` is a one-row change counter: every admin write that affects keys, users, apps or
settings bumps it (`gateway.db.engine.bump_revision`) and every gateway process polls it to drop
its caches.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    event,
    false,
    inspect,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, validates

from gateway.db.base import Base, JsonText, UtcDateTime, utcnow

ROLES = ("super_admin", "org_admin", "member")
USER_STATUSES = ("active", "suspended")

# SQLite only auto-increments an INTEGER PRIMARY KEY; request logs want 64 bits elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _created_at() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), default=utcnow, nullable=False)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    spend_cap_usd: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    rollover: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    dlp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # users.org_id points back here; use_alter creates this key after both tables exist.
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True)
    )
    created_at: Mapped[datetime] = _created_at()

    users: Mapped[list[User]] = relationship(
        back_populates="org", foreign_keys="User.org_id", passive_deletes=True
    )
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_user_id], post_update=True)
    apps: Mapped[list[App]] = relationship(back_populates="org")

    def __repr__(self) -> str:
        return f"<Organization {self.slug!r}>"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('super_admin', 'org_admin', 'member')", name="role"),
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    role: Mapped[str] = mapped_column(String(20), default="member", server_default="member")
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    weekly_cap_usd: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Admin sessions remember it; moved on by sign-out, password, status and role changes
    # (see `_end_sessions_on_change`), which ends every session of the user.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = _created_at()

    org: Mapped[Organization | None] = relationship(back_populates="users", foreign_keys=[org_id])
    keys: Mapped[list[ApiKey]] = relationship(back_populates="user", passive_deletes=True)

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    def __repr__(self) -> str:
        return f"<User {self.email!r}>"


class App(Base):
    __tablename__ = "apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    contact_email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    dlp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = _created_at()

    org: Mapped[Organization] = relationship(back_populates="apps")
    keys: Mapped[list[ApiKey]] = relationship(back_populates="app", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<App {self.slug!r}>"


class ApiKey(Base):
    """A gateway key. Only the visible prefix and the sha256 of the whole key are stored."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            "(user_id IS NULL AND app_id IS NOT NULL) OR (user_id IS NOT NULL AND app_id IS NULL)",
            name="one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="default")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    app_id: Mapped[int | None] = mapped_column(
        ForeignKey("apps.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = _created_at()
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    user: Mapped[User | None] = relationship(back_populates="keys")
    app: Mapped[App | None] = relationship(back_populates="keys")

    def __repr__(self) -> str:
        return f"<ApiKey {self.prefix!r}>"


class RequestLog(Base):
    __tablename__ = "request_logs"
    __table_args__ = (
        Index("ix_request_logs_user_id_created_at", "user_id", "created_at"),
        # an org admin's log page filters on the org and pages by time
        Index("ix_request_logs_org_id_created_at", "org_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    key_prefix: Mapped[str | None] = mapped_column(String(20))
    key_name: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(Integer)
    app_id: Mapped[int | None] = mapped_column(Integer, index=True)
    org_id: Mapped[int | None] = mapped_column(Integer, index=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    requested_model: Mapped[str | None] = mapped_column(String(200))
    actual_model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(100))
    agent_id: Mapped[str | None] = mapped_column(String(100))
    cost_mode: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(64))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    usage_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    # served by a model with no price: its cost is unknown (shown as such), not $0
    unpriced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # came through the HTTPS_PROXY interception listener (not the reverse proxy's base URL)
    intercepted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # what the provider answered (`status` is what the client got: a 529 becomes a 503)
    provider_status: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8), default=Decimal(0))
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    ttfb_ms: Mapped[int | None] = mapped_column(Integer)
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_attempts: Mapped[int] = mapped_column(Integer, default=0)


class Setting(Base):
    """A gateway-wide setting (routing strategy, Ollama URL, toggles); `value` is any JSON value."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JsonText())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Revision(Base):
    """The single-row change counter (`id` is always 1)."""

    __tablename__ = "gateway_revision"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


_SESSION_FIELDS = ("password_hash", "status", "role")


@event.listens_for(Session, "before_flush")
def _end_sessions_on_change(session: Session, _context: Any, _instances: Any) -> None:
    """A new password, a suspension or a role change ends every admin session of the user, by
    whichever path it is made (admin site, CLI, a plugin)."""
    for obj in session.dirty:
        if isinstance(obj, User):
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in _SESSION_FIELDS):
                obj.session_epoch = (obj.session_epoch or 0) + 1
